package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// securityTypes are the resource types whose changes change what devices
// may do; a diff calls them out and deploy asks before applying them
// (--require-approval broadening).
var securityTypes = map[string]bool{
	"AWS::IoT::Policy":                    true,
	"AWS::IoT::PolicyPrincipalAttachment": true,
	"AWS::IoT::ThingPrincipalAttachment":  true,
	"AWS::IoT::Certificate":               true,
	"AWS::IoT::CACertificate":             true,
}

// securityProperties are the properties of those types whose change
// changes permissions (a policy's tags do not).
var securityProperties = map[string]bool{
	"PolicyDocument": true, "PolicyName": true, "Principal": true, "ThingName": true, "Status": true,
	"CertificateSigningRequest": true, "CertificatePem": true, "CACertificatePem": true,
}

// securityChanges returns the changes that touch device permissions: a
// security-relevant resource added or removed, or one of its
// security-relevant properties modified.
func securityChanges(changes []types.Change) []types.Change {
	var out []types.Change
	for _, c := range changes {
		rc := c.ResourceChange
		if rc == nil || !securityTypes[aws.ToString(rc.ResourceType)] {
			continue
		}
		relevant := rc.Action != types.ChangeActionModify
		for _, d := range rc.Details {
			if d.Target != nil && securityProperties[aws.ToString(d.Target.Name)] {
				relevant = true
			}
		}
		if relevant {
			out = append(out, c)
		}
	}
	return out
}

// printChanges writes a readable diff of a change set, in the manner of
// cdk diff: security changes first, then every resource with its property
// changes, before and after.
func printChanges(w io.Writer, stackName string, changes []types.Change) {
	fmt.Fprintf(w, "Stack %s\n", stackName)
	if sec := securityChanges(changes); len(sec) > 0 {
		fmt.Fprintf(w, "Security changes (what devices may do):\n")
		for _, c := range sec {
			printChange(w, c.ResourceChange)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Resources\n")
	for _, c := range changes {
		if c.ResourceChange != nil {
			printChange(w, c.ResourceChange)
		}
	}
	fmt.Fprintln(w)
}

func printChange(w io.Writer, rc *types.ResourceChange) {
	mark := map[types.ChangeAction]string{types.ChangeActionAdd: "[+]", types.ChangeActionModify: "[~]", types.ChangeActionRemove: "[-]"}[rc.Action]
	if mark == "" {
		mark = "[?]"
	}
	line := fmt.Sprintf("%s %s %s", mark, aws.ToString(rc.ResourceType), aws.ToString(rc.LogicalResourceId))
	if id := aws.ToString(rc.PhysicalResourceId); id != "" {
		line += " " + id
	}
	switch {
	case rc.Action == types.ChangeActionRemove:
		line += " (destroy)"
	case rc.Replacement == types.ReplacementTrue:
		line += " (replace)"
	case rc.Replacement == types.ReplacementConditional:
		line += " (may be replaced)"
	}
	fmt.Fprintln(w, line)
	if rc.Action == types.ChangeActionAdd {
		return
	}
	for i, d := range rc.Details {
		t := d.Target
		if t == nil {
			continue
		}
		last := i == len(rc.Details)-1
		branch, indent := " ├─", " │  "
		if last {
			branch, indent = " └─", "    "
		}
		name := aws.ToString(t.Name)
		if name == "" {
			name = string(t.Attribute)
		}
		note := ""
		switch t.RequiresRecreation {
		case types.RequiresRecreationAlways:
			note = " (requires replacement)"
		case types.RequiresRecreationConditionally:
			note = " (may cause replacement)"
		}
		fmt.Fprintf(w, "%s [~] %s%s\n", branch, name, note)
		before, after := aws.ToString(t.BeforeValue), aws.ToString(t.AfterValue)
		if strings.Contains(after, "{{known-after-deploy:") {
			after = "(known after deploy)"
		}
		bl, al := jsonLines(before), jsonLines(after)
		if len(bl) > 1 || len(al) > 1 {
			// Documents: a line diff, with the lines around changes.
			for _, l := range lineDiff(bl, al) {
				fmt.Fprintf(w, "%s    %s\n", indent, l)
			}
			continue
		}
		if before != "" {
			fmt.Fprintf(w, "%s ├─ [-] %s\n", indent, before)
		}
		if after != "" {
			fmt.Fprintf(w, "%s └─ [+] %s\n", indent, after)
		}
	}
}

// jsonLines returns v as lines: a JSON document pretty-printed, anything
// else as one line ("" as none).
func jsonLines(v string) []string {
	if v == "" {
		return nil
	}
	var buf bytes.Buffer
	if (strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")) && json.Indent(&buf, []byte(v), "", "  ") == nil {
		return strings.Split(buf.String(), "\n")
	}
	return []string{v}
}

// lineDiff returns a and b as a unified line diff: "- " lines only in a,
// "+ " lines only in b, "  " common lines within two of a change.
func lineDiff(a, b []string) []string {
	// Longest common subsequence, by dynamic programming: documents here
	// are a few hundred lines at most.
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var all []line
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			all = append(all, line{' ', a[i]})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			all = append(all, line{'-', a[i]})
			i++
		default:
			all = append(all, line{'+', b[j]})
			j++
		}
	}
	const context = 2
	near := make([]bool, len(all))
	for k, l := range all {
		if l.op == ' ' {
			continue
		}
		for d := max(0, k-context); d <= min(len(all)-1, k+context); d++ {
			near[d] = true
		}
	}
	var out []string
	skipped := false
	for k, l := range all {
		if !near[k] {
			if !skipped {
				out = append(out, "  ...")
			}
			skipped = true
			continue
		}
		skipped = false
		out = append(out, string(l.op)+" "+l.text)
	}
	return out
}
