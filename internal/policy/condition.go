package policy

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// operator is a parsed condition operator: a base comparison, whether it is
// negated, an optional set qualifier and the IfExists suffix (AWS §4.5, the
// IAM condition operators).
type operator struct {
	base     baseOp
	negated  bool
	set      setQualifier
	ifExists bool
}

type baseOp uint8

const (
	opStringEquals baseOp = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opIPAddress
	opArnLike
	opNull
)

type setQualifier uint8

const (
	setNone setQualifier = iota
	setAnyValue
	setAllValues
)

// operators maps lower-cased operator names to their meaning.
var operators = map[string]struct {
	base    baseOp
	negated bool
}{
	"stringequals":              {opStringEquals, false},
	"stringnotequals":           {opStringEquals, true},
	"stringequalsignorecase":    {opStringEqualsIgnoreCase, false},
	"stringnotequalsignorecase": {opStringEqualsIgnoreCase, true},
	"stringlike":                {opStringLike, false},
	"stringnotlike":             {opStringLike, true},
	"numericequals":             {opNumericEquals, false},
	"numericnotequals":          {opNumericEquals, true},
	"numericlessthan":           {opNumericLessThan, false},
	"numericlessthanequals":     {opNumericLessThanEquals, false},
	"numericgreaterthan":        {opNumericGreaterThan, false},
	"numericgreaterthanequals":  {opNumericGreaterThanEquals, false},
	"dateequals":                {opDateEquals, false},
	"datenotequals":             {opDateEquals, true},
	"datelessthan":              {opDateLessThan, false},
	"datelessthanequals":        {opDateLessThanEquals, false},
	"dategreaterthan":           {opDateGreaterThan, false},
	"dategreaterthanequals":     {opDateGreaterThanEquals, false},
	"bool":                      {opBool, false},
	"ipaddress":                 {opIPAddress, false},
	"notipaddress":              {opIPAddress, true},
	"arnequals":                 {opArnLike, false},
	"arnlike":                   {opArnLike, false},
	"arnnotequals":              {opArnLike, true},
	"arnnotlike":                {opArnLike, true},
	"null":                      {opNull, false},
}

// parseOperator parses "[ForAnyValue:|ForAllValues:]Name[IfExists]",
// case-insensitively.
func parseOperator(s string) (operator, error) {
	var op operator
	name := s
	if rest, ok := cutPrefixFold(name, "ForAnyValue:"); ok {
		op.set, name = setAnyValue, rest
	} else if rest, ok := cutPrefixFold(name, "ForAllValues:"); ok {
		op.set, name = setAllValues, rest
	}
	lower := strings.ToLower(name)
	if base, ok := strings.CutSuffix(lower, "ifexists"); ok && base != "null" {
		if _, known := operators[base]; known {
			op.ifExists, lower = true, base
		}
	}
	o, ok := operators[lower]
	if !ok {
		return op, fmt.Errorf("%q is not a condition operator", s)
	}
	op.base, op.negated = o.base, o.negated
	if op.base == opNull && op.set != setNone {
		return op, fmt.Errorf("Null takes no ForAnyValue or ForAllValues qualifier")
	}
	return op, nil
}

// substitutes reports whether the operator's values may hold policy
// variables; IAM substitutes them in string, ARN and Bool values only.
func (op operator) substitutes() bool {
	switch op.base {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opArnLike, opBool:
		return true
	}
	return false
}

// globbing reports whether the operator's values are glob patterns.
func (op operator) globbing() bool {
	return op.base == opStringLike || op.base == opArnLike
}

// conditionsHold reports whether every condition of st holds for ctx, adding
// absent keys and variables to miss. All conditions are evaluated, so that
// miss is complete.
func (st *Statement) conditionsHold(ctx *Context, miss *missing) bool {
	ok := true
	for i := range st.Conditions {
		if !st.Conditions[i].holds(ctx, miss) {
			ok = false
		}
	}
	return ok
}

// holds evaluates one condition with the IAM rules: a negated operator holds
// when no key value matches any condition value; ForAnyValue needs one key
// value to satisfy the operator, ForAllValues every one (an absent key
// satisfies ForAllValues and fails ForAnyValue); an absent key fails a
// positive operator and satisfies a negated one, and satisfies any
// ...IfExists operator; Null tests presence alone.
func (c *Condition) holds(ctx *Context, miss *missing) bool {
	keyVals, _, _ := lookup(ctx, c.Key)
	if c.op.base == opNull {
		absent := len(keyVals) == 0
		for _, v := range c.Values {
			if strings.EqualFold(v, "true") && absent || strings.EqualFold(v, "false") && !absent {
				return true
			}
		}
		return false
	}
	if len(keyVals) == 0 {
		if c.op.ifExists {
			return true
		}
		miss.add(c.Key)
		switch c.op.set {
		case setAllValues:
			return true
		case setAnyValue:
			return false
		}
		return c.op.negated
	}
	// Expand the condition values once.
	values := make([]string, len(c.values))
	for i := range c.values {
		segs := c.values[i].expand(ctx, miss)
		if c.op.globbing() {
			values[i] = escape(segs)
		} else {
			values[i] = plain(segs)
		}
	}
	// sat reports whether one key value satisfies the operator.
	sat := func(kv string) bool {
		for _, cv := range values {
			if compare(c.op.base, kv, cv) {
				return !c.op.negated
			}
		}
		return c.op.negated
	}
	switch c.op.set {
	case setAnyValue:
		for _, kv := range keyVals {
			if sat(kv) {
				return true
			}
		}
		return false
	case setAllValues:
		for _, kv := range keyVals {
			if !sat(kv) {
				return false
			}
		}
		return true
	}
	// No qualifier: a positive operator needs some key value to match, a
	// negated one needs no key value to match.
	if c.op.negated {
		for _, kv := range keyVals {
			if !sat(kv) {
				return false
			}
		}
		return true
	}
	for _, kv := range keyVals {
		if sat(kv) {
			return true
		}
	}
	return false
}

// compare applies a base operator to a key value and one condition value.
// Values that do not parse as the operator's type never match.
func compare(op baseOp, kv, cv string) bool {
	switch op {
	case opStringEquals:
		return kv == cv
	case opStringEqualsIgnoreCase:
		return strings.EqualFold(kv, cv)
	case opStringLike:
		return refMatch(cv, kv, false)
	case opBool:
		return strings.EqualFold(kv, cv)
	case opArnLike:
		return arnLike(cv, kv)
	case opIPAddress:
		a, err := netip.ParseAddr(kv)
		if err != nil {
			return false
		}
		p, ok := parsePrefix(cv)
		return ok && p.Contains(a.Unmap())
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		k, err1 := strconv.ParseFloat(strings.TrimSpace(kv), 64)
		v, err2 := strconv.ParseFloat(strings.TrimSpace(cv), 64)
		if err1 != nil || err2 != nil || math.IsNaN(k) || math.IsNaN(v) {
			return false
		}
		return order(op-opNumericEquals, cmpFloat(k, v))
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		k, ok1 := parseDate(kv)
		v, ok2 := parseDate(cv)
		if !ok1 || !ok2 {
			return false
		}
		return order(op-opDateEquals, k.Compare(v))
	}
	return false
}

// order applies the comparison at offset rel from *Equals (Equals, LessThan,
// LessThanEquals, GreaterThan, GreaterThanEquals) to a three-way result.
func order(rel baseOp, c int) bool {
	switch rel {
	case 0:
		return c == 0
	case 1:
		return c < 0
	case 2:
		return c <= 0
	case 3:
		return c > 0
	default:
		return c >= 0
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parsePrefix reads a CIDR block or a single address.
func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		p = p.Masked()
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, false
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p, true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// dateLayouts are the ISO 8601 forms a date condition value may take;
// a plain integer is epoch seconds.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02",
}

func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// arnLike matches an ARN against an escaped ARN pattern the IAM way: both
// have six colon-separated parts (the last may contain colons) and each
// part of the pattern globs the same part of the ARN.
func arnLike(pattern, arn string) bool {
	pp := splitARN(pattern, true)
	ap := splitARN(arn, false)
	if pp == nil || ap == nil {
		return false
	}
	for i := range pp {
		if !refMatch(pp[i], ap[i], false) {
			return false
		}
	}
	return true
}

// splitARN splits s into its six ARN parts, nil when it has fewer. In an
// escaped pattern, an escaped colon does not split.
func splitARN(s string, escaped bool) []string {
	parts := make([]string, 0, 6)
	start := 0
	for i := 0; i < len(s) && len(parts) < 5; i++ {
		switch {
		case escaped && s[i] == '\\':
			i++
		case s[i] == ':':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	if len(parts) < 5 {
		return nil
	}
	return append(parts, s[start:])
}
