package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// jval is one JSON value with the order of object members kept, so that
// errors and evaluation follow the document as written and duplicate keys can
// be refused (encoding/json would silently keep the last one).
type jval struct {
	kind jkind
	s    string // string value, number text as written, or "true"/"false"
	arr  []jval
	obj  []jfield
}

type jfield struct {
	key string
	val jval
}

type jkind uint8

const (
	jString jkind = iota
	jNumber
	jBool
	jNull
	jArray
	jObject
)

func (k jkind) String() string {
	switch k {
	case jString:
		return "a string"
	case jNumber:
		return "a number"
	case jBool:
		return "a boolean"
	case jNull:
		return "null"
	case jArray:
		return "an array"
	default:
		return "an object"
	}
}

// maxDepth bounds nesting. The deepest legal element, a condition value list,
// sits at depth 5 (document, Statement array, statement, Condition, operator
// block, value list); anything much deeper is malformed anyway.
const maxDepth = 8

// decodeJSON reads exactly one JSON value from doc.
func decodeJSON(doc []byte) (jval, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return jval{}, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return jval{}, errorf("", "unexpected data after the JSON document at offset %d", dec.InputOffset())
	}
	return v, nil
}

func jsonError(err error) error {
	var pe *Error
	var se *json.SyntaxError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &se):
		return errorf("", "invalid JSON at offset %d: %s", se.Offset, se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf("", "invalid JSON: unexpected end of the document")
	default:
		return errorf("", "invalid JSON: %v", err)
	}
}

func readValue(dec *json.Decoder, depth int) (jval, error) {
	if depth > maxDepth {
		return jval{}, errorf("", "JSON nested more than %d levels deep at offset %d", maxDepth, dec.InputOffset())
	}
	tok, err := dec.Token()
	if err != nil {
		return jval{}, err
	}
	switch t := tok.(type) {
	case string:
		return jval{kind: jString, s: t}, nil
	case json.Number:
		return jval{kind: jNumber, s: string(t)}, nil
	case bool:
		if t {
			return jval{kind: jBool, s: "true"}, nil
		}
		return jval{kind: jBool, s: "false"}, nil
	case nil:
		return jval{kind: jNull}, nil
	case json.Delim:
		switch t {
		case '[':
			v := jval{kind: jArray}
			for dec.More() {
				e, err := readValue(dec, depth+1)
				if err != nil {
					return jval{}, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return jval{}, err
			}
			return v, nil
		case '{':
			v := jval{kind: jObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jval{}, err
				}
				key, ok := kt.(string)
				if !ok { // the decoder refuses this itself; kept for safety
					return jval{}, errorf("", "invalid JSON: object key is not a string at offset %d", dec.InputOffset())
				}
				for _, f := range v.obj {
					if f.key == key {
						return jval{}, errorf("", "duplicate key %q at offset %d", key, dec.InputOffset())
					}
				}
				e, err := readValue(dec, depth+1)
				if err != nil {
					return jval{}, err
				}
				v.obj = append(v.obj, jfield{key: key, val: e})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return jval{}, err
			}
			return v, nil
		}
	}
	return jval{}, errorf("", "invalid JSON at offset %d", dec.InputOffset())
}
