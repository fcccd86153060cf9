package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// linkedVersion is set at link time: -ldflags "-X main.linkedVersion=v1.2.3".
// It is never written at run time.
var linkedVersion string

// buildVersion returns the version of this binary: the linked version, else
// the module version from the build info, else the VCS revision, else "devel".
func buildVersion() string {
	if linkedVersion != "" {
		return linkedVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}

// runVersion prints the version line.
func runVersion(version string, stdout io.Writer) error {
	_, err := fmt.Fprintf(stdout, "iotdm %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
