package control

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// Fleet provisioning speaks JSON or CBOR (RFC 8949), by the last level of
// the request topic (AWS §5.4). Its messages are small maps of strings, so
// iotdm decodes CBOR into the plain values encoding/json uses (map[string]any,
// []any, string, float64, bool, nil) and encodes those back, rather than
// carrying a general CBOR library.

// maxCBORDepth bounds the nesting of a decoded CBOR value.
const maxCBORDepth = 32

var errCBOR = errors.New("malformed CBOR")

// cborDecode decodes one CBOR data item that fills b.
func cborDecode(b []byte) (any, error) {
	d := cborDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the value", errCBOR, len(b)-d.off)
	}
	return v, nil
}

type cborDecoder struct {
	b   []byte
	off int
}

// head reads an initial byte and its argument. indefinite is set for
// additional information 31.
func (d *cborDecoder) head() (major byte, arg uint64, indefinite bool, err error) {
	if d.off >= len(d.b) {
		return 0, 0, false, fmt.Errorf("%w: unexpected end", errCBOR)
	}
	ib := d.b[d.off]
	d.off++
	major, info := ib>>5, ib&0x1f
	var n int
	switch {
	case info < 24:
		return major, uint64(info), false, nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	case info == 31:
		return major, 0, true, nil
	default:
		return 0, 0, false, fmt.Errorf("%w: reserved additional information %d", errCBOR, info)
	}
	if len(d.b)-d.off < n {
		return 0, 0, false, fmt.Errorf("%w: unexpected end", errCBOR)
	}
	for _, c := range d.b[d.off : d.off+n] {
		arg = arg<<8 | uint64(c)
	}
	d.off += n
	return major, arg, false, nil
}

// length checks that a definite length fits in what is left.
func (d *cborDecoder) length(n uint64) (int, error) {
	if n > uint64(len(d.b)-d.off) {
		return 0, fmt.Errorf("%w: length %d beyond the end", errCBOR, n)
	}
	return int(n), nil
}

// isBreak consumes a break (0xff) if one is next.
func (d *cborDecoder) isBreak() bool {
	if d.off < len(d.b) && d.b[d.off] == 0xff {
		d.off++
		return true
	}
	return false
}

func (d *cborDecoder) value(depth int) (any, error) {
	if depth > maxCBORDepth {
		return nil, fmt.Errorf("%w: nested more than %d deep", errCBOR, maxCBORDepth)
	}
	start := d.off
	major, arg, indefinite, err := d.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case 0:
		return float64(arg), nil
	case 1:
		return -1 - float64(arg), nil
	case 2, 3:
		if indefinite {
			var s []byte
			for !d.isBreak() {
				// Each chunk is a definite string of the same major type.
				if d.off < len(d.b) && (d.b[d.off]>>5 != major || d.b[d.off]&0x1f == 31) {
					return nil, fmt.Errorf("%w: bad chunk of an indefinite string", errCBOR)
				}
				chunk, err := d.value(depth + 1)
				if err != nil {
					return nil, err
				}
				s = append(s, chunk.(string)...)
			}
			return string(s), nil
		}
		n, err := d.length(arg)
		if err != nil {
			return nil, err
		}
		s := string(d.b[d.off : d.off+n])
		d.off += n
		return s, nil
	case 4:
		var out []any
		for i := uint64(0); indefinite || i < arg; i++ {
			if indefinite && d.isBreak() {
				break
			}
			if !indefinite && i >= uint64(len(d.b)) {
				return nil, fmt.Errorf("%w: array longer than the input", errCBOR)
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case 5:
		out := map[string]any{}
		for i := uint64(0); indefinite || i < arg; i++ {
			if indefinite && d.isBreak() {
				break
			}
			if !indefinite && i >= uint64(len(d.b)) {
				return nil, fmt.Errorf("%w: map longer than the input", errCBOR)
			}
			k, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%w: map keys must be strings", errCBOR)
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out[key] = v
		}
		return out, nil
	case 6: // a tag: the tagged value stands for itself
		return d.value(depth + 1)
	default: // 7: simple values and floats
		info := d.b[start] & 0x1f
		switch {
		case info == 20:
			return false, nil
		case info == 21:
			return true, nil
		case info == 22, info == 23:
			return nil, nil
		case info == 25:
			return halfFloat(uint16(arg)), nil
		case info == 26:
			return float64(math.Float32frombits(uint32(arg))), nil
		case info == 27:
			return math.Float64frombits(arg), nil
		}
		return nil, fmt.Errorf("%w: unsupported simple value %d", errCBOR, arg)
	}
}

// halfFloat converts an IEEE 754 half-precision float.
func halfFloat(h uint16) float64 {
	exp, mant := int(h>>10&0x1f), float64(h&0x3ff)
	var v float64
	switch exp {
	case 0:
		v = math.Ldexp(mant, -24)
	case 31:
		v = math.Inf(1)
		if mant != 0 {
			v = math.NaN()
		}
	default:
		v = math.Ldexp(mant+1024, exp-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

// cborEncode encodes the plain values of encoding/json: maps (keys in
// sorted order), lists, strings, numbers (integers as integers), booleans
// and nil.
func cborEncode(v any) ([]byte, error) {
	return appendCBOR(nil, v)
}

func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

func appendCBOR(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, 0xf6), nil
	case bool:
		if x {
			return append(b, 0xf5), nil
		}
		return append(b, 0xf4), nil
	case string:
		return append(appendHead(b, 3, uint64(len(x))), x...), nil
	case int:
		return appendCBOR(b, float64(x))
	case float64:
		switch {
		case x == math.Trunc(x) && x >= 0 && x < 1<<63:
			return appendHead(b, 0, uint64(x)), nil
		case x == math.Trunc(x) && x < 0 && x >= -(1<<63):
			return appendHead(b, 1, uint64(-1-x)), nil
		}
		return binary.BigEndian.AppendUint64(append(b, 0xfb), math.Float64bits(x)), nil
	case []any:
		b = appendHead(b, 4, uint64(len(x)))
		for _, e := range x {
			var err error
			if b, err = appendCBOR(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	case map[string]any:
		b = appendHead(b, 5, uint64(len(x)))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			b = append(appendHead(b, 3, uint64(len(k))), k...)
			var err error
			if b, err = appendCBOR(b, x[k]); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("encode CBOR: unsupported value of type %T", v)
}
