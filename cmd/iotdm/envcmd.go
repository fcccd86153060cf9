package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// clearedVars are unset by iotdm env because the AWS CLI and SDKs would
// prefer them to the credentials file and endpoint it exports: static and
// session credentials (including legacy names), profiles, web identity
// roles, and switches that make a custom endpoint fail or be ignored.
var clearedVars = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
	"AWS_ACCESS_KEY", "AWS_SECRET_KEY",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
}

// serviceEndpointVar matches the service-specific endpoint variables
// (AWS_ENDPOINT_URL_IOT, AWS_ENDPOINT_URL_IOT_DATA_PLANE, ...), which
// override AWS_ENDPOINT_URL.
var serviceEndpointVar = regexp.MustCompile(`^AWS_ENDPOINT_URL_[A-Z0-9_]+$`)

// envSettings is what iotdm env exports.
type envSettings struct {
	Endpoint        string // AWS_ENDPOINT_URL
	CredentialsFile string // AWS_SHARED_CREDENTIALS_FILE, absolute
	ConfigFile      string // AWS_CONFIG_FILE, absolute
	Region          string // AWS_REGION and AWS_DEFAULT_REGION
}

// envScript renders the shell commands for eval: unset what would override
// the settings (the fixed list plus any service-specific endpoint variable
// present in environ), then export the settings. Values are quoted for POSIX
// shells.
func envScript(s envSettings, environ map[string]string) string {
	unset := slices.Clone(clearedVars)
	var extra []string
	for name := range environ {
		if serviceEndpointVar.MatchString(name) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	unset = append(unset, extra...)

	var b strings.Builder
	fmt.Fprintf(&b, "unset %s\n", strings.Join(unset, " "))
	for _, kv := range [][2]string{
		{"AWS_ENDPOINT_URL", s.Endpoint},
		{"AWS_SHARED_CREDENTIALS_FILE", s.CredentialsFile},
		{"AWS_CONFIG_FILE", s.ConfigFile},
		{"AWS_REGION", s.Region},
		{"AWS_DEFAULT_REGION", s.Region},
	} {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	return b.String()
}

// runEnv prints the shell commands that point the AWS CLI and SDKs at the
// server of cfg.DataDir. The endpoint and region come from server.json when
// that server runs, else from cfg, and stderr says so.
func runEnv(cfg Config, environ map[string]string, stdout, stderr io.Writer) error {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("resolve data directory: %w", err)
	}
	s := envSettings{
		Endpoint:        "http://" + clientHostPort(cfg.HTTPAddr),
		CredentialsFile: filepath.Join(dir, credentialsFileName),
		ConfigFile:      filepath.Join(dir, awsConfigFileName),
		Region:          cfg.Region,
	}
	st, err := readServerState(dir)
	switch {
	case err == nil && processAlive(st.PID) && st.Endpoint != "":
		s.Endpoint, s.Region = st.Endpoint, st.Region
	case err == nil:
		fmt.Fprintf(stderr, "iotdm: %s is stale (process %d is not running); using the configured endpoint %s\n",
			filepath.Join(dir, stateFileName), st.PID, s.Endpoint)
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(stderr, "iotdm: no server is running on %s; using the configured endpoint %s\n", dir, s.Endpoint)
	default:
		fmt.Fprintf(stderr, "iotdm: %v; using the configured endpoint %s\n", err, s.Endpoint)
	}
	if _, err := os.Stat(s.CredentialsFile); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "iotdm: %s does not exist yet; iotdm serve creates it on first start\n", s.CredentialsFile)
	}
	if _, err := io.WriteString(stdout, envScript(s, environ)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// shellQuote quotes s for a POSIX shell: as is when it holds only safe
// characters, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
