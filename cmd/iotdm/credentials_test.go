package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// discardLogger logs nothing.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func readCredentialsFile(t *testing.T, dir string) AccessKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, credentialsFileName))
	if err != nil {
		t.Fatal(err)
	}
	k, err := parseCredentials(b)
	if err != nil {
		t.Fatalf("parseCredentials(%q): %v", b, err)
	}
	return k
}

func TestEnsureCredentialsCreatesKey(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	key, err := ensureCredentials(dir, nil, logger)
	if err != nil {
		t.Fatalf("ensureCredentials: %v", err)
	}
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(key.ID) {
		t.Errorf("access key id = %q, want AKIA and 16 base32 characters", key.ID)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`).MatchString(key.Secret) {
		t.Errorf("secret has %d characters, want 40 base64 characters", len(key.Secret))
	}
	if got := readCredentialsFile(t, dir); got != key {
		t.Errorf("credentials file holds %v, want %v", got.ID, key.ID)
	}
	if got := fileMode(t, filepath.Join(dir, credentialsFileName)); got != 0o600 {
		t.Errorf("credentials file mode = %v, want 0600", got)
	}
	if !strings.Contains(logs.String(), key.ID) {
		t.Errorf("log does not name the new key id: %s", logs.String())
	}
	if strings.Contains(logs.String(), key.Secret) {
		t.Errorf("log holds the secret: %s", logs.String())
	}

	// A restart reuses the key.
	again, err := ensureCredentials(dir, nil, discardLogger())
	if err != nil || again != key {
		t.Errorf("ensureCredentials again = %v, %v, want %v", again.ID, err, key.ID)
	}
}

func TestEnsureCredentialsKeysDiffer(t *testing.T) {
	a, b := newAccessKey(), newAccessKey()
	if a.ID == b.ID || a.Secret == b.Secret {
		t.Errorf("two generated keys share a part: %v and %v", a.ID, b.ID)
	}
}

func TestEnsureCredentialsOverride(t *testing.T) {
	dir := t.TempDir()
	generated, err := ensureCredentials(dir, nil, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	override := AccessKey{ID: "AKIAOVERRIDE", Secret: "override/secret"}
	got, err := ensureCredentials(dir, &override, discardLogger())
	if err != nil || got != override {
		t.Fatalf("ensureCredentials(override) = %v, %v, want %v", got.ID, err, override.ID)
	}
	if got := readCredentialsFile(t, dir); got != override {
		t.Errorf("credentials file holds %v, want the override %v (generated was %v)", got.ID, override.ID, generated.ID)
	}
	if got := fileMode(t, filepath.Join(dir, credentialsFileName)); got != 0o600 {
		t.Errorf("credentials file mode = %v, want 0600", got)
	}
	// Without the override, the file (now holding the override) is used.
	got, err = ensureCredentials(dir, nil, discardLogger())
	if err != nil || got != override {
		t.Errorf("ensureCredentials after override = %v, %v, want %v", got.ID, err, override.ID)
	}
}

func TestEnsureCredentialsOverrideOnFirstStart(t *testing.T) {
	dir := t.TempDir()
	override := AccessKey{ID: "test", Secret: "test"}
	if got, err := ensureCredentials(dir, &override, discardLogger()); err != nil || got != override {
		t.Fatalf("ensureCredentials(override) = %v, %v", got.ID, err)
	}
	if got := readCredentialsFile(t, dir); got != override {
		t.Errorf("credentials file holds %v, want %v", got.ID, override.ID)
	}
}

func TestEnsureCredentialsTightensMode(t *testing.T) {
	dir := t.TempDir()
	if _, err := ensureCredentials(dir, nil, discardLogger()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, credentialsFileName)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureCredentials(dir, nil, discardLogger()); err != nil {
		t.Fatal(err)
	}
	if got := fileMode(t, path); got != 0o600 {
		t.Errorf("credentials file mode = %v, want 0600", got)
	}
}

func TestEnsureCredentialsRefusesBrokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, credentialsFileName)
	broken := []byte("[other]\naws_access_key_id = X\n")
	if err := os.WriteFile(path, broken, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ensureCredentials(dir, nil, discardLogger())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("ensureCredentials(broken file) error = %v, want one naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, broken) {
		t.Errorf("a broken credentials file was rewritten to %q", b)
	}
}

func TestParseCredentials(t *testing.T) {
	data := "; comment\n[work]\naws_access_key_id = W\naws_secret_access_key = WS\n\n" +
		"[ default ]\n# comment\nAWS_ACCESS_KEY_ID=D\naws_secret_access_key =  DS  \nregion = x\n"
	got, err := parseCredentials([]byte(data))
	if want := (AccessKey{ID: "D", Secret: "DS"}); err != nil || got != want {
		t.Errorf("parseCredentials = %+v, %v, want ID D", got, err)
	}
}

func TestAccessKeyNeverPrintsSecret(t *testing.T) {
	k := AccessKey{ID: "AKIAID", Secret: "SECRETVALUE"}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "k", k, "p", &k)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "k", k)
	out := fmt.Sprintf("%v %+v %#v %s %q %v", k, k, k, k, k, &k) + logs.String()
	if strings.Contains(out, "SECRETVALUE") {
		t.Errorf("formatted key shows the secret: %s", out)
	}
	if !strings.Contains(out, "AKIAID") {
		t.Errorf("formatted key does not show the id: %s", out)
	}
}

func TestEnsureAWSConfigKeepsEdits(t *testing.T) {
	dir := t.TempDir()
	if err := ensureAWSConfig(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, awsConfigFileName)
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "[default]") {
		t.Fatalf("aws-config = %q, %v, want a [default] profile", b, err)
	}
	edited := []byte("[default]\noutput = table\n")
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ensureAWSConfig(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, edited) {
		t.Errorf("aws-config = %q after restart, want the edit kept", b)
	}
}
