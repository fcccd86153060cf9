package query

import (
	"strconv"
)

// maxSafeInt is 2^53: AWS §2.2 indexes integers in −2^53..2^53−1 as numbers.
const maxSafeInt = 1 << 53

// parseNumber reports whether s is a JSON number that AWS §2.2 indexes
// numerically, and its value. Integers outside −2^53..2^53−1 (long serial
// numbers, say) are not numbers: they stay text.
func parseNumber(s string) (float64, bool) {
	if !isJSONNumber(s) {
		return 0, false
	}
	isInt := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || c == 'e' || c == 'E' {
			isInt = false
			break
		}
	}
	if isInt {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < -maxSafeInt || n > maxSafeInt-1 {
			return 0, false
		}
		return float64(n), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of range of float64
		return 0, false
	}
	return f, true
}

// isJSONNumber reports whether s matches the JSON number grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func isJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
