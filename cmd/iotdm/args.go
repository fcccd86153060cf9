package main

import (
	"fmt"
	"strings"
)

// parseArgs parses command-line flags: --name=value, --name value, and the
// same with one dash. -h, -help and --help ask for help. A flag given twice
// keeps its last value. Unlike package flag it does not stop at the first
// mistake: every unknown flag, missing value and stray argument is a problem.
func parseArgs(args []string, known map[string]option) (flags map[string]string, help bool, problems []string) {
	flags = make(map[string]string)
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			for _, rest := range args[i+1:] {
				problems = append(problems, fmt.Sprintf("unexpected argument %q", rest))
			}
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			problems = append(problems, fmt.Sprintf("unexpected argument %q", arg))
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
		val, hasVal := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, val, hasVal = k, v, true
		}
		switch name {
		case "h", "help":
			return nil, true, nil
		}
		nextIsValue := i+1 < len(args) && !strings.HasPrefix(args[i+1], "-")
		if _, ok := known[name]; !ok {
			problems = append(problems, fmt.Sprintf("unknown flag %q", "--"+name))
			if !hasVal && nextIsValue {
				i++ // most likely its value; do not report it again
			}
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				problems = append(problems, fmt.Sprintf("flag %q needs a value", "--"+name))
				continue
			}
			i++
			val = args[i]
		}
		flags[name] = val
	}
	return flags, false, problems
}
