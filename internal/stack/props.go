package stack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/iotdm/iotdm"
)

// Property readers for providers. CloudFormation hands providers every
// scalar as written in the template (a YAML 30 and "30" are the same
// property), so readers convert.

func propString(p map[string]any, key string) string {
	v, ok := p[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	s, err := outputString(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

func propMap(p map[string]any, key string) map[string]any {
	m, _ := p[key].(map[string]any)
	return m
}

func propStrings(p map[string]any, key string) ([]string, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		if ss, ok := v.([]string); ok {
			return ss, nil
		}
		return nil, fmt.Errorf("Properties validation failed: #/%s: expected type: JSONArray, found: %s", key, jsonTypeName(v))
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, err := outputString(e)
		if err != nil {
			return nil, fmt.Errorf("Properties validation failed: #/%s/%d: expected type: String", key, i)
		}
		out = append(out, s)
	}
	return out, nil
}

func propBool(p map[string]any, key string) (bool, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return false, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		b, err := strconv.ParseBool(x)
		if err != nil {
			return false, fmt.Errorf("Properties validation failed: #/%s: expected type: Boolean, found: String", key)
		}
		return b, nil
	}
	return false, fmt.Errorf("Properties validation failed: #/%s: expected type: Boolean, found: %s", key, jsonTypeName(v))
}

// propInt reads an integer property; ok is false when it is absent.
func propInt(p map[string]any, key string) (n int64, ok bool, err error) {
	v, present := p[key]
	if !present || v == nil {
		return 0, false, nil
	}
	s, err := outputString(v)
	if err != nil {
		return 0, false, fmt.Errorf("Properties validation failed: #/%s: expected type: Integer, found: %s", key, jsonTypeName(v))
	}
	n, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, false, fmt.Errorf("Properties validation failed: #/%s: expected type: Integer, found: %s", key, jsonTypeName(v))
		}
		n = int64(f)
	}
	return n, true, nil
}

// propFloat reads a number property; ok is false when it is absent.
func propFloat(p map[string]any, key string) (f float64, ok bool, err error) {
	v, present := p[key]
	if !present || v == nil {
		return 0, false, nil
	}
	s, err := outputString(v)
	if err == nil {
		f, err = strconv.ParseFloat(s, 64)
	}
	if err != nil {
		return 0, false, fmt.Errorf("Properties validation failed: #/%s: expected type: Number, found: %s", key, jsonTypeName(v))
	}
	return f, true, nil
}

// propStringMap reads a map of strings (attributes).
func propStringMap(p map[string]any, key string) (map[string]string, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("Properties validation failed: #/%s: expected type: JSONObject, found: %s", key, jsonTypeName(v))
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		s, err := outputString(e)
		if err != nil {
			return nil, fmt.Errorf("Properties validation failed: #/%s/%s: expected type: String", key, k)
		}
		out[k] = s
	}
	return out, nil
}

// propDocument reads a JSON document property that templates give either
// as an object or as a JSON string; it returns compact JSON.
func propDocument(p map[string]any, key string) (string, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return "", nil
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("Properties validation failed: #/%s: %w", key, err)
	}
	return string(b), nil
}

// resourceTags merges the stack's tags with the resource's Tags property
// (the resource's win), as CloudFormation propagates stack tags.
func resourceTags(r *Request) ([]iotdm.Tag, error) {
	m := map[string]string{}
	for _, t := range r.StackTags {
		m[t.Key] = t.Value
	}
	if v, ok := r.Properties["Tags"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("Properties validation failed: #/Tags: expected type: JSONArray, found: %s", jsonTypeName(v))
		}
		for i, e := range list {
			tm, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("Properties validation failed: #/Tags/%d: expected type: JSONObject", i)
			}
			k := propString(tm, "Key")
			if k == "" {
				return nil, fmt.Errorf("Properties validation failed: #/Tags/%d: required key [Key] not found", i)
			}
			m[k] = propString(tm, "Value")
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	out := make([]iotdm.Tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, iotdm.Tag{Key: k, Value: m[k]})
	}
	return out, nil
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case string:
		return "String"
	case bool:
		return "Boolean"
	case map[string]any:
		return "JSONObject"
	case []any:
		return "JSONArray"
	case nil:
		return "Null"
	default:
		return "Number"
	}
}

// tagKeysRemoved returns the keys in old but not in new.
func tagKeysRemoved(old, new []iotdm.Tag) []string {
	keep := map[string]bool{}
	for _, t := range new {
		keep[t.Key] = true
	}
	var out []string
	for _, t := range old {
		if !keep[t.Key] {
			out = append(out, t.Key)
		}
	}
	sort.Strings(out)
	return out
}

// isNotFound reports whether err says the resource does not exist.
func isNotFound(err error) bool {
	c := iotdm.CodeOf(err)
	return c == iotdm.ErrResourceNotFound || strings.HasSuffix(string(c), "NotFound") ||
		strings.HasSuffix(string(c), "NotFoundError") || strings.HasSuffix(string(c), "NotFoundException")
}

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
