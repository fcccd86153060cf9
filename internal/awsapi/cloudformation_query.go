package awsapi

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// The query protocol flattens the input into form keys named by member
// path: a structure member is Name.Member, a list is Name.member.N (from 1;
// an empty list is Name with an empty value), a map is Name.entry.N.key and
// Name.entry.N.value. cfnForm binds such a form to a Go struct whose field
// names are the member names, and cfnWriteFields writes a Go struct as the
// XML of the output shape: one element per field, named as the field, lists
// as <member> elements, maps as <entry><key/><value/></entry>.

// cfnTimeLayout is how CloudFormation writes timestamps: ISO 8601, UTC,
// milliseconds.
const cfnTimeLayout = "2006-01-02T15:04:05.000Z"

// cfnForm is the request's parameters, first value of each key, with the
// keys sorted so the keys under a prefix are one run.
type cfnForm struct {
	vals map[string]string
	keys []string
}

func newCFNForm(v url.Values) *cfnForm {
	f := &cfnForm{vals: make(map[string]string, len(v))}
	for k, vs := range v {
		if len(vs) > 0 {
			f.vals[k] = vs[0]
		}
	}
	f.keys = slices.Sorted(maps.Keys(f.vals))
	return f
}

func (f *cfnForm) get(key string) string { return f.vals[key] }

func (f *cfnForm) lookup(key string) (string, bool) {
	v, ok := f.vals[key]
	return v, ok
}

// under returns the keys that start with prefix, in order.
func (f *cfnForm) under(prefix string) []string {
	i := sort.SearchStrings(f.keys, prefix)
	j := i
	for j < len(f.keys) && strings.HasPrefix(f.keys[j], prefix) {
		j++
	}
	return f.keys[i:j]
}

// indices returns the distinct positive indices N of the keys prefix+N and
// prefix+N.*, in ascending order. Other keys under prefix are ignored.
func (f *cfnForm) indices(prefix string) []int {
	var out []int
	seen := map[int]bool{}
	for _, k := range f.under(prefix) {
		seg, _, _ := strings.Cut(k[len(prefix):], ".")
		n, err := strconv.Atoi(seg)
		if err != nil || n < 1 || seen[n] || strconv.Itoa(n) != seg {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// checkRequired reports the required members the form lacks or leaves
// empty, all at once, worded as AWS words them.
func (f *cfnForm) checkRequired(members []string) error {
	var problems []string
	for _, m := range members {
		v, ok := f.lookup(m)
		switch {
		case !ok && len(f.under(m+".")) == 0:
			problems = append(problems, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", cfnPath(m)))
		case ok && v == "":
			problems = append(problems, fmt.Sprintf("Value '' at '%s' failed to satisfy constraint: Member must have length greater than or equal to 1", cfnPath(m)))
		}
	}
	return cfnValidation(problems)
}

// cfnValidation is AWS's ValidationError listing problems, or nil for none.
func cfnValidation(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	plural := "s"
	if len(problems) == 1 {
		plural = ""
	}
	return iotdm.Errorf(iotdm.ErrValidationError, "%d validation error%s detected: %s", len(problems), plural, strings.Join(problems, "; "))
}

// cfnPath is a form key as AWS names members in validation messages: each
// segment with a lower-case first letter (Parameters.member.1.ParameterKey
// becomes parameters.member.1.parameterKey).
func cfnPath(key string) string {
	segs := strings.Split(key, ".")
	for i, s := range segs {
		if s != "" {
			segs[i] = strings.ToLower(s[:1]) + s[1:]
		}
	}
	return strings.Join(segs, ".")
}

var cfnTimeType = reflect.TypeFor[time.Time]()

// cfnCodecCheck reports a type below t that the codec cannot carry.
func cfnCodecCheck(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Float32, reflect.Float64:
		return nil
	case reflect.Pointer, reflect.Slice:
		return cfnCodecCheck(t.Elem(), seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("map key of %v is not a string", t)
		}
		return cfnCodecCheck(t.Elem(), seen)
	case reflect.Struct:
		if t == cfnTimeType {
			return nil
		}
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				if err := cfnCodecCheck(f.Type, seen); err != nil {
					return fmt.Errorf("%v.%s: %w", t, f.Name, err)
				}
			}
		}
		return nil
	}
	return fmt.Errorf("cannot carry %v", t)
}

// decode sets the exported fields of v, a struct, from the keys under
// prefix (which is "" or ends in '.'). Absent members leave fields zero.
func (f *cfnForm) decode(v reflect.Value, prefix string) error {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		if err := f.decodeValue(v.Field(i), prefix+sf.Name); err != nil {
			return err
		}
	}
	return nil
}

// decodeValue sets v from the member at key, when the form has it.
func (f *cfnForm) decodeValue(v reflect.Value, key string) error {
	switch {
	case v.Kind() == reflect.Pointer:
		if !f.present(v.Type().Elem(), key) {
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := f.decodeValue(p.Elem(), key); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case v.Kind() == reflect.Slice:
		return f.decodeList(v, key)
	case v.Kind() == reflect.Map:
		return f.decodeMap(v, key)
	case v.Kind() == reflect.Struct && v.Type() != cfnTimeType:
		return f.decode(v, key+".")
	}
	s, ok := f.lookup(key)
	if !ok {
		return nil
	}
	return cfnSetScalar(v, key, s)
}

// present reports whether the form holds a member of type t at key.
func (f *cfnForm) present(t reflect.Type, key string) bool {
	if _, ok := f.lookup(key); ok {
		return true
	}
	k := t.Kind()
	return (k == reflect.Struct && t != cfnTimeType || k == reflect.Slice || k == reflect.Map) &&
		len(f.under(key+".")) > 0
}

// decodeList sets v, a slice, from key.member.N; key with an empty value is
// an empty list.
func (f *cfnForm) decodeList(v reflect.Value, key string) error {
	prefix := key + ".member."
	idx := f.indices(prefix)
	if len(idx) == 0 {
		if s, ok := f.lookup(key); ok && s == "" {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		return nil
	}
	list := reflect.MakeSlice(v.Type(), len(idx), len(idx))
	for i, n := range idx {
		if err := f.decodeValue(list.Index(i), prefix+strconv.Itoa(n)); err != nil {
			return err
		}
	}
	v.Set(list)
	return nil
}

// decodeMap sets v, a map with string keys, from key.entry.N.key and
// key.entry.N.value.
func (f *cfnForm) decodeMap(v reflect.Value, key string) error {
	if v.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("awsapi: cannot decode a query map into %v", v.Type()))
	}
	prefix := key + ".entry."
	idx := f.indices(prefix)
	if len(idx) == 0 {
		return nil
	}
	m := reflect.MakeMapWithSize(v.Type(), len(idx))
	for _, n := range idx {
		entry := prefix + strconv.Itoa(n)
		k, ok := f.lookup(entry + ".key")
		if !ok {
			return cfnValidation([]string{fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", cfnPath(entry+".key"))})
		}
		val := reflect.New(v.Type().Elem()).Elem()
		if err := f.decodeValue(val, entry+".value"); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), val)
	}
	v.Set(m)
	return nil
}

// cfnSetScalar sets v, a string, boolean, number or timestamp, from s.
func cfnSetScalar(v reflect.Value, key, s string) error {
	bad := func(want string) error {
		return cfnValidation([]string{fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must be %s", s, cfnPath(key), want)})
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return bad("a boolean")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return bad("an integer")
		}
		v.SetInt(n)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return bad("a number")
		}
		v.SetFloat(x)
	case reflect.Struct: // time.Time
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad("an ISO 8601 timestamp")
		}
		v.Set(reflect.ValueOf(t))
	default:
		panic(fmt.Sprintf("awsapi: cannot decode a query value into %v", v.Type()))
	}
	return nil
}

// cfnWriteFields writes the exported fields of v, a struct, as elements
// named after the fields. Empty strings, nil pointers, slices and maps and
// zero timestamps are left out; booleans and numbers are always written;
// an empty non-nil slice is an empty element.
func cfnWriteFields(b *bytes.Buffer, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		if sf := t.Field(i); sf.IsExported() {
			cfnWriteValue(b, sf.Name, v.Field(i), false)
		}
	}
}

// cfnWriteValue writes v as the element name. always writes an empty
// string (a list member or map value, or a string behind a pointer).
func cfnWriteValue(b *bytes.Buffer, name string, v reflect.Value, always bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			cfnWriteValue(b, name, v.Elem(), true)
		}
		return
	case reflect.String:
		if v.Len() == 0 && !always {
			return
		}
		cfnOpen(b, name)
		cfnEscape(b, v.String())
	case reflect.Bool:
		cfnOpen(b, name)
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		cfnOpen(b, name)
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Float32, reflect.Float64:
		cfnOpen(b, name)
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, v.Type().Bits()))
	case reflect.Struct:
		if v.Type() == cfnTimeType {
			ts := v.Interface().(time.Time)
			if ts.IsZero() {
				return
			}
			cfnOpen(b, name)
			b.WriteString(ts.UTC().Format(cfnTimeLayout))
			break
		}
		cfnOpen(b, name)
		cfnWriteFields(b, v)
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		if v.Len() == 0 {
			b.WriteString("<" + name + "/>")
			return
		}
		cfnOpen(b, name)
		for i := range v.Len() {
			cfnWriteValue(b, "member", v.Index(i), true)
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		cfnOpen(b, name)
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int { return strings.Compare(x.String(), y.String()) })
		for _, k := range keys {
			b.WriteString("<entry>")
			cfnWriteValue(b, "key", k, true)
			cfnWriteValue(b, "value", v.MapIndex(k), true)
			b.WriteString("</entry>")
		}
	default:
		panic(fmt.Sprintf("awsapi: cannot encode %v as query XML", v.Type()))
	}
	b.WriteString("</" + name + ">")
}

func cfnOpen(b *bytes.Buffer, name string) {
	b.WriteString("<" + name + ">")
}

// cfnEscape writes s as XML character data.
func cfnEscape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a bytes.Buffer does not fail
}
