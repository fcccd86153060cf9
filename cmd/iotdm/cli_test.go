package main

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// buildBinary builds cmd/iotdm into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool in PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "iotdm")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cleanEnviron returns the test's environment without AWS_ and IOTDM_
// variables, plus extra.
func cleanEnviron(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "IOTDM_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runBinary runs the binary and returns its stdout, stderr and exit code.
func runBinary(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	}
	t.Fatalf("run %s %q: %v", bin, args, err)
	return "", "", 0
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)

	t.Run("eval of env sets the AWS variables and clears the overriding ones", func(t *testing.T) {
		bash, err := exec.LookPath("bash")
		if err != nil {
			t.Fatalf("bash is required: %v", err)
		}
		// A data directory whose path needs quoting.
		dir := filepath.Join(t.TempDir(), `data dir 'q' $x`)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := ensureCredentials(dir, nil, discardLogger()); err != nil {
			t.Fatal(err)
		}
		// This test process stands for the running server.
		st := serverState{PID: os.Getpid(), HTTPAddr: "127.0.0.1:45678", Endpoint: "http://127.0.0.1:45678",
			Region: "eu-west-2", AccountID: "123456789012", DataDir: dir, StartedAt: time.Now()}
		if err := writeServerState(dir, st); err != nil {
			t.Fatal(err)
		}
		env := cleanEnviron("IOTDM_BIN="+bin, "IOTDM_DIR="+dir,
			"AWS_ACCESS_KEY_ID=AKIALEAK", "AWS_SECRET_ACCESS_KEY=leak", "AWS_SESSION_TOKEN=leak",
			"AWS_PROFILE=prod", "AWS_DEFAULT_PROFILE=prod", "AWS_ENDPOINT_URL_IOT=http://elsewhere",
			"AWS_USE_FIPS_ENDPOINT=true", "AWS_ROLE_ARN=arn:aws:iam::1:role/x", "AWS_REGION=us-west-1")
		cmd := exec.Command(bash, "-c", `eval "$("$IOTDM_BIN" env --data-dir "$IOTDM_DIR")" && env`)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, stderr.String())
		}
		got := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "AWS_") {
				got[k] = v
			}
		}
		want := map[string]string{
			"AWS_ENDPOINT_URL":            "http://127.0.0.1:45678",
			"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, credentialsFileName),
			"AWS_CONFIG_FILE":             filepath.Join(dir, awsConfigFileName),
			"AWS_REGION":                  "eu-west-2",
			"AWS_DEFAULT_REGION":          "eu-west-2",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AWS variables after eval mismatch (-want +got):\n%s", diff)
		}
		if stderr.Len() > 0 {
			t.Errorf("iotdm env wrote to stderr with a running server: %s", stderr.String())
		}
	})

	t.Run("bad configuration exits 2 listing every problem", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, configFileName), []byte("region = us-east-1\nbogus = 1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runBinary(t, bin, cleanEnviron("IOTDM_LOG_LEVEL=chatty"),
			"serve", "--data-dir", dir, "--account-id", "42", "--http-addr", "nowhere")
		if code != exitUsage {
			t.Errorf("exit code = %d, want %d; stderr:\n%s", code, exitUsage, stderr)
		}
		for _, want := range []string{
			filepath.Join(dir, configFileName) + `:2: unknown key "bogus"`,
			`--account-id "42": must be exactly 12 digits`,
			`--http-addr "nowhere": must be HOST:PORT`,
			`IOTDM_LOG_LEVEL="chatty": must be debug, info, warn or error`,
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if stdout != "" {
			t.Errorf("stdout = %q, want nothing", stdout)
		}
		if _, err := os.Stat(filepath.Join(dir, credentialsFileName)); err == nil {
			t.Errorf("a refused configuration still created credentials")
		}
	})

	t.Run("serve stops cleanly on SIGTERM", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		cmd := exec.Command(bin, "serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0")
		cmd.Env = cleanEnviron()
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		var st serverState
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var err error
			if st, err = readServerState(dir); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server.json did not appear: %v\n%s", err, stderr.String())
			}
		}
		if st.PID != cmd.Process.Pid {
			t.Errorf("server.json pid = %d, want %d", st.PID, cmd.Process.Pid)
		}
		if code, _ := getHealth(t, st.Endpoint); code != http.StatusOK {
			t.Errorf("/healthz = %d, want 200", code)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("serve after SIGTERM: %v, want exit 0\n%s", err, stderr.String())
		}
		if _, err := os.Stat(filepath.Join(dir, stateFileName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("server.json after SIGTERM: %v, want it removed", err)
		}
		key := readCredentialsFile(t, dir)
		if strings.Contains(stderr.String(), key.Secret) {
			t.Errorf("the secret reached stderr")
		}
	})

	t.Run("commands and exit codes", func(t *testing.T) {
		tests := []struct {
			args       []string
			wantCode   int
			wantStdout string
			wantStderr string
		}{
			{[]string{"version"}, exitOK, "iotdm ", ""},
			{[]string{"help"}, exitOK, "Usage:", ""},
			{[]string{"help", "serve"}, exitOK, "--http-addr HOST:PORT", ""},
			{[]string{"env", "--help"}, exitOK, "Usage: iotdm env", ""},
			{nil, exitUsage, "", "Usage:"},
			{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
			{[]string{"version", "extra"}, exitUsage, "", "unexpected argument"},
		}
		for _, tt := range tests {
			stdout, stderr, code := runBinary(t, bin, cleanEnviron(), tt.args...)
			if code != tt.wantCode || !strings.Contains(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("iotdm %q = exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					tt.args, code, stdout, stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		}
	})
}
