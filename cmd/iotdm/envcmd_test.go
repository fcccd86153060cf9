package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEnvScript(t *testing.T) {
	s := envSettings{
		Endpoint:        "http://127.0.0.1:4580",
		CredentialsFile: "/data/credentials",
		ConfigFile:      "/data/aws-config",
		Region:          "eu-west-1",
	}
	environ := map[string]string{"AWS_ENDPOINT_URL_IOT_DATA_PLANE": "x", "AWS_ENDPOINT_URL_IOT": "y", "HOME": "/root"}
	want := "unset " + strings.Join(clearedVars, " ") + " AWS_ENDPOINT_URL_IOT AWS_ENDPOINT_URL_IOT_DATA_PLANE\n" +
		"export AWS_ENDPOINT_URL=http://127.0.0.1:4580\n" +
		"export AWS_SHARED_CREDENTIALS_FILE=/data/credentials\n" +
		"export AWS_CONFIG_FILE=/data/aws-config\n" +
		"export AWS_REGION=eu-west-1\n" +
		"export AWS_DEFAULT_REGION=eu-west-1\n"
	if diff := cmp.Diff(want, envScript(s, environ)); diff != "" {
		t.Errorf("envScript mismatch (-want +got):\n%s", diff)
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/plain/path-1.2_x", "/plain/path-1.2_x"},
		{"http://[::1]:4580", "'http://[::1]:4580'"},
		{"/with space", "'/with space'"},
		{"it's", `'it'\''s'`},
		{"$(rm -rf /)", "'$(rm -rf /)'"},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// deadPID returns the id of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run a short process: %v", err)
	}
	return cmd.Process.Pid
}

func TestRunEnvEndpoint(t *testing.T) {
	running := serverState{PID: os.Getpid(), HTTPAddr: "127.0.0.1:45123", Endpoint: "http://127.0.0.1:45123",
		Region: "ap-northeast-1", AccountID: "123456789012", StartedAt: time.Now()}
	tests := []struct {
		name         string
		state        *serverState
		wantEndpoint string
		wantRegion   string
		wantStderr   string
	}{
		{"running server's address wins over the configuration", &running, "http://127.0.0.1:45123", "ap-northeast-1", ""},
		{"no server falls back to the configuration", nil, "http://127.0.0.1:4999", "eu-west-1", "no server is running"},
		{"stale server.json falls back to the configuration", &serverState{PID: deadPID(t), Endpoint: "http://127.0.0.1:1"},
			"http://127.0.0.1:4999", "eu-west-1", "is stale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := ensureCredentials(dir, nil, discardLogger()); err != nil {
				t.Fatal(err)
			}
			if tt.state != nil {
				if err := writeServerState(dir, *tt.state); err != nil {
					t.Fatal(err)
				}
			}
			cfg := defaults()
			cfg.DataDir, cfg.HTTPAddr, cfg.Region = dir, "0.0.0.0:4999", "eu-west-1"
			var stdout, stderr bytes.Buffer
			if err := runEnv(cfg, nil, &stdout, &stderr); err != nil {
				t.Fatalf("runEnv: %v", err)
			}
			want := envScript(envSettings{
				Endpoint:        tt.wantEndpoint,
				CredentialsFile: filepath.Join(dir, credentialsFileName),
				ConfigFile:      filepath.Join(dir, awsConfigFileName),
				Region:          tt.wantRegion,
			}, nil)
			if diff := cmp.Diff(want, stdout.String()); diff != "" {
				t.Errorf("runEnv stdout mismatch (-want +got):\n%s", diff)
			}
			if tt.wantStderr == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("runEnv stderr = %q, want %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestRunEnvWarnsWithoutCredentials(t *testing.T) {
	cfg := defaults()
	cfg.DataDir = t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := runEnv(cfg, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "iotdm serve creates it") {
		t.Errorf("runEnv stderr = %q, want a note that the credentials do not exist yet", stderr.String())
	}
}
