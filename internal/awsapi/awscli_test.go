package awsapi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// awsCLI returns the stock aws CLI and the environment that points it at
// url with a private, empty configuration, no retries and no pager; the
// caller's AWS_ variables are dropped. With key given (id, secret), the
// environment carries those credentials.
func awsCLI(t *testing.T, url string, key ...string) (cli string, env []string) {
	t.Helper()
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the aws CLI is required (.ci/run checks for it): %v", err)
	}
	dir := t.TempDir()
	env = []string{
		"AWS_ENDPOINT_URL=" + url,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_PAGER=",
	}
	if len(key) == 2 {
		env = append(env, "AWS_ACCESS_KEY_ID="+key[0], "AWS_SECRET_ACCESS_KEY="+key[1])
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return cli, env
}

// runAWS runs the CLI with env and args, returning its output and the error
// of its exit.
func runAWS(cli string, env []string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(cli, args...)
	cmd.Env = env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}
