package sim

import (
	"fmt"
	"slices"
	"strings"
)

// Attributes are the thing attributes of a provisioning run. A key may have
// several values: device i gets value i mod len, so a fleet spreads evenly
// over locations, firmware versions and the like.
type Attributes map[string][]string

// maxAttributesText bounds what ParseAttributes reads.
const maxAttributesText = 64 << 10

// ParseAttributes parses "k=v,k2=v1|v2|v3": comma-separated pairs, each
// value a |-separated list to deal out round-robin. An empty string is no
// attributes.
func ParseAttributes(s string) (Attributes, error) {
	if len(s) > maxAttributesText {
		return nil, fmt.Errorf("attributes: longer than %d bytes", maxAttributesText)
	}
	out := Attributes{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for i, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("attributes: pair %d (%q) is not KEY=VALUE", i+1, pair)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("attributes: key %q given twice", k)
		}
		vals := strings.Split(v, "|")
		for j := range vals {
			vals[j] = strings.TrimSpace(vals[j])
		}
		out[k] = vals
	}
	return out, nil
}

// For returns the attributes of the i-th device.
func (a Attributes) For(i int) map[string]string {
	if len(a) == 0 {
		return nil
	}
	m := make(map[string]string, len(a))
	for k, vals := range a {
		m[k] = vals[i%len(vals)]
	}
	return m
}

// String is the attributes in ParseAttributes' syntax, keys sorted.
func (a Attributes) String() string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strings.Join(a[k], "|"))
	}
	return b.String()
}

// Names returns count thing names prefix+number, numbers from start, zero
// padded to at least five digits so that the names sort in order and a
// later, larger run names the same devices the same way.
func Names(prefix string, start, count int) []string {
	width := max(5, len(fmt.Sprint(start+count-1)))
	out := make([]string, count)
	for i := range out {
		out[i] = fmt.Sprintf("%s%0*d", prefix, width, start+i)
	}
	return out
}
