package awsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/iotdm/iotdm"
)

// structInfo is the cached binding table of an input (or output) struct
// type: which fields take path labels, query parameters and headers (by
// their uri, query and header tags), whether any field comes from the JSON
// body, and which []byte field, tagged payload:"true", is the raw HTTP
// payload (the model's "payload" member of blob type: the body is that
// field's bytes, not JSON). Only the struct's own fields are considered, not
// promoted ones.
type structInfo struct {
	typ     reflect.Type
	labels  map[string]*fieldInfo // by label name
	query   map[string]*fieldInfo // by query parameter name
	headers []*fieldInfo
	hasBody bool // some field is bound from the JSON body
	payload int  // index of the raw payload field, -1 when none
}

// fieldInfo is one field bound from outside the body.
type fieldInfo struct {
	index  int
	name   string // label, query parameter or header name as the tag says
	header string // canonical header key, for header fields
}

var structInfos sync.Map // reflect.Type -> *structInfo

// structInfoOf returns the binding table of t, a struct type, building and
// caching it on first use. It panics on a tagged field of a type the binder
// cannot set: route tables are built at start-up, so that is a programming
// error.
func structInfoOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("awsapi: input type %v is not a struct", t))
	}
	si := &structInfo{typ: t, labels: map[string]*fieldInfo{}, query: map[string]*fieldInfo{}, payload: -1}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if v, ok := f.Tag.Lookup("payload"); ok {
			if v != "true" || f.Type != reflect.TypeFor[[]byte]() || si.payload >= 0 ||
				f.Tag.Get("uri")+f.Tag.Get("query")+f.Tag.Get("header") != "" {
				panic(fmt.Sprintf("awsapi: %v.%s: one untagged []byte field may be tagged payload:\"true\"", t, f.Name))
			}
			si.payload = i
			continue
		}
		bound := false
		for _, loc := range [...]string{"uri", "query", "header"} {
			name, ok := f.Tag.Lookup(loc)
			if !ok {
				continue
			}
			if name == "" || bound {
				panic(fmt.Sprintf("awsapi: %v.%s: one non-empty uri, query or header tag per field", t, f.Name))
			}
			if !settable(f.Type, loc) {
				panic(fmt.Sprintf("awsapi: %v.%s: cannot bind %v from %s", t, f.Name, f.Type, loc))
			}
			bound = true
			fi := &fieldInfo{index: i, name: name}
			switch loc {
			case "uri":
				si.labels[name] = fi
			case "query":
				si.query[name] = fi
			case "header":
				fi.header = http.CanonicalHeaderKey(name)
				si.headers = append(si.headers, fi)
			}
		}
		if !bound && f.Tag.Get("json") != "-" {
			si.hasBody = true
		}
	}
	if si.payload >= 0 && si.hasBody {
		panic(fmt.Sprintf("awsapi: %v: a raw payload field excludes JSON body fields", t))
	}
	actual, _ := structInfos.LoadOrStore(t, si)
	return actual.(*structInfo)
}

// settable reports whether setField can set a field of type t bound from
// loc. Lists come from repeated query parameters or comma-separated headers.
func settable(t reflect.Type, loc string) bool {
	switch reflect.New(t).Interface().(type) {
	case *string, *bool, *int, *int32, *int64,
		**string, **bool, **int, **int32, **int64:
		return true
	case *[]string:
		return loc != "uri"
	}
	return false
}

// setField sets field fv (addressable) from the text s; name is the wire
// name for error messages.
func setField(fv reflect.Value, name, s string) error {
	switch p := fv.Addr().Interface().(type) {
	case *string:
		*p = s
	case **string:
		*p = &s
	case *[]string:
		*p = append(*p, s)
	case *bool:
		b, err := parseBool(name, s)
		*p = b
		return err
	case **bool:
		b, err := parseBool(name, s)
		*p = &b
		return err
	case *int:
		n, err := parseInt(name, s, strconv.IntSize)
		*p = int(n)
		return err
	case **int:
		n, err := parseInt(name, s, strconv.IntSize)
		v := int(n)
		*p = &v
		return err
	case *int32:
		n, err := parseInt(name, s, 32)
		*p = int32(n)
		return err
	case **int32:
		n, err := parseInt(name, s, 32)
		v := int32(n)
		*p = &v
		return err
	case *int64:
		n, err := parseInt(name, s, 64)
		*p = n
		return err
	case **int64:
		n, err := parseInt(name, s, 64)
		*p = &n
		return err
	default:
		return fmt.Errorf("awsapi: cannot bind %s into %v", name, fv.Type())
	}
	return nil
}

func parseBool(name, s string) (bool, error) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, nil
	case strings.EqualFold(s, "false"):
		return false, nil
	}
	return false, invalidValue(name, s, "Member must be a boolean (true or false)")
}

func parseInt(name, s string, bits int) (int64, error) {
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, invalidValue(name, s, "Member must be an integer")
	}
	return n, nil
}

func invalidValue(name, value, constraint string) *iotdm.Error {
	return iotdm.Errorf(iotdm.ErrInvalidRequest,
		"1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, name, constraint)
}

// request is the raw material of one binding.
type request struct {
	labels      []string     // escaped label values, in template order
	labelFields []*fieldInfo // the field of each label
	rawQuery    string
	header      http.Header
	body        []byte
}

// bind fills in (a pointer to a struct of si's type; v is its element) from
// req: the JSON body (or the raw payload) first, then labels, query
// parameters and headers, so that those win over anything the body says.
func (si *structInfo) bind(in any, v reflect.Value, req *request) error {
	if si.payload >= 0 {
		v.Field(si.payload).SetBytes(bytes.Clone(req.body))
	}
	if si.hasBody {
		if b := bytes.TrimSpace(req.body); len(b) > 0 {
			if err := json.Unmarshal(b, in); err != nil {
				return bodyError(err)
			}
		}
	}
	for i, f := range req.labelFields {
		s, err := url.PathUnescape(req.labels[i])
		if err != nil {
			return iotdm.Errorf(iotdm.ErrInvalidRequest, "Invalid escaping in path label '%s'.", f.name)
		}
		if err := setField(v.Field(f.index), f.name, s); err != nil {
			return err
		}
	}
	if len(si.query) > 0 && req.rawQuery != "" {
		if err := si.bindQuery(v, req.rawQuery); err != nil {
			return err
		}
	}
	for _, f := range si.headers {
		values := req.header[f.header]
		if len(values) == 0 {
			continue
		}
		if err := setHeader(v.Field(f.index), f.name, values); err != nil {
			return err
		}
	}
	return nil
}

// bindQuery sets the query-bound fields from a raw query string. Parameters
// the struct does not declare are ignored; a repeated scalar parameter keeps
// its last value.
func (si *structInfo) bindQuery(v reflect.Value, raw string) error {
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return iotdm.Errorf(iotdm.ErrInvalidRequest, "Invalid escaping in query string.")
		}
		f := si.query[name]
		if f == nil {
			continue
		}
		s, err := url.QueryUnescape(val)
		if err != nil {
			return iotdm.Errorf(iotdm.ErrInvalidRequest, "Invalid escaping in query parameter '%s'.", name)
		}
		if err := setField(v.Field(f.index), name, s); err != nil {
			return err
		}
	}
	return nil
}

// setHeader sets a header-bound field: lists split on commas, scalars take
// the first value, trimmed.
func setHeader(fv reflect.Value, name string, values []string) error {
	if _, isList := fv.Addr().Interface().(*[]string); isList {
		for _, v := range values {
			for item := range strings.SplitSeq(v, ",") {
				if err := setField(fv, name, strings.TrimSpace(item)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return setField(fv, name, strings.TrimSpace(values[0]))
}

// bodyError turns a JSON decoding failure into InvalidRequestException
// without naming Go types.
func bodyError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return iotdm.Errorf(iotdm.ErrInvalidRequest, "Could not parse request body into json: %s at offset %d.", syn.Error(), syn.Offset)
	case errors.As(err, &typ):
		where := typ.Field
		if where == "" {
			where = "the request body"
		}
		return iotdm.Errorf(iotdm.ErrInvalidRequest, "Could not parse request body into json: unexpected %s at '%s'.", typ.Value, where)
	default:
		return iotdm.Errorf(iotdm.ErrInvalidRequest, "Could not parse request body into json: invalid value.")
	}
}
