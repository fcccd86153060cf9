package awsapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	smithycbor "github.com/aws/smithy-go/encoding/cbor"
	"github.com/iotdm/iotdm"
)

// CloudWatch (monitoring 2010-08-01) is one service spoken three ways; the
// model lists them all ("protocols": smithy-rpc-v2-cbor, json, query) and
// is awsQueryCompatible:
//
//   - Smithy RPC v2 CBOR, what the AWS SDK for Go v2 sends:
//     POST /service/GraniteServiceVersion20100801/operation/{Operation},
//     header smithy-protocol: rpc-v2-cbor, CBOR bodies; errors carry
//     __type (the error shape's id) and message.
//   - awsJson1_0, what botocore (the aws CLI) sends: POST / with
//     X-Amz-Target: GraniteServiceVersion20100801.{Operation}.
//   - the query protocol of older SDKs: a form of Action, Version and the
//     flattened members; XML answers.
//
// Because the service is query-compatible, JSON and CBOR errors also carry
// x-amzn-query-error: {code};{Sender|Receiver}, the code the query protocol
// would send (InvalidParameterValue), which clients report instead of the
// shape name (InvalidParameterValueException).
//
// One operation table serves the three protocols; the codecs carry each
// input and output struct by its json member names.

const (
	cwTargetPrefix = "GraniteServiceVersion20100801"
	cwVersion      = "2010-08-01"
	cwNamespace    = "http://monitoring.amazonaws.com/doc/2010-08-01/"
	cwShapePrefix  = "com.amazonaws.cloudwatch#"
	cwCBORPath     = "/service/" + cwTargetPrefix + "/operation/"
)

// CloudWatchOp is one operation of the CloudWatch endpoint: its name and
// the typed handler CloudWatchRoute wraps.
type CloudWatchOp struct {
	Name   string
	Input  reflect.Type
	Output reflect.Type

	call func(ctx context.Context, decode func(in any) error) (any, error)
}

// CloudWatchRoute makes the CloudWatchOp of one operation: fn receives the
// request decoded into a fresh *In, and its *Out is the response.
func CloudWatchRoute[In, Out any](name string, fn func(ctx context.Context, in *In) (*Out, error)) CloudWatchOp {
	return CloudWatchOp{
		Name:   name,
		Input:  reflect.TypeFor[In](),
		Output: reflect.TypeFor[Out](),
		call: func(ctx context.Context, decode func(in any) error) (any, error) {
			in := new(In)
			if err := decode(in); err != nil {
				return nil, err
			}
			out, err := fn(ctx, in)
			if err != nil || out == nil {
				return nil, err
			}
			return out, nil
		},
	}
}

// CloudWatch is the handler of the CloudWatch endpoint (signing name
// monitoring). As an ErrorWriter it writes the edge's refusals in the
// protocol of the request.
type CloudWatch struct {
	ops  map[string]*CloudWatchOp
	list []CloudWatchOp
}

// cwBareOps are the operations whose output the model does not declare:
// their query answers have no <{Operation}Result>.
var cwBareOps = map[string]bool{
	"PutMetricData": true, "PutMetricAlarm": true, "DeleteAlarms": true,
	"SetAlarmState": true, "EnableAlarmActions": true, "DisableAlarmActions": true,
}

// cwDashboardOps answer an unknown dashboard with DashboardNotFoundError,
// the other operations with ResourceNotFound (both code ResourceNotFound).
var cwDashboardOps = map[string]bool{
	"PutDashboard": true, "GetDashboard": true, "ListDashboards": true, "DeleteDashboards": true,
}

// NewCloudWatch returns the handler of the CloudWatch API over the metrics,
// alarm and dashboard services. When a also implements
// iotdm.AlarmOperations, its DescribeAlarmsForMetric, SetAlarmState,
// DescribeAlarmHistory, EnableAlarmActions and DisableAlarmActions are
// served too. extra adds operations (made with CloudWatchRoute) beyond
// these. It panics on an operation listed twice: tables are fixed at
// start-up.
func NewCloudWatch(m iotdm.CloudWatchMetrics, a iotdm.Alarms, d iotdm.Dashboards, extra ...CloudWatchOp) *CloudWatch {
	ops := []CloudWatchOp{
		CloudWatchRoute("PutMetricData", m.PutMetricData),
		CloudWatchRoute("GetMetricData", m.GetMetricData),
		CloudWatchRoute("GetMetricStatistics", m.GetMetricStatistics),
		CloudWatchRoute("ListMetrics", m.ListMetrics),
		CloudWatchRoute("PutMetricAlarm", a.PutMetricAlarm),
		CloudWatchRoute("DescribeAlarms", a.DescribeAlarms),
		CloudWatchRoute("DeleteAlarms", a.DeleteAlarms),
		CloudWatchRoute("PutDashboard", d.PutDashboard),
		CloudWatchRoute("GetDashboard", d.GetDashboard),
		CloudWatchRoute("ListDashboards", d.ListDashboards),
		CloudWatchRoute("DeleteDashboards", d.DeleteDashboards),
	}
	if ao, ok := a.(iotdm.AlarmOperations); ok {
		ops = append(ops,
			CloudWatchRoute("DescribeAlarmsForMetric", ao.DescribeAlarmsForMetric),
			CloudWatchRoute("SetAlarmState", ao.SetAlarmState),
			CloudWatchRoute("DescribeAlarmHistory", ao.DescribeAlarmHistory),
			CloudWatchRoute("EnableAlarmActions", ao.EnableAlarmActions),
			CloudWatchRoute("DisableAlarmActions", ao.DisableAlarmActions),
		)
	}
	ops = append(ops, extra...)
	c := &CloudWatch{ops: make(map[string]*CloudWatchOp, len(ops)), list: ops}
	for i := range c.list {
		op := &c.list[i]
		if op.call == nil {
			panic(fmt.Sprintf("awsapi: operation %s was not made with CloudWatchRoute", op.Name))
		}
		if c.ops[op.Name] != nil {
			panic(fmt.Sprintf("awsapi: operation %s listed twice", op.Name))
		}
		for _, t := range []reflect.Type{op.Input, op.Output} {
			if err := cwCodecCheck(t, map[reflect.Type]bool{}); err != nil {
				panic(fmt.Sprintf("awsapi: %s: %v", op.Name, err))
			}
		}
		c.ops[op.Name] = op
	}
	return c
}

// Ops returns the operation table.
func (c *CloudWatch) Ops() []CloudWatchOp { return slices.Clone(c.list) }

// cwProtocol is the wire protocol of a request.
type cwProtocol int

const (
	cwQuery cwProtocol = iota
	cwJSON
	cwCBOR
)

// cwProtocolOf tells the protocol by the request's shape: the RPC v2 path,
// an X-Amz-Target header, or else a query form.
func cwProtocolOf(r *http.Request) cwProtocol {
	switch {
	case strings.HasPrefix(r.URL.Path, "/service/"):
		return cwCBOR
	case r.Header.Get("X-Amz-Target") != "":
		return cwJSON
	}
	return cwQuery
}

// ServeHTTP finds the operation, decodes the input in the request's
// protocol, calls the service and answers in the same protocol.
func (c *CloudWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	proto := cwProtocolOf(r)
	var (
		name   string
		decode func(in any) error
		op     *CloudWatchOp
	)
	switch proto {
	case cwCBOR:
		name, _ = strings.CutPrefix(r.URL.Path, cwCBORPath)
		op = c.ops[name]
		if r.Method != http.MethodPost || op == nil || !strings.HasPrefix(r.URL.Path, cwCBORPath) {
			c.writeError(w, r, proto, iotdm.Errorf(iotdm.ErrUnknownOperation, "No operation matches %s %s.", r.Method, r.URL.Path), "")
			return
		}
		if p := r.Header.Get("Smithy-Protocol"); p != "rpc-v2-cbor" {
			c.writeError(w, r, proto, iotdm.Errorf(iotdm.ErrSerialization, "The smithy-protocol header must be rpc-v2-cbor, not %q.", p), op.Name)
			return
		}
		decode = func(in any) error { return c.decodeBody(r, in, cwDecodeCBOR) }
	case cwJSON:
		target := r.Header.Get("X-Amz-Target")
		name, _ = strings.CutPrefix(target, cwTargetPrefix+".")
		op = c.ops[name]
		if r.Method != http.MethodPost || op == nil || !strings.HasPrefix(target, cwTargetPrefix+".") {
			c.writeError(w, r, proto, iotdm.Errorf(iotdm.ErrUnknownOperation, "No operation matches %s %s with target %q.", r.Method, r.URL.Path, target), "")
			return
		}
		decode = func(in any) error { return c.decodeBody(r, in, cwDecodeJSON) }
	default:
		f, err := cwReadForm(r)
		if err != nil {
			c.writeError(w, r, proto, err, "")
			return
		}
		name = f.get("Action")
		if name == "" {
			c.writeError(w, r, proto, iotdm.Errorf(cfnMissingAction, "The request must contain the parameter Action."), "")
			return
		}
		version, hasVersion := f.lookup("Version")
		op = c.ops[name]
		if op == nil || hasVersion && version != cwVersion {
			if !hasVersion {
				version = cwVersion
			}
			// AWS: an unknown Action (or Version) is InvalidAction, 400.
			c.writeError(w, r, proto, iotdm.Errorf(cfnInvalidAction, "Could not find operation %s for version %s", name, version), "")
			return
		}
		decode = func(in any) error { return cwDecodeQuery(f, reflect.ValueOf(in).Elem(), "") }
	}
	setOperation(r.Context(), op.Name)
	out, err := op.call(r.Context(), decode)
	if err != nil {
		c.writeError(w, r, proto, err, op.Name)
		return
	}
	c.writeResult(w, r, proto, op, out)
}

// cwBody returns the request body, decompressed when Content-Encoding says
// gzip: the SDKs compress PutMetricData (the model's requestCompression
// trait).
func cwBody(r *http.Request) ([]byte, error) {
	body, read := bodyFrom(r.Context())
	if !read && r.Body != nil {
		b, err := readBody(r.Body, r.ContentLength, DefaultMaxBody)
		if err != nil {
			return nil, err
		}
		body = b
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, iotdm.Errorf(iotdm.ErrSerialization, "The request body is not gzip: %v", err)
		}
		b, err := readBody(zr, 0, DefaultMaxBody)
		if err != nil {
			if iotdm.IsCode(err, iotdm.ErrRequestEntityTooLarge) {
				return nil, err
			}
			return nil, iotdm.Errorf(iotdm.ErrSerialization, "The request body is not gzip: %v", err)
		}
		return b, nil
	}
	return nil, iotdm.Errorf(iotdm.ErrSerialization, "Content-Encoding %s is not supported.", enc)
}

// cwReadForm returns the query request's parameters: the query string and,
// for a form-encoded body, the body's (which win).
func cwReadForm(r *http.Request) (*cfnForm, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, iotdm.Errorf(cfnMalformedQueryString, "The query string contains a syntax error.")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method == http.MethodPost && (ct == "application/x-www-form-urlencoded" || ct == "") {
		body, err := cwBody(r)
		if err != nil {
			return nil, err
		}
		bv, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, iotdm.Errorf(cfnMalformedQueryString, "The request body contains a syntax error.")
		}
		for k, v := range bv {
			vals[k] = v
		}
	}
	return newCFNForm(vals), nil
}

// decodeBody decodes the request body (empty: no members) into in.
func (c *CloudWatch) decodeBody(r *http.Request, in any, parse func([]byte) (any, error)) error {
	body, err := cwBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	tree, err := parse(body)
	if err != nil {
		return err
	}
	return cwDecodeValue(reflect.ValueOf(in).Elem(), tree, "")
}

// writeResult writes a successful answer.
func (c *CloudWatch) writeResult(w http.ResponseWriter, r *http.Request, proto cwProtocol, op *CloudWatchOp, out any) {
	var v reflect.Value
	if out != nil {
		v = reflect.ValueOf(out).Elem()
	}
	h := w.Header()
	var body []byte
	switch proto {
	case cwCBOR:
		m := smithycbor.Map{}
		if v.IsValid() {
			if enc, ok := cwEncodeCBOR(v, false); ok {
				m = enc.(smithycbor.Map)
			}
		}
		body = smithycbor.Encode(m)
		h.Set("Content-Type", "application/cbor")
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
	case cwJSON:
		body = emptyObject
		if out != nil {
			b, err := json.Marshal(out)
			if err != nil {
				c.writeError(w, r, proto, fmt.Errorf("encode %s output: %w", op.Name, err), op.Name)
				return
			}
			body = b
		}
		h.Set("Content-Type", "application/x-amz-json-1.0")
	default:
		var b bytes.Buffer
		b.WriteString(`<` + op.Name + `Response xmlns="` + cwNamespace + `">`)
		if !cwBareOps[op.Name] {
			b.WriteString(`<` + op.Name + `Result>`)
			if v.IsValid() {
				cwWriteXMLFields(&b, v)
			}
			b.WriteString(`</` + op.Name + `Result>`)
		}
		b.WriteString(`<ResponseMetadata><RequestId>`)
		cfnEscape(&b, cfnRequestID(r.Context()))
		b.WriteString(`</RequestId></ResponseMetadata></` + op.Name + `Response>`)
		body = b.Bytes()
		h.Set("Content-Type", "text/xml")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// --- errors ---

// cwErrorShape is an exception of the monitoring model: the shape (what
// __type names) and the status of a wire code.
type cwErrorShape struct {
	shape  string
	status int
}

// cwErrorsByCode is the monitoring model's exceptions by code (the code of
// each error trait, which the rest of iotdm uses), with the status the
// model gives them. ValidationError, which no shape declares, is CloudWatch's
// answer for a member that breaks a model constraint.
var cwErrorsByCode = map[iotdm.ErrorCode]cwErrorShape{
	iotdm.ErrInvalidParameterValue:       {"InvalidParameterValueException", http.StatusBadRequest},
	iotdm.ErrInvalidParameterCombination: {"InvalidParameterCombinationException", http.StatusBadRequest},
	iotdm.ErrMissingParameter:            {"MissingRequiredParameterException", http.StatusBadRequest},
	iotdm.ErrCloudWatchNotFound:          {"ResourceNotFound", http.StatusNotFound},
	iotdm.ErrResourceNotFound:            {"ResourceNotFoundException", http.StatusNotFound},
	iotdm.ErrCloudWatchLimitExceeded:     {"LimitExceededFault", http.StatusBadRequest},
	iotdm.ErrLimitExceeded:               {"LimitExceededException", http.StatusBadRequest},
	iotdm.ErrInvalidNextToken:            {"InvalidNextToken", http.StatusBadRequest},
	iotdm.ErrInvalidParameterInput:       {"DashboardInvalidInputError", http.StatusBadRequest},
	iotdm.ErrConflict:                    {"ConflictException", http.StatusConflict},
	"InvalidFormat":                      {"InvalidFormatFault", http.StatusBadRequest},
	"InternalServiceError":               {"InternalServiceFault", http.StatusInternalServerError},
	"ConcurrentModificationException":    {"ConcurrentModificationException", http.StatusTooManyRequests},
	iotdm.ErrValidationError:             {"ValidationError", http.StatusBadRequest},
}

// cwInternalError is what a client sees for a failure that is not an
// *iotdm.Error: the model's InternalServiceFault.
const cwInternalError iotdm.ErrorCode = "InternalServiceError"

// cwQueryCodeOf renames the edge's codes to those of the query protocol,
// which the query-compatible header carries too.
var cwQueryCodeOf = map[iotdm.ErrorCode]iotdm.ErrorCode{
	iotdm.ErrInvalidSignature:    iotdm.ErrSignatureDoesNotMatch,
	iotdm.ErrUnrecognizedClient:  cfnInvalidClientTokenID,
	iotdm.ErrIncompleteSignature: cfnIncompleteSignature,
	iotdm.ErrMissingAuthToken:    cfnMissingAuthentication,
	iotdm.ErrAccessDenied:        cfnAccessDenied,
	iotdm.ErrThrottling:          cfnThrottling,
	iotdm.ErrServiceUnavailable:  cfnServiceUnavailable,
	iotdm.ErrInternalFailure:     cwInternalError,
}

// WriteError writes err in the protocol of r. The Server uses it for the
// refusals it sends on this service's behalf.
func (c *CloudWatch) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	c.writeError(w, r, cwProtocolOf(r), err, "")
}

// writeError writes err as the protocol's error. An err that carries no
// *iotdm.Error is logged and sent as InternalServiceError with a fixed
// message.
func (c *CloudWatch) writeError(w http.ResponseWriter, r *http.Request, proto cwProtocol, err error, op string) {
	var e *iotdm.Error
	if !errors.As(err, &e) || e.Code == "" {
		logInternal(r, err, op)
		e = &iotdm.Error{Code: cwInternalError, Message: internalMessage}
	}
	code := e.Code
	if renamed, ok := cwQueryCodeOf[code]; ok {
		code = renamed
	}
	shape, status := string(code), 0
	if s, ok := cwErrorsByCode[code]; ok {
		shape, status = s.shape, s.status
		if code == iotdm.ErrCloudWatchNotFound && cwDashboardOps[op] {
			shape = "DashboardNotFoundError"
		}
	} else if s, ok := cfnStatusByCode[code]; ok {
		status = s
	} else {
		status = StatusOf(e.Code)
	}
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	h := w.Header()
	var body []byte
	switch proto {
	case cwCBOR, cwJSON:
		h.Set("X-Amzn-Query-Error", string(code)+";"+fault)
		h.Set("X-Amzn-ErrorType", shape)
		if proto == cwCBOR {
			body = smithycbor.Encode(smithycbor.Map{
				"__type":  smithycbor.String(cwShapePrefix + shape),
				"message": smithycbor.String(e.Message),
			})
			h.Set("Content-Type", "application/cbor")
			h.Set("Smithy-Protocol", "rpc-v2-cbor")
		} else {
			body, _ = json.Marshal(struct { // strings only: cannot fail
				Type    string `json:"__type"`
				Message string `json:"message"`
			}{cwShapePrefix + shape, e.Message})
			h.Set("Content-Type", "application/x-amz-json-1.0")
		}
	default:
		var b bytes.Buffer
		b.WriteString(`<ErrorResponse xmlns="` + cwNamespace + `"><Error><Type>` + fault + `</Type><Code>`)
		cfnEscape(&b, string(code))
		b.WriteString(`</Code><Message>`)
		cfnEscape(&b, e.Message)
		b.WriteString(`</Message></Error><RequestId>`)
		cfnEscape(&b, cfnRequestID(r.Context()))
		b.WriteString(`</RequestId></ErrorResponse>`)
		body = b.Bytes()
		h.Set("Content-Type", "text/xml")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// --- the codec: structs by json member names ---

// cwField is one member of a struct: its wire name and where it is.
type cwField struct {
	name      string
	index     []int
	omitEmpty bool
}

var cwFieldCache sync.Map // reflect.Type → []cwField

// cwFields returns the members of struct type t: exported fields named by
// their json tag (or field name), untagged embedded structs flattened.
func cwFields(t reflect.Type) []cwField {
	if f, ok := cwFieldCache.Load(t); ok {
		return f.([]cwField)
	}
	var out []cwField
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if sf.Anonymous && tag == "" && sf.Type.Kind() == reflect.Struct && !cwIsTime(sf.Type) {
			for _, inner := range cwFields(sf.Type) {
				inner.index = append([]int{i}, inner.index...)
				out = append(out, inner)
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, cwField{name: name, index: []int{i}, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
	}
	cwFieldCache.Store(t, out)
	return out
}

var (
	cwTimestampType = reflect.TypeFor[iotdm.Timestamp]()
	cwTimeType      = reflect.TypeFor[time.Time]()
)

func cwIsTime(t reflect.Type) bool { return t == cwTimestampType || t == cwTimeType }

// cwCodecCheck reports a type below t that the codecs cannot carry.
func cwCodecCheck(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Float32, reflect.Float64:
		return nil
	case reflect.Pointer, reflect.Slice:
		return cwCodecCheck(t.Elem(), seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("map key of %v is not a string", t)
		}
		return cwCodecCheck(t.Elem(), seen)
	case reflect.Struct:
		if cwIsTime(t) {
			return nil
		}
		for _, f := range cwFields(t) {
			if err := cwCodecCheck(t.FieldByIndex(f.index).Type, seen); err != nil {
				return fmt.Errorf("%v.%s: %w", t, f.name, err)
			}
		}
		return nil
	}
	return fmt.Errorf("cannot carry %v", t)
}

// cwSerialization is the SerializationException of a value that does not
// fit its member.
func cwSerialization(path, format string, args ...any) error {
	where := path
	if where == "" {
		where = "the request body"
	}
	return iotdm.Errorf(iotdm.ErrSerialization, "Could not read %s: %s", where, fmt.Sprintf(format, args...))
}

func cwJoin(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// cwDecodeJSON parses a JSON body into a tree of map[string]any, []any,
// string, json.Number, bool and nil.
func cwDecodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, serializationError(err)
	}
	if dec.More() {
		return nil, iotdm.Errorf(iotdm.ErrSerialization, "Could not parse request body into json: more than one value.")
	}
	return tree, nil
}

// cwDecodeCBOR parses a CBOR body into the same tree as cwDecodeJSON, with
// int64/uint64/float64 numbers, []byte blobs and time.Time timestamps (tag
// 1) besides.
func cwDecodeCBOR(body []byte) (any, error) {
	v, err := smithycbor.Decode(body)
	if err != nil {
		return nil, iotdm.Errorf(iotdm.ErrSerialization, "Could not parse request body as CBOR: %v", err)
	}
	return cwFromCBOR(v, 0)
}

const cwMaxDepth = 64

func cwFromCBOR(v smithycbor.Value, depth int) (any, error) {
	if depth > cwMaxDepth {
		return nil, iotdm.Errorf(iotdm.ErrSerialization, "The request body is nested too deeply.")
	}
	switch v := v.(type) {
	case smithycbor.Uint:
		return uint64(v), nil
	case smithycbor.NegInt:
		if v == 0 || uint64(v) > math.MaxInt64 {
			return nil, iotdm.Errorf(iotdm.ErrSerialization, "A negative integer is out of range.")
		}
		return -int64(v), nil
	case smithycbor.Float32:
		return float64(v), nil
	case smithycbor.Float64:
		return float64(v), nil
	case smithycbor.String:
		return string(v), nil
	case smithycbor.Slice:
		return []byte(v), nil
	case smithycbor.Bool:
		return bool(v), nil
	case *smithycbor.Nil, *smithycbor.Undefined:
		return nil, nil
	case smithycbor.List:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := cwFromCBOR(x, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case smithycbor.Map:
		out := make(map[string]any, len(v))
		for k, x := range v {
			y, err := cwFromCBOR(x, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case *smithycbor.Tag:
		if v.ID != 1 {
			return nil, iotdm.Errorf(iotdm.ErrSerialization, "CBOR tag %d is not supported.", v.ID)
		}
		secs, err := cwFromCBOR(v.Value, depth+1)
		if err != nil {
			return nil, err
		}
		f, ok := cwNumber(secs)
		if !ok {
			return nil, iotdm.Errorf(iotdm.ErrSerialization, "A timestamp (tag 1) must hold a number.")
		}
		return cwEpoch(f), nil
	}
	return nil, iotdm.Errorf(iotdm.ErrSerialization, "Unsupported CBOR value.")
}

// cwEpoch is epoch seconds (with a fraction) as a time, to the millisecond.
func cwEpoch(secs float64) time.Time {
	return time.UnixMilli(int64(math.Round(secs * 1000))).UTC()
}

// cwNumber returns a tree number as a float64.
func cwNumber(x any) (float64, bool) {
	switch n := x.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	}
	return 0, false
}

// cwDecodeValue sets v from a decoded tree; path names the member for
// errors.
func cwDecodeValue(v reflect.Value, x any, path string) error {
	if x == nil {
		return nil // absent or null: left zero
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := cwDecodeValue(p.Elem(), x, path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case cwIsTime(t):
		var tm time.Time
		switch y := x.(type) {
		case time.Time:
			tm = y
		case string:
			parsed, err := time.Parse(time.RFC3339Nano, y)
			if err != nil {
				return cwSerialization(path, "%q is not a timestamp", y)
			}
			tm = parsed.UTC()
		default:
			f, ok := cwNumber(x)
			if !ok {
				return cwSerialization(path, "expected a timestamp")
			}
			tm = cwEpoch(f)
		}
		if t == cwTimestampType {
			v.Set(reflect.ValueOf(iotdm.Timestamp{Time: tm}))
		} else {
			v.Set(reflect.ValueOf(tm))
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := x.(map[string]any)
		if !ok {
			return cwSerialization(path, "expected a structure")
		}
		for _, f := range cwFields(t) {
			if y, ok := m[f.name]; ok {
				if err := cwDecodeValue(v.FieldByIndex(f.index), y, cwJoin(path, f.name)); err != nil {
					return err
				}
			}
		}
	case reflect.Slice:
		if b, ok := x.([]byte); ok && t.Elem().Kind() == reflect.Uint8 {
			v.SetBytes(slices.Clone(b))
			return nil
		}
		list, ok := x.([]any)
		if !ok {
			return cwSerialization(path, "expected a list")
		}
		s := reflect.MakeSlice(t, len(list), len(list))
		for i, y := range list {
			if err := cwDecodeValue(s.Index(i), y, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Map:
		m, ok := x.(map[string]any)
		if !ok {
			return cwSerialization(path, "expected a map")
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for k, y := range m {
			e := reflect.New(t.Elem()).Elem()
			if err := cwDecodeValue(e, y, cwJoin(path, k)); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
		v.Set(out)
	case reflect.String:
		s, ok := x.(string)
		if !ok {
			return cwSerialization(path, "expected a string")
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := x.(bool)
		if !ok {
			return cwSerialization(path, "expected a boolean")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, ok := cwNumber(x)
		if !ok || f != math.Trunc(f) || v.OverflowInt(int64(f)) || math.Abs(f) > 1<<62 {
			return cwSerialization(path, "expected an integer")
		}
		v.SetInt(int64(f))
	case reflect.Float32, reflect.Float64:
		f, ok := cwNumber(x)
		if !ok {
			// botocore sends the special values of a double as strings.
			switch x {
			case "NaN":
				f, ok = math.NaN(), true
			case "Infinity":
				f, ok = math.Inf(1), true
			case "-Infinity":
				f, ok = math.Inf(-1), true
			}
		}
		if !ok {
			return cwSerialization(path, "expected a number")
		}
		v.SetFloat(f)
	default:
		return cwSerialization(path, "unsupported member")
	}
	return nil
}

// cwEncodeCBOR encodes v; ok is false when an omitempty member is empty
// (omit is true) or v is a nil pointer.
func cwEncodeCBOR(v reflect.Value, omit bool) (smithycbor.Value, bool) {
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, false
		}
		return cwEncodeCBOR(v.Elem(), false)
	}
	if cwIsTime(t) {
		tm := cwTimeOf(v)
		if tm.IsZero() {
			return nil, false
		}
		return &smithycbor.Tag{ID: 1, Value: smithycbor.Float64(cwEpochSeconds(tm))}, true
	}
	switch t.Kind() {
	case reflect.Struct:
		m := smithycbor.Map{}
		for _, f := range cwFields(t) {
			if enc, ok := cwEncodeCBOR(v.FieldByIndex(f.index), f.omitEmpty); ok {
				m[f.name] = enc
			}
		}
		return m, true
	case reflect.Slice:
		if omit && v.Len() == 0 {
			return nil, false
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return smithycbor.Slice(slices.Clone(v.Bytes())), true
		}
		list := make(smithycbor.List, 0, v.Len())
		for i := range v.Len() {
			if enc, ok := cwEncodeCBOR(v.Index(i), false); ok {
				list = append(list, enc)
			}
		}
		return list, true
	case reflect.Map:
		if omit && v.Len() == 0 {
			return nil, false
		}
		m := smithycbor.Map{}
		iter := v.MapRange()
		for iter.Next() {
			if enc, ok := cwEncodeCBOR(iter.Value(), false); ok {
				m[iter.Key().String()] = enc
			}
		}
		return m, true
	case reflect.String:
		if omit && v.Len() == 0 {
			return nil, false
		}
		return smithycbor.String(v.String()), true
	case reflect.Bool:
		if omit && !v.Bool() {
			return nil, false
		}
		return smithycbor.Bool(v.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := v.Int()
		if omit && n == 0 {
			return nil, false
		}
		if n < 0 {
			return smithycbor.NegInt(uint64(-n)), true
		}
		return smithycbor.Uint(uint64(n)), true
	case reflect.Float32, reflect.Float64:
		if omit && v.Float() == 0 {
			return nil, false
		}
		return smithycbor.Float64(v.Float()), true
	}
	return nil, false // cwCodecCheck refuses other kinds at start-up
}

// cwEpochSeconds is t in epoch seconds to the millisecond, nudged up when
// needed so that a reader truncating seconds*1000 (as the SDK does) gets
// the same millisecond back.
func cwEpochSeconds(t time.Time) float64 {
	ms := t.UnixMilli()
	f := float64(ms) / 1000
	if int64(f*1000) < ms {
		f = math.Nextafter(f, math.Inf(1))
	}
	return f
}

func cwTimeOf(v reflect.Value) time.Time {
	if v.Type() == cwTimestampType {
		return v.Interface().(iotdm.Timestamp).Time
	}
	return v.Interface().(time.Time)
}

// cwDecodeQuery sets the members of v, a struct, from the form keys under
// prefix (which is "" or ends in '.'): lists are Name.member.N, maps
// Name.entry.N.key and Name.entry.N.value, timestamps ISO 8601.
func cwDecodeQuery(f *cfnForm, v reflect.Value, prefix string) error {
	for _, fd := range cwFields(v.Type()) {
		if err := cwDecodeQueryValue(f, v.FieldByIndex(fd.index), prefix+fd.name); err != nil {
			return err
		}
	}
	return nil
}

func cwDecodeQueryValue(f *cfnForm, v reflect.Value, key string) error {
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		if !cwQueryPresent(f, t.Elem(), key) {
			return nil
		}
		p := reflect.New(t.Elem())
		if err := cwDecodeQueryValue(f, p.Elem(), key); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case cwIsTime(t):
		s, ok := f.lookup(key)
		if !ok {
			return nil
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			secs, nerr := strconv.ParseFloat(s, 64)
			if nerr != nil {
				return cfnValidation([]string{fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must be an ISO 8601 timestamp", s, cfnPath(key))})
			}
			tm = cwEpoch(secs)
		}
		if t == cwTimestampType {
			v.Set(reflect.ValueOf(iotdm.Timestamp{Time: tm.UTC()}))
		} else {
			v.Set(reflect.ValueOf(tm.UTC()))
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return cwDecodeQuery(f, v, key+".")
	case reflect.Slice:
		prefix := key + ".member."
		idx := f.indices(prefix)
		if len(idx) == 0 {
			if s, ok := f.lookup(key); ok && s == "" {
				v.Set(reflect.MakeSlice(t, 0, 0))
			}
			return nil
		}
		list := reflect.MakeSlice(t, len(idx), len(idx))
		for i, n := range idx {
			if err := cwDecodeQueryValue(f, list.Index(i), prefix+strconv.Itoa(n)); err != nil {
				return err
			}
		}
		v.Set(list)
		return nil
	case reflect.Map:
		prefix := key + ".entry."
		idx := f.indices(prefix)
		if len(idx) == 0 {
			return nil
		}
		m := reflect.MakeMapWithSize(t, len(idx))
		for _, n := range idx {
			entry := prefix + strconv.Itoa(n)
			k, ok := f.lookup(entry + ".key")
			if !ok {
				return cfnValidation([]string{fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", cfnPath(entry+".key"))})
			}
			e := reflect.New(t.Elem()).Elem()
			if err := cwDecodeQueryValue(f, e, entry+".value"); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
		v.Set(m)
		return nil
	}
	s, ok := f.lookup(key)
	if !ok {
		return nil
	}
	if t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32 {
		if x, err := strconv.ParseFloat(s, 64); err == nil || s == "NaN" || strings.HasSuffix(s, "Infinity") {
			if err != nil {
				x = map[string]float64{"NaN": math.NaN(), "Infinity": math.Inf(1), "+Infinity": math.Inf(1), "-Infinity": math.Inf(-1)}[s]
			}
			v.SetFloat(x)
			return nil
		}
	}
	return cfnSetScalar(v, key, s)
}

// cwQueryPresent reports whether the form holds a member of type t at key.
func cwQueryPresent(f *cfnForm, t reflect.Type, key string) bool {
	if _, ok := f.lookup(key); ok {
		return true
	}
	k := t.Kind()
	return (k == reflect.Struct && !cwIsTime(t) || k == reflect.Slice || k == reflect.Map) && len(f.under(key+".")) > 0
}

// cwWriteXMLFields writes the members of v, a struct, as elements named
// after them: lists as <member> elements, maps as <entry><key/><value/>
// </entry>, timestamps in ISO 8601. Empty omitempty members, nil pointers
// and zero timestamps are left out.
func cwWriteXMLFields(b *bytes.Buffer, v reflect.Value) {
	for _, f := range cwFields(v.Type()) {
		cwWriteXMLValue(b, f.name, v.FieldByIndex(f.index), f.omitEmpty)
	}
}

func cwWriteXMLValue(b *bytes.Buffer, name string, v reflect.Value, omit bool) {
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if !v.IsNil() {
			cwWriteXMLValue(b, name, v.Elem(), false)
		}
		return
	}
	if cwIsTime(t) {
		if tm := cwTimeOf(v); !tm.IsZero() {
			b.WriteString("<" + name + ">" + tm.UTC().Format(cfnTimeLayout) + "</" + name + ">")
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		b.WriteString("<" + name + ">")
		cwWriteXMLFields(b, v)
	case reflect.Slice:
		if v.Len() == 0 {
			if !omit {
				b.WriteString("<" + name + "/>")
			}
			return
		}
		b.WriteString("<" + name + ">")
		for i := range v.Len() {
			cwWriteXMLValue(b, "member", v.Index(i), false)
		}
	case reflect.Map:
		if v.Len() == 0 {
			if !omit {
				b.WriteString("<" + name + "/>")
			}
			return
		}
		b.WriteString("<" + name + ">")
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int { return strings.Compare(x.String(), y.String()) })
		for _, k := range keys {
			b.WriteString("<entry>")
			cwWriteXMLValue(b, "key", k, false)
			cwWriteXMLValue(b, "value", v.MapIndex(k), false)
			b.WriteString("</entry>")
		}
	case reflect.String:
		if omit && v.Len() == 0 {
			return
		}
		b.WriteString("<" + name + ">")
		cfnEscape(b, v.String())
	case reflect.Bool:
		if omit && !v.Bool() {
			return
		}
		b.WriteString("<" + name + ">" + strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if omit && v.Int() == 0 {
			return
		}
		b.WriteString("<" + name + ">" + strconv.FormatInt(v.Int(), 10))
	case reflect.Float32, reflect.Float64:
		if omit && v.Float() == 0 {
			return
		}
		b.WriteString("<" + name + ">" + strconv.FormatFloat(v.Float(), 'g', -1, 64))
	default:
		return
	}
	b.WriteString("</" + name + ">")
}
