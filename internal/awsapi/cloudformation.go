package awsapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"

	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
)

// The API version and XML namespace of the botocore model cloudformation
// 2010-05-15.
const (
	cfnVersion   = "2010-05-15"
	cfnNamespace = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
)

// cfnOp is one operation of the cloudformation endpoint.
type cfnOp struct {
	name string
	// required are the input members the model requires, in model order.
	required []string
	// result is whether the response wraps the output in <NameResult>: the
	// model declares a resultWrapper for every operation with an output.
	result bool
	input  reflect.Type
	call   func(ctx context.Context, f *cfnForm) (any, error)
}

// cfnOperation makes the cfnOp of fn: the form is decoded into a fresh *In
// by member name and the *Out is encoded by field name. It panics when In or
// Out holds a type the query codec cannot carry: operation tables are built
// at start-up.
func cfnOperation[In, Out any](name string, result bool, fn func(context.Context, *In) (*Out, error), required ...string) *cfnOp {
	for _, t := range []reflect.Type{reflect.TypeFor[In](), reflect.TypeFor[Out]()} {
		if err := cfnCodecCheck(t, map[reflect.Type]bool{}); err != nil {
			panic(fmt.Sprintf("awsapi: %s: %v", name, err))
		}
	}
	for _, m := range required {
		if f, ok := reflect.TypeFor[In]().FieldByName(m); !ok || f.Type.Kind() != reflect.String {
			panic(fmt.Sprintf("awsapi: %s: required member %s is not a string field", name, m))
		}
	}
	return &cfnOp{
		name:     name,
		required: required,
		result:   result,
		input:    reflect.TypeFor[In](),
		call: func(ctx context.Context, f *cfnForm) (any, error) {
			in := new(In)
			if err := f.decode(reflect.ValueOf(in).Elem(), ""); err != nil {
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

// CloudFormation is the handler of the cloudformation endpoint. It speaks
// the AWS query protocol: a form of Action, Version and the input members
// (POST body or GET query string) in, an XML document out. Errors are XML
// ErrorResponse documents with CloudFormation's codes and statuses; as an
// ErrorWriter it writes the edge's refusals (signature failures) the same
// way.
type CloudFormation struct {
	ops map[string]*cfnOp
}

// NewCloudFormation returns the handler of the AWS CloudFormation API
// (signing name cloudformation) over svc.
func NewCloudFormation(svc iotdm.Stacks) http.Handler {
	return newCloudFormation(svc)
}

func newCloudFormation(svc iotdm.Stacks) *CloudFormation {
	const wrapped, bare = true, false
	ops := []*cfnOp{
		cfnOperation("CreateStack", wrapped, svc.CreateStack, "StackName"),
		cfnOperation("UpdateStack", wrapped, svc.UpdateStack, "StackName"),
		cfnOperation("DeleteStack", bare, svc.DeleteStack, "StackName"),
		cfnOperation("CancelUpdateStack", bare, svc.CancelUpdateStack, "StackName"),
		cfnOperation("ContinueUpdateRollback", wrapped, svc.ContinueUpdateRollback, "StackName"),
		cfnOperation("DescribeStacks", wrapped, svc.DescribeStacks),
		cfnOperation("ListStacks", wrapped, svc.ListStacks),
		cfnOperation("DescribeStackEvents", wrapped, svc.DescribeStackEvents, "StackName"),
		cfnOperation("DescribeStackResource", wrapped, svc.DescribeStackResource, "StackName", "LogicalResourceId"),
		cfnOperation("DescribeStackResources", wrapped, svc.DescribeStackResources),
		cfnOperation("ListStackResources", wrapped, svc.ListStackResources, "StackName"),
		cfnOperation("GetTemplate", wrapped, svc.GetTemplate),
		cfnOperation("GetTemplateSummary", wrapped, svc.GetTemplateSummary),
		cfnOperation("ValidateTemplate", wrapped, svc.ValidateTemplate),
		cfnOperation("CreateChangeSet", wrapped, svc.CreateChangeSet, "StackName", "ChangeSetName"),
		cfnOperation("DescribeChangeSet", wrapped, svc.DescribeChangeSet, "ChangeSetName"),
		cfnOperation("ExecuteChangeSet", wrapped, svc.ExecuteChangeSet, "ChangeSetName"),
		cfnOperation("DeleteChangeSet", wrapped, svc.DeleteChangeSet, "ChangeSetName"),
		cfnOperation("ListChangeSets", wrapped, svc.ListChangeSets, "StackName"),
		cfnOperation("ListExports", wrapped, svc.ListExports),
	}
	c := &CloudFormation{ops: make(map[string]*cfnOp, len(ops))}
	for _, op := range ops {
		c.ops[op.name] = op
	}
	return c
}

// ServeHTTP reads the form, finds the operation by Action, checks the
// required members, calls the service and writes the XML response.
func (c *CloudFormation) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, err := cfnReadForm(r)
	if err != nil {
		c.writeError(w, r, err, "")
		return
	}
	action := f.get("Action")
	if action == "" {
		c.writeError(w, r, iotdm.Errorf(cfnMissingAction, "The request must contain the parameter Action."), "")
		return
	}
	version, hasVersion := f.lookup("Version")
	op := c.ops[action]
	if hasVersion && version != cfnVersion {
		op = nil
	}
	if op == nil {
		if !hasVersion {
			version = cfnVersion
		}
		// AWS: an unknown Action (or Version) is InvalidAction, 400.
		c.writeError(w, r, iotdm.Errorf(cfnInvalidAction, "Could not find operation %s for version %s", action, version), "")
		return
	}
	setOperation(r.Context(), op.name)
	if err := f.checkRequired(op.required); err != nil {
		c.writeError(w, r, err, op.name)
		return
	}
	out, err := op.call(r.Context(), f)
	if err != nil {
		c.writeError(w, r, err, op.name)
		return
	}
	c.writeResult(w, r, op, out)
}

// writeResult writes <NameResponse> with the output in <NameResult> (when
// the operation has one) and the request id in <ResponseMetadata>.
func (c *CloudFormation) writeResult(w http.ResponseWriter, r *http.Request, op *cfnOp, out any) {
	var b bytes.Buffer
	b.WriteString(`<` + op.name + `Response xmlns="` + cfnNamespace + `">`)
	if op.result {
		if out == nil {
			b.WriteString(`<` + op.name + `Result/>`)
		} else {
			b.WriteString(`<` + op.name + `Result>`)
			cfnWriteFields(&b, reflect.ValueOf(out).Elem())
			b.WriteString(`</` + op.name + `Result>`)
		}
	}
	b.WriteString(`<ResponseMetadata><RequestId>`)
	cfnEscape(&b, cfnRequestID(r.Context()))
	b.WriteString(`</RequestId></ResponseMetadata></` + op.name + `Response>`)
	cfnWriteXML(w, http.StatusOK, b.Bytes())
}

// Front-door codes of the query protocol, which no model declares; the
// status each gets is in cfnStatusByCode.
const (
	cfnInvalidAction         iotdm.ErrorCode = "InvalidAction"
	cfnMissingAction         iotdm.ErrorCode = "MissingAction"
	cfnMalformedQueryString  iotdm.ErrorCode = "MalformedQueryString"
	cfnInternalFailure       iotdm.ErrorCode = "InternalFailure"
	cfnServiceUnavailable    iotdm.ErrorCode = "ServiceUnavailable"
	cfnThrottling            iotdm.ErrorCode = "Throttling"
	cfnInvalidClientTokenID  iotdm.ErrorCode = "InvalidClientTokenId"
	cfnIncompleteSignature   iotdm.ErrorCode = "IncompleteSignature"
	cfnMissingAuthentication iotdm.ErrorCode = "MissingAuthenticationToken"
	cfnAccessDenied          iotdm.ErrorCode = "AccessDenied"
)

// cfnCodeOf renames the codes the rest of iotdm uses (the JSON protocols'
// exception names) to the codes a CloudFormation client expects. Codes not
// listed are sent as they are.
var cfnCodeOf = map[iotdm.ErrorCode]iotdm.ErrorCode{
	// AWS: CloudFormation reports bad input and unknown stacks as
	// ValidationError.
	iotdm.ErrValidation:            iotdm.ErrValidationError,
	iotdm.ErrInvalidRequest:        iotdm.ErrValidationError,
	iotdm.ErrResourceNotFound:      iotdm.ErrValidationError,
	iotdm.ErrSerialization:         iotdm.ErrValidationError,
	iotdm.ErrResourceAlreadyExists: iotdm.ErrAlreadyExists,
	iotdm.ErrThrottling:            cfnThrottling,
	iotdm.ErrInternalFailure:       cfnInternalFailure,
	iotdm.ErrServiceUnavailable:    cfnServiceUnavailable,
	// The edge's signature refusals, as the query protocol names them.
	iotdm.ErrInvalidSignature:    iotdm.ErrSignatureDoesNotMatch,
	iotdm.ErrUnrecognizedClient:  cfnInvalidClientTokenID,
	iotdm.ErrIncompleteSignature: cfnIncompleteSignature,
	iotdm.ErrMissingAuthToken:    cfnMissingAuthentication,
	iotdm.ErrAccessDenied:        cfnAccessDenied,
}

// cfnStatusByCode is the HTTP status of each code a CloudFormation client
// sees: the model's exceptions (httpStatusCode of their error trait) and the
// query protocol's front-door codes. Other codes take StatusOf's.
var cfnStatusByCode = map[iotdm.ErrorCode]int{
	iotdm.ErrValidationError:          http.StatusBadRequest,
	iotdm.ErrAlreadyExists:            http.StatusBadRequest,
	iotdm.ErrLimitExceeded:            http.StatusBadRequest,
	iotdm.ErrInsufficientCapabilities: http.StatusBadRequest,
	iotdm.ErrTokenAlreadyExists:       http.StatusBadRequest,
	iotdm.ErrInvalidChangeSetStatus:   http.StatusBadRequest,
	iotdm.ErrChangeSetNotFound:        http.StatusNotFound,
	iotdm.ErrStackNotFound:            http.StatusNotFound,
	iotdm.ErrStackSetNotFound:         http.StatusNotFound,
	cfnInvalidAction:                  http.StatusBadRequest,
	cfnMissingAction:                  http.StatusBadRequest,
	cfnMalformedQueryString:           http.StatusNotFound,
	cfnThrottling:                     http.StatusBadRequest,
	cfnIncompleteSignature:            http.StatusBadRequest,
	cfnInvalidClientTokenID:           http.StatusForbidden,
	iotdm.ErrSignatureDoesNotMatch:    http.StatusForbidden,
	cfnMissingAuthentication:          http.StatusForbidden,
	cfnAccessDenied:                   http.StatusForbidden,
	cfnInternalFailure:                http.StatusInternalServerError,
	cfnServiceUnavailable:             http.StatusServiceUnavailable,
}

// cfnStatusOf returns the status CloudFormation sends with code.
func cfnStatusOf(code iotdm.ErrorCode) int {
	if s, ok := cfnStatusByCode[code]; ok {
		return s
	}
	return StatusOf(code)
}

// WriteError writes err as a query-protocol ErrorResponse. The Server uses
// it for the refusals it sends on this service's behalf.
func (c *CloudFormation) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	c.writeError(w, r, err, "")
}

// writeError writes err as <ErrorResponse><Error><Type/><Code/><Message/>
// </Error><RequestId/></ErrorResponse> with the code renamed for
// CloudFormation and its status. An err that carries no *iotdm.Error becomes
// InternalFailure with a fixed message; the cause is logged, never sent.
func (c *CloudFormation) writeError(w http.ResponseWriter, r *http.Request, err error, op string) {
	var e *iotdm.Error
	if !errors.As(err, &e) || e.Code == "" {
		logInternal(r, err, op)
		e = &iotdm.Error{Code: cfnInternalFailure, Message: internalMessage}
	}
	code := e.Code
	if renamed, ok := cfnCodeOf[code]; ok {
		code = renamed
	}
	status := cfnStatusOf(code)
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	var b bytes.Buffer
	b.WriteString(`<ErrorResponse xmlns="` + cfnNamespace + `"><Error><Type>` + fault + `</Type><Code>`)
	cfnEscape(&b, string(code))
	b.WriteString(`</Code><Message>`)
	cfnEscape(&b, e.Message)
	b.WriteString(`</Message></Error><RequestId>`)
	cfnEscape(&b, cfnRequestID(r.Context()))
	b.WriteString(`</RequestId></ErrorResponse>`)
	cfnWriteXML(w, status, b.Bytes())
}

func cfnWriteXML(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// cfnRequestID is the edge's request id, or a fresh one outside the edge:
// every query response carries one.
func cfnRequestID(ctx context.Context) string {
	if id := RequestIDFrom(ctx); id != "" {
		return id
	}
	return uuid.NewString()
}

// cfnReadForm returns the request's parameters: the query string and, for
// a form-encoded body, the body's (which win).
func cfnReadForm(r *http.Request) (*cfnForm, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, iotdm.Errorf(cfnMalformedQueryString, "The query string contains a syntax error.")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method == http.MethodPost && (ct == "application/x-www-form-urlencoded" || ct == "") {
		body, ok := bodyFrom(r.Context())
		if !ok && r.Body != nil {
			b, err := io.ReadAll(io.LimitReader(r.Body, DefaultMaxBody+1))
			if err != nil {
				return nil, fmt.Errorf("read request body: %w", err)
			}
			if len(b) > DefaultMaxBody {
				return nil, tooLarge(DefaultMaxBody)
			}
			body = b
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
