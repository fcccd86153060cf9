package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// confEntry is one key = value line of a config file, or a line that is
// not one (problem set).
type confEntry struct {
	line    int // 1-based
	key     string
	value   string
	problem string // "path:line: reason" when the line does not parse
}

// parseConfigFile parses the config file format:
//
//	# a comment line
//	key = value              # bare value; a comment may follow after a space
//	key = "quoted value"     # Go-style escapes: \" \\ \t \n \u00e9
//	key = 'literal value'    # no escapes
//
// Blank lines are ignored. Keys are not checked here. Entries come in line
// order; each malformed line is an entry with its problem, "path:line: reason".
func parseConfigFile(path string, data []byte) []confEntry {
	var entries []confEntry
	bad := func(n int, format string, args ...any) {
		entries = append(entries, confEntry{line: n, problem: fmt.Sprintf("%s:%d: ", path, n) + fmt.Sprintf(format, args...)})
	}
	text := strings.TrimPrefix(string(data), "\uFEFF")
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		key, rest, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok {
			bad(n, "expected key = value, got %q", line)
			continue
		}
		if key == "" || strings.IndexFunc(key, unicode.IsSpace) >= 0 {
			bad(n, "expected a key before '=', got %q", key)
			continue
		}
		val, err := parseConfigValue(strings.TrimSpace(rest))
		if err != nil {
			bad(n, "%s: %v", key, err)
			continue
		}
		entries = append(entries, confEntry{line: n, key: key, value: val})
	}
	return entries
}

// parseConfigValue parses the text after '=', already trimmed.
func parseConfigValue(s string) (string, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		end := closingQuote(s)
		if end < 0 {
			return "", fmt.Errorf("unterminated quoted value %s", s)
		}
		v, err := strconv.Unquote(s[:end+1])
		if err != nil {
			return "", fmt.Errorf("bad quoted value %s: %w", s[:end+1], err)
		}
		return v, trailingComment(s[end+1:])
	case strings.HasPrefix(s, "'"):
		end := strings.IndexByte(s[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("unterminated quoted value %s", s)
		}
		return s[1 : end+1], trailingComment(s[end+2:])
	}
	// A bare value ends where a comment starts: a '#' at its start or after
	// white space.
	if strings.HasPrefix(s, "#") {
		return "", nil
	}
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			s = s[:i]
			break
		}
	}
	return strings.TrimSpace(s), nil
}

// closingQuote returns the index of the '"' closing the string s starts, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// trailingComment checks that only white space and a comment follow a
// quoted value.
func trailingComment(rest string) error {
	rest = strings.TrimSpace(rest)
	if rest == "" || rest[0] == '#' {
		return nil
	}
	return fmt.Errorf("unexpected %q after the quoted value", rest)
}
