package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Files of the data directory that the AWS tools read.
const (
	credentialsFileName = "credentials" // AWS shared credentials file, profile [default]
	awsConfigFileName   = "aws-config"  // AWS shared config file iotdm env points the tools at
	credentialsProfile  = "default"
)

// AccessKey is an AWS access key pair. Its formatting methods show only the
// key id, so the secret cannot reach a log or an error by accident.
type AccessKey struct {
	ID     string
	Secret string
}

// LogValue logs the key id only.
func (k AccessKey) LogValue() slog.Value { return slog.StringValue(k.ID) }

// String returns the key id only.
func (k AccessKey) String() string { return k.ID }

// Format prints the key id only, whatever the verb.
func (k AccessKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.ID) }

// Alphabets of generated keys: AWS access key ids are AKIA and 16 characters
// of base32 (A-Z, 2-7); secrets are 40 characters of base64.
const (
	accessKeyIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretKeyAlphabet   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// newAccessKey generates an admin access key with crypto/rand.
func newAccessKey() AccessKey {
	return AccessKey{
		ID:     "AKIA" + randomString(16, accessKeyIDAlphabet),
		Secret: randomString(40, secretKeyAlphabet),
	}
}

// randomString returns n characters of alphabet, whose length must be a
// power of two no larger than 256 so every character is equally likely.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// formatCredentials renders k as an AWS shared credentials file.
func formatCredentials(k AccessKey) []byte {
	var b bytes.Buffer
	b.WriteString("# iotdm admin credentials (AWS shared credentials format).\n")
	b.WriteString("# iotdm rewrites this file; keep it private (mode 0600).\n")
	fmt.Fprintf(&b, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", credentialsProfile, k.ID, k.Secret)
	return b.Bytes()
}

// parseCredentials reads the [default] profile of an AWS shared credentials
// file: INI sections, key = value lines, '#' and ';' comment lines.
func parseCredentials(data []byte) (AccessKey, error) {
	var k AccessKey
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		if section != credentialsProfile {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "aws_access_key_id":
			k.ID = strings.TrimSpace(val)
		case "aws_secret_access_key":
			k.Secret = strings.TrimSpace(val)
		}
	}
	if err := sc.Err(); err != nil {
		return AccessKey{}, fmt.Errorf("read credentials: %w", err)
	}
	if k.ID == "" || k.Secret == "" {
		return AccessKey{}, fmt.Errorf("no aws_access_key_id and aws_secret_access_key in profile [%s]", credentialsProfile)
	}
	return k, nil
}

// ensureCredentials returns the admin access key of the data directory dir,
// which must exist. With override (IOTDM_ACCESS_KEY_ID and
// IOTDM_SECRET_ACCESS_KEY) that is the key, and the credentials file is
// written when it does not hold it already. Without, the key in the file is
// used, or a new one is generated and written on first start. The file is
// kept at mode 0600. The secret is never logged.
func ensureCredentials(dir string, override *AccessKey, logger *slog.Logger) (AccessKey, error) {
	path := filepath.Join(dir, credentialsFileName)
	data, err := os.ReadFile(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return AccessKey{}, fmt.Errorf("read credentials: %w", err)
	}

	var key AccessKey
	switch {
	case override != nil:
		key = *override
		if cur, err := parseCredentials(data); !exists || err != nil || cur != key {
			if err := writeFileAtomic(path, formatCredentials(key), 0o600); err != nil {
				return AccessKey{}, fmt.Errorf("write credentials: %w", err)
			}
			logger.Info("wrote admin credentials from the environment", "path", path, "accessKeyId", key)
			return key, nil
		}
	case exists:
		key, err = parseCredentials(data)
		if err != nil {
			return AccessKey{}, fmt.Errorf("%s: %w (fix it, or remove it to have a new key generated)", path, err)
		}
	default:
		key = newAccessKey()
		if err := writeFileAtomic(path, formatCredentials(key), 0o600); err != nil {
			return AccessKey{}, fmt.Errorf("write credentials: %w", err)
		}
		logger.Info("created admin credentials", "path", path, "accessKeyId", key)
		return key, nil
	}

	// An existing file: make sure only its owner can read it.
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			return AccessKey{}, fmt.Errorf("stat credentials: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return AccessKey{}, fmt.Errorf("restrict credentials file mode: %w", err)
			}
			logger.Warn("credentials file was readable by others; set its mode to 0600", "path", path, "was", fi.Mode().Perm().String())
		}
	}
	return key, nil
}

// ensureAWSConfig writes DIR/aws-config, the AWS shared config file that
// iotdm env points AWS_CONFIG_FILE at, unless it exists: the user's own
// ~/.aws/config could otherwise take over the [default] profile (role_arn,
// sso_*, credential_process, ignore_configured_endpoint_urls, ...). Edits to
// it are kept.
func ensureAWSConfig(dir string) error {
	path := filepath.Join(dir, awsConfigFileName)
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat aws config: %w", err)
	}
	const content = "# AWS shared config file for the iotdm endpoint; `iotdm env` exports\n" +
		"# AWS_CONFIG_FILE pointing here so that ~/.aws/config cannot redirect the\n" +
		"# [default] profile. The region comes from AWS_REGION. Your edits are kept.\n" +
		"[default]\n"
	if err := writeFileAtomic(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write aws config: %w", err)
	}
	return nil
}
