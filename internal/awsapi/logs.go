package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/iotdm/iotdm"
)

// logsTargetPrefix is the logs model's targetPrefix: requests name their
// operation as X-Amz-Target: Logs_20140328.CreateLogGroup.
const logsTargetPrefix = "Logs_20140328"

// NewLogs returns the handler of CloudWatch Logs (signing name logs) over
// the log group service: the awsJson1_1 protocol, one operation per
// iotdm.LogGroups method.
func NewLogs(svc iotdm.LogGroups) http.Handler {
	return NewJSONRPC(logsTargetPrefix, "1.1", logsOps(svc))
}

// logsOps is the operation table of NewLogs.
func logsOps(svc iotdm.LogGroups) []RPCOp {
	return []RPCOp{
		RPC("CreateLogGroup", svc.CreateLogGroup),
		RPC("DeleteLogGroup", svc.DeleteLogGroup),
		RPC("DescribeLogGroups", svc.DescribeLogGroups),
		RPC("PutRetentionPolicy", svc.PutRetentionPolicy),
		RPC("DeleteRetentionPolicy", svc.DeleteRetentionPolicy),
		RPC("TagResource", svc.TagResource),
		RPC("UntagResource", svc.UntagResource),
		RPC("ListTagsForResource", svc.ListTagsForResource),
		RPC("TagLogGroup", svc.TagLogGroup),
		RPC("UntagLogGroup", svc.UntagLogGroup),
		RPC("ListTagsLogGroup", svc.ListTagsLogGroup),
	}
}

// RPCOp is one operation of an awsJson service: its name as X-Amz-Target
// names it, and the typed handler RPC wraps.
type RPCOp struct {
	Name   string
	Input  reflect.Type // the input struct, decoded from the JSON body by its json tags
	Output reflect.Type // the output struct, sent as the JSON body ({} for nil)

	call func(ctx context.Context, body []byte) (any, error)
}

// RPC makes the RPCOp of one operation: fn receives the request body
// decoded into a fresh *In, and its *Out is the response body.
func RPC[In, Out any](name string, fn func(ctx context.Context, in *In) (*Out, error)) RPCOp {
	return RPCOp{
		Name:   name,
		Input:  reflect.TypeFor[In](),
		Output: reflect.TypeFor[Out](),
		call: func(ctx context.Context, body []byte) (any, error) {
			in := new(In)
			if b := bytes.TrimSpace(body); len(b) > 0 {
				if err := json.Unmarshal(b, in); err != nil {
					return nil, serializationError(err)
				}
			}
			out, err := fn(ctx, in)
			if err != nil || out == nil {
				return nil, err
			}
			return out, nil
		},
	}
}

// JSONRPC serves one awsJson 1.0 or 1.1 service: every operation is
// POST / with X-Amz-Target "{targetPrefix}.{operation}" and a JSON body of
// the input's members; the answer is 200 with the output's members, or an
// error as {"__type": code, "message": ...}. The JSON protocols send every
// client error as 400 unless the model says otherwise (the logs model
// gives none of its exceptions a status).
type JSONRPC struct {
	prefix      string
	contentType string
	ops         map[string]*RPCOp
	list        []RPCOp
	status      map[iotdm.ErrorCode]int
}

// NewJSONRPC compiles an operation table for a service whose model has
// targetPrefix and jsonVersion ("1.0" or "1.1"). status overrides the
// status of codes the service's model gives one (nil for none). It panics
// on an operation listed twice or not made with RPC: tables are fixed at
// start-up.
func NewJSONRPC(targetPrefix, jsonVersion string, ops []RPCOp, status ...map[iotdm.ErrorCode]int) *JSONRPC {
	j := &JSONRPC{
		prefix:      targetPrefix + ".",
		contentType: "application/x-amz-json-" + jsonVersion,
		ops:         make(map[string]*RPCOp, len(ops)),
		list:        append([]RPCOp(nil), ops...),
		status:      map[iotdm.ErrorCode]int{},
	}
	for _, m := range status {
		for code, s := range m {
			j.status[code] = s
		}
	}
	for i := range j.list {
		op := &j.list[i]
		if op.call == nil {
			panic(fmt.Sprintf("awsapi: operation %s was not made with RPC", op.Name))
		}
		if j.ops[op.Name] != nil {
			panic(fmt.Sprintf("awsapi: operation %s listed twice", op.Name))
		}
		j.ops[op.Name] = op
	}
	return j
}

// Ops returns the operation table.
func (j *JSONRPC) Ops() []RPCOp { return append([]RPCOp(nil), j.list...) }

// ServeHTTP routes one request by X-Amz-Target, decodes, calls and answers.
func (j *JSONRPC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, j.prefix)
	op := j.ops[name]
	if r.Method != http.MethodPost || !ok || op == nil {
		j.writeError(w, r, iotdm.Errorf(iotdm.ErrUnknownOperation, "No operation matches %s %s with target %q.", r.Method, r.URL.Path, target), "")
		return
	}
	setOperation(r.Context(), op.Name)
	body, read := bodyFrom(r.Context())
	if !read && r.Body != nil {
		b, err := readBody(r.Body, r.ContentLength, DefaultMaxBody)
		if err != nil {
			j.writeError(w, r, err, op.Name)
			return
		}
		body = b
	}
	out, err := op.call(r.Context(), body)
	if err != nil {
		j.writeError(w, r, err, op.Name)
		return
	}
	b := emptyObject
	if out != nil {
		if b, err = json.Marshal(out); err != nil {
			j.writeError(w, r, fmt.Errorf("encode %s output: %w", op.Name, err), op.Name)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", j.contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// WriteError writes err in this protocol's format. The Server uses it for
// refusals (signature failures), which JSON services send as 400.
func (j *JSONRPC) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	j.writeError(w, r, err, "")
}

// writeError writes err as an awsJson error: the status (400 for client
// errors, 413 for a body too large, 500 and 503 for the service's own
// failures), X-Amzn-ErrorType and a body with __type and message. An err
// that carries no *iotdm.Error is logged and sent as
// ServiceUnavailableException, the failure every logs operation declares,
// with a fixed message.
func (j *JSONRPC) writeError(w http.ResponseWriter, r *http.Request, err error, op string) {
	var e *iotdm.Error
	status := 0
	if !errors.As(err, &e) || e.Code == "" {
		logInternal(r, err, op)
		e = &iotdm.Error{Code: iotdm.ErrServiceUnavailable, Message: internalMessage}
		status = http.StatusInternalServerError
	}
	if s, ok := j.status[e.Code]; ok {
		status = s
	}
	if status == 0 {
		status = jsonStatusOf(e.Code)
	}
	b, merr := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{string(e.Code), e.Message})
	if merr != nil { // unreachable: strings only
		b = []byte(`{"__type":"ServiceUnavailableException","message":""}`)
	}
	h := w.Header()
	h.Set("Content-Type", j.contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Amzn-ErrorType", string(e.Code))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonStatusOf is the status of code on a JSON protocol service whose
// model declares none: 400 for every client error.
func jsonStatusOf(code iotdm.ErrorCode) int {
	switch code {
	case iotdm.ErrRequestEntityTooLarge:
		return http.StatusRequestEntityTooLarge
	case iotdm.ErrInternalFailure, iotdm.ErrorCode("InternalServerException"):
		return http.StatusInternalServerError
	case iotdm.ErrServiceUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// serializationError turns a JSON decoding failure into AWS's
// SerializationException without naming Go types.
func serializationError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return iotdm.Errorf(iotdm.ErrSerialization, "Could not parse request body into json: %s at offset %d.", syn.Error(), syn.Offset)
	case errors.As(err, &typ):
		where := typ.Field
		if where == "" {
			where = "the request body"
		}
		return iotdm.Errorf(iotdm.ErrSerialization, "Unexpected %s at '%s'.", typ.Value, where)
	default:
		return iotdm.Errorf(iotdm.ErrSerialization, "Could not parse request body into json.")
	}
}
