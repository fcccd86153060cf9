package awsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/iotdm/iotdm"
)

// Route is one operation of a rest-json service: its name, HTTP method and
// URI template as the service model declares them, and the typed handler
// Op wraps.
type Route struct {
	Name   string // operation name, e.g. CreateThing
	Method string // e.g. POST
	Path   string // URI template, e.g. /things/{thingName}
	// Input is the operation's input struct type, whose uri, query and
	// header tags bind labels, query parameters and headers.
	Input reflect.Type
	// Output is the operation's output struct type, sent as JSON, or, when
	// it has a field tagged payload:"true", as that field's raw bytes.
	Output reflect.Type

	info *structInfo
	call func(ctx context.Context, req *request) (any, error)
}

// Op makes the Route of one operation: fn receives a freshly bound *In and
// its *Out is sent as the JSON body of a 200 response (a nil *Out as {}).
// An In with a []byte field tagged payload:"true" receives the raw request
// body there instead of JSON decoding it; an Out with such a field is sent
// as those raw bytes (the rest-json httpPayload blob of the iot-data shadow
// operations).
func Op[In, Out any](name, method, path string, fn func(ctx context.Context, in *In) (*Out, error)) Route {
	t := reflect.TypeFor[In]()
	info := structInfoOf(t)
	outPayload := -1
	if ot := reflect.TypeFor[Out](); ot.Kind() == reflect.Struct {
		outPayload = structInfoOf(ot).payload
	}
	return Route{
		Name:   name,
		Method: method,
		Path:   path,
		Input:  t,
		Output: reflect.TypeFor[Out](),
		info:   info,
		call: func(ctx context.Context, req *request) (any, error) {
			in := new(In)
			if err := info.bind(in, reflect.ValueOf(in).Elem(), req); err != nil {
				return nil, err
			}
			out, err := fn(ctx, in)
			if err != nil || out == nil {
				return nil, err
			}
			if outPayload >= 0 {
				return rawPayload(reflect.ValueOf(out).Elem().Field(outPayload).Bytes()), nil
			}
			return out, nil
		},
	}
}

// RestJSON serves the operations of one rest-json service. It matches the
// method and the escaped request path against the route table (literal
// segments before labels, each label unescaped on its own, so ARNs and
// topics keep their '/' and ':'), binds the input and writes the output or
// the error.
type RestJSON struct {
	routes []Route
	root   *node
	status map[iotdm.ErrorCode]int
}

// RestJSONOption configures a RestJSON.
type RestJSONOption func(*RestJSON)

// WithStatus makes the service answer code with status instead of the
// default table's status (iot-data sends ThrottlingException as 429).
func WithStatus(code iotdm.ErrorCode, status int) RestJSONOption {
	return func(rj *RestJSON) { rj.status[code] = status }
}

// NewRestJSON compiles a route table. It panics on a malformed template, a
// label without a uri-tagged field (or the reverse), or two routes with the
// same method and template shape: route tables are fixed at start-up.
func NewRestJSON(routes []Route, opts ...RestJSONOption) *RestJSON {
	rj := &RestJSON{routes: slices.Clone(routes), root: &node{}, status: map[iotdm.ErrorCode]int{}}
	for _, o := range opts {
		o(rj)
	}
	for i := range rj.routes {
		rj.add(&rj.routes[i])
	}
	return rj
}

// Routes returns the route table.
func (rj *RestJSON) Routes() []Route { return slices.Clone(rj.routes) }

// node is a level of the routing tree: literal children win over the label
// child; a greedy label takes the rest of the path.
type node struct {
	literal map[string]*node
	label   *node
	greedy  *node
	routes  map[string]*compiledRoute // by method
}

// compiledRoute is a Route with the field of each of its labels.
type compiledRoute struct {
	*Route
	labelFields []*fieldInfo
}

func (rj *RestJSON) add(rt *Route) {
	if rt.call == nil {
		panic(fmt.Sprintf("awsapi: route %s was not made with Op", rt.Name))
	}
	if !strings.HasPrefix(rt.Path, "/") || strings.ContainsAny(rt.Path, "?#") {
		panic(fmt.Sprintf("awsapi: route %s: unsupported URI template %q", rt.Name, rt.Path))
	}
	cr := &compiledRoute{Route: rt}
	seen := map[string]bool{}
	n := rj.root
	segs := strings.Split(rt.Path[1:], "/")
	if rt.Path == "/" {
		segs = nil
	}
	for i, seg := range segs {
		label, isLabel := strings.CutPrefix(seg, "{")
		if !isLabel {
			if seg == "" || strings.ContainsAny(seg, "{}") {
				panic(fmt.Sprintf("awsapi: route %s: bad segment %q", rt.Name, seg))
			}
			if n.literal == nil {
				n.literal = map[string]*node{}
			}
			if n.literal[seg] == nil {
				n.literal[seg] = &node{}
			}
			n = n.literal[seg]
			continue
		}
		label, ok := strings.CutSuffix(label, "}")
		if !ok || label == "" {
			panic(fmt.Sprintf("awsapi: route %s: bad label %q", rt.Name, seg))
		}
		greedy := false
		if label, greedy = strings.CutSuffix(label, "+"); greedy && i != len(segs)-1 {
			panic(fmt.Sprintf("awsapi: route %s: greedy label %q must be last", rt.Name, seg))
		}
		f := rt.info.labels[label]
		if f == nil {
			panic(fmt.Sprintf("awsapi: route %s: %v has no field tagged uri:%q", rt.Name, rt.Input, label))
		}
		seen[label] = true
		cr.labelFields = append(cr.labelFields, f)
		next := &n.label
		if greedy {
			next = &n.greedy
		}
		if *next == nil {
			*next = &node{}
		}
		n = *next
	}
	for name := range rt.info.labels {
		if !seen[name] {
			panic(fmt.Sprintf("awsapi: route %s: field tagged uri:%q has no label in %q", rt.Name, name, rt.Path))
		}
	}
	if n.routes == nil {
		n.routes = map[string]*compiledRoute{}
	}
	if old := n.routes[rt.Method]; old != nil {
		panic(fmt.Sprintf("awsapi: routes %s and %s collide on %s %s", old.Name, rt.Name, rt.Method, rt.Path))
	}
	n.routes[rt.Method] = cr
}

// match finds the route for method and the escaped path p (without its
// leading '/'; end means no segment is left). When no route has the method,
// it returns the node that matched the path, if any, for a 405. labels
// collects the escaped label values on the way.
func (n *node) match(p string, end bool, method string, labels []string) (*compiledRoute, []string, *node) {
	if end {
		if len(n.routes) == 0 {
			return nil, labels, nil
		}
		return n.routes[method], labels, n
	}
	seg, rest, more := strings.Cut(p, "/")
	var found *node
	if c := n.literal[seg]; c != nil {
		rt, l, f := c.match(rest, !more, method, labels)
		if rt != nil {
			return rt, l, f
		}
		found = f
	}
	if n.label != nil && seg != "" {
		rt, l, f := n.label.match(rest, !more, method, append(labels, seg))
		if rt != nil {
			return rt, l, f
		}
		if found == nil {
			found = f
		}
	}
	if n.greedy != nil && p != "" {
		rt, l, f := n.greedy.match("", true, method, append(labels, p))
		if rt != nil {
			return rt, l, f
		}
		if found == nil {
			found = f
		}
	}
	return nil, labels, found
}

// ServeHTTP routes, binds, calls and answers one request.
func (rj *RestJSON) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := rawPath(r)
	var stack [8]string
	rt, labels, n := rj.root.match(path[1:], path == "/", r.Method, stack[:0])
	if rt == nil {
		if n != nil {
			w.Header().Set("Allow", strings.Join(slices.Sorted(maps.Keys(n.routes)), ", "))
			rj.writeError(w, r, iotdm.Errorf(iotdm.ErrMethodNotAllowed,
				"The method %s is not allowed on %s.", r.Method, path), "")
			return
		}
		rj.writeError(w, r, iotdm.Errorf(iotdm.ErrUnknownOperation,
			"No operation matches %s %s.", r.Method, path), "")
		return
	}
	setOperation(r.Context(), rt.Name)

	body, ok := bodyFrom(r.Context())
	if !ok && r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, DefaultMaxBody+1))
		if err != nil {
			rj.writeError(w, r, fmt.Errorf("read request body: %w", err), rt.Name)
			return
		}
		if len(b) > DefaultMaxBody {
			rj.writeError(w, r, tooLarge(DefaultMaxBody), rt.Name)
			return
		}
		body = b
	}
	out, err := rt.call(r.Context(), &request{
		labels:      labels,
		labelFields: rt.labelFields,
		rawQuery:    r.URL.RawQuery,
		header:      r.Header,
		body:        body,
	})
	if err != nil {
		rj.writeError(w, r, err, rt.Name)
		return
	}
	rj.writeJSON(w, r, out, rt.Name)
}

// WriteError writes err in this service's format, with its status
// overrides. The Server uses it for refusals.
func (rj *RestJSON) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	rj.writeError(w, r, err, "")
}

func (rj *RestJSON) writeError(w http.ResponseWriter, r *http.Request, err error, op string) {
	writeError(w, r, err, rj.status, op)
}

// emptyObject is the body of an operation without output members.
var emptyObject = []byte("{}")

// rawPayload is an output sent as is: the payload field of an Out.
type rawPayload []byte

// writeJSON answers 200 with out as JSON ({} for nil), or a rawPayload as
// its bytes.
func (rj *RestJSON) writeJSON(w http.ResponseWriter, r *http.Request, out any, op string) {
	b := emptyObject
	if raw, ok := out.(rawPayload); ok {
		b = raw
	} else if out != nil {
		var err error
		if b, err = json.Marshal(out); err != nil {
			rj.writeError(w, r, fmt.Errorf("encode %s output: %w", op, err), op)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
