package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// mapFiles returns a readFile over an in-memory set of files.
func mapFiles(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
}

// defaults is the Config with nothing set.
func defaults() Config {
	return Config{
		DataDir:   defaultDataDir,
		HTTPAddr:  defaultHTTPAddr,
		MQTTAddr:  defaultMQTTAddr,
		Region:    defaultRegion,
		AccountID: defaultAccountID,
		LogLevel:  slog.LevelInfo,

		ThingTypeDeleteWait:  5 * time.Minute,
		FleetMetricMinPeriod: time.Minute, AlarmEvaluationInterval: time.Minute, Simulate: -1,
		CAValidity:      262980 * time.Hour,
		StoreCacheBytes: 64 << 20,
		MQTTHosts:       []string{"localhost", "127.0.0.1"},

		MQTTMaxPayload:       128 << 10,
		MQTTMaxTopicSlashes:  7,
		MQTTMaxSubscriptions: 50,
		Store:                "sqlite",
		ClusterName:          "iotdm",
	}
}

func TestLoadConfig(t *testing.T) {
	with := func(f func(c *Config)) Config {
		c := defaults()
		f(&c)
		return c
	}
	defaultConf := filepath.Join(defaultDataDir, configFileName)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		files map[string]string
		want  Config
	}{
		{
			name: "nothing set gives the defaults",
			want: defaults(),
		},
		{
			name: "flags",
			args: []string{"--data-dir", "/d", "--http-addr=0.0.0.0:0", "-mqtt-addr", "[::1]:1883",
				"--region", "eu-west-1", "--account-id", "000000000001", "--log-level", "DEBUG"},
			want: Config{DataDir: "/d", HTTPAddr: "0.0.0.0:0", MQTTAddr: "[::1]:1883", Region: "eu-west-1",
				AccountID: "000000000001", LogLevel: slog.LevelDebug, ThingTypeDeleteWait: 5 * time.Minute, FleetMetricMinPeriod: time.Minute, AlarmEvaluationInterval: time.Minute, Simulate: -1,
				CAValidity: 262980 * time.Hour, StoreCacheBytes: 64 << 20, MQTTHosts: []string{"localhost", "127.0.0.1"},
				MQTTMaxPayload: 128 << 10, MQTTMaxTopicSlashes: 7, MQTTMaxSubscriptions: 50, Store: "sqlite", ClusterName: "iotdm"},
		},
		{
			name: "environment",
			env: map[string]string{"IOTDM_DATA_DIR": "/e", "IOTDM_HTTP_ADDR": ":4580", "IOTDM_MQTT_ADDR": "localhost:8883",
				"IOTDM_REGION": "ap-southeast-2", "IOTDM_ACCOUNT_ID": "210987654321", "IOTDM_LOG_LEVEL": "warn"},
			want: Config{DataDir: "/e", HTTPAddr: ":4580", MQTTAddr: "localhost:8883", Region: "ap-southeast-2",
				AccountID: "210987654321", LogLevel: slog.LevelWarn, ThingTypeDeleteWait: 5 * time.Minute, FleetMetricMinPeriod: time.Minute, AlarmEvaluationInterval: time.Minute, Simulate: -1,
				CAValidity: 262980 * time.Hour, StoreCacheBytes: 64 << 20, MQTTHosts: []string{"localhost", "127.0.0.1"},
				MQTTMaxPayload: 128 << 10, MQTTMaxTopicSlashes: 7, MQTTMaxSubscriptions: 50, Store: "sqlite", ClusterName: "iotdm"},
		},
		{
			name: "thing type delete wait from the environment and from a flag",
			args: []string{"--thing-type-delete-wait", "0"},
			env:  map[string]string{"IOTDM_THING_TYPE_DELETE_WAIT": "30s"},
			want: with(func(c *Config) { c.ThingTypeDeleteWait = 0 }),
		},
		{
			name: "CA validity and store cache",
			args: []string{"--ca-validity", "8760h", "--store-cache-mib", "0"},
			env:  map[string]string{"IOTDM_STORE_CACHE_MIB": "512"},
			want: with(func(c *Config) { c.CAValidity = 8760 * time.Hour; c.StoreCacheBytes = 0 }),
		},
		{
			name: "thing type delete wait from the environment",
			env:  map[string]string{"IOTDM_THING_TYPE_DELETE_WAIT": "30s"},
			want: with(func(c *Config) { c.ThingTypeDeleteWait = 30 * time.Second }),
		},
		{
			name: "flag beats environment beats file beats default",
			args: []string{"--region", "us-west-2"},
			env:  map[string]string{"IOTDM_REGION": "eu-central-1", "IOTDM_ACCOUNT_ID": "222222222222"},
			files: map[string]string{defaultConf: "region = ap-south-1\naccount-id = 111111111111\n" +
				"log-level = error\n"},
			want: with(func(c *Config) {
				c.Region, c.AccountID, c.LogLevel, c.ConfigFile = "us-west-2", "222222222222", slog.LevelError, defaultConf
			}),
		},
		{
			name:  "empty environment variables count as unset",
			env:   map[string]string{"IOTDM_REGION": "", "IOTDM_HTTP_ADDR": ""},
			files: map[string]string{defaultConf: "region = eu-north-1\n"},
			want:  with(func(c *Config) { c.Region, c.ConfigFile = "eu-north-1", defaultConf }),
		},
		{
			name:  "default config file follows the data directory",
			env:   map[string]string{"IOTDM_DATA_DIR": "/srv/iotdm"},
			files: map[string]string{"/srv/iotdm/iotdm.conf": "http-addr = 127.0.0.1:9000\n", defaultConf: "region = eu-north-1\n"},
			want: with(func(c *Config) {
				c.DataDir, c.HTTPAddr, c.ConfigFile = "/srv/iotdm", "127.0.0.1:9000", "/srv/iotdm/iotdm.conf"
			}),
		},
		{
			name:  "explicit config file replaces the default one and may set data-dir",
			env:   map[string]string{"IOTDM_CONFIG": "/etc/iotdm.conf"},
			files: map[string]string{"/etc/iotdm.conf": "data-dir = /var/lib/iotdm\n", defaultConf: "region = eu-north-1\n"},
			want:  with(func(c *Config) { c.DataDir, c.ConfigFile = "/var/lib/iotdm", "/etc/iotdm.conf" }),
		},
		{
			name:  "relative data-dir in a config file is relative to the file",
			args:  []string{"--config", "/etc/iotdm/iotdm.conf"},
			files: map[string]string{"/etc/iotdm/iotdm.conf": "data-dir = data\n"},
			want:  with(func(c *Config) { c.DataDir, c.ConfigFile = "/etc/iotdm/data", "/etc/iotdm/iotdm.conf" }),
		},
		{
			name:  "--config beats IOTDM_CONFIG",
			args:  []string{"--config=/b.conf"},
			env:   map[string]string{"IOTDM_CONFIG": "/a.conf"},
			files: map[string]string{"/a.conf": "region = eu-west-1\n", "/b.conf": "region = eu-west-2\n"},
			want:  with(func(c *Config) { c.Region, c.ConfigFile = "eu-west-2", "/b.conf" }),
		},
		{
			name: "config file syntax: comments, quotes, spacing",
			files: map[string]string{defaultConf: "\uFEFF# iotdm\n\n  region=\"us-gov-west-1\"  # quoted\r\n" +
				"account-id = '012345678901'\nhttp-addr =   127.0.0.1:4581 # bare, then a comment\n" +
				"mqtt-addr = \"[::1]:8883\"\n\t# indented comment\n"},
			want: with(func(c *Config) {
				c.Region, c.AccountID, c.HTTPAddr, c.MQTTAddr, c.ConfigFile = "us-gov-west-1", "012345678901", "127.0.0.1:4581", "[::1]:8883", defaultConf
			}),
		},
		{
			name: "admin key from the environment",
			env:  map[string]string{envAccessKeyID: "AKIAEXAMPLE", envSecretAccessKey: "s3cr3t/key+="},
			want: with(func(c *Config) { c.AdminKey = &AccessKey{ID: "AKIAEXAMPLE", Secret: "s3cr3t/key+="} }),
		},
		{
			name: "last flag wins",
			args: []string{"--region", "eu-west-1", "--region", "eu-west-3"},
			want: with(func(c *Config) { c.Region = "eu-west-3" }),
		},
		{
			name: "addresses: empty host, IPv6, host name, port 0",
			args: []string{"--http-addr", ":0", "--mqtt-addr", "iot.example.com:8883"},
			want: with(func(c *Config) { c.HTTPAddr, c.MQTTAddr = ":0", "iot.example.com:8883" }),
		},
		{
			name:  "MQTT listeners and server certificate hosts",
			args:  []string{"--mqtt-ws-addr", "127.0.0.1:0", "--mqtt-hosts", " iot.example.com, 10.0.0.5,*.iot.example.com ,"},
			env:   map[string]string{"IOTDM_MQTT_PLAIN_ADDR": "[::1]:1883"},
			files: map[string]string{defaultConf: "mqtt-ws-addr = 0.0.0.0:443\n"},
			want: with(func(c *Config) {
				c.MQTTWebSocketAddr, c.MQTTPlainAddr, c.ConfigFile = "127.0.0.1:0", "[::1]:1883", defaultConf
				c.MQTTHosts = []string{"iot.example.com", "10.0.0.5", "*.iot.example.com"}
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(tt.args, tt.env, mapFiles(tt.files))
			if err != nil {
				t.Fatalf("loadConfig(%q) error: %v", tt.args, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("loadConfig(%q) mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestLoadConfigProblems(t *testing.T) {
	conf := filepath.Join(defaultDataDir, configFileName)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		files map[string]string
		want  []string
	}{
		{
			name: "every problem at once, each with its origin",
			args: []string{"--bogus", "x", "--http-addr", "localhost", "stray", "--region"},
			env: map[string]string{"IOTDM_ACCOUNT_ID": "12345", "IOTDM_LOG_LEVEL": "loud",
				"IOTDM_MQTT_ADDR": "127.0.0.1:70000", "IOTDM_THING_TYPE_DELETE_WAIT": "soon"},
			files: map[string]string{conf: "# config\nregion = EU-WEST-1\nhttp_addr = 127.0.0.1:1\n" +
				"no equals sign here\nregion = us-east-2\nlog-level = \"debug\ncolour = blue\n" +
				"= value\naccount-id = 'x' y\nconfig = /other.conf\ndata-dir = /elsewhere\n"},
			want: []string{
				`unknown flag "--bogus"`,
				`unexpected argument "stray"`,
				`flag "--region" needs a value`,
				conf + `:3: unknown key "http_addr" (did you mean "http-addr"?)`,
				conf + `:4: expected key = value, got "no equals sign here"`,
				conf + `:5: duplicate key "region" (first set on line 2)`,
				conf + `:6: log-level: unterminated quoted value "debug`,
				conf + `:7: unknown key "colour"`,
				conf + `:8: expected a key before '=', got ""`,
				conf + `:9: account-id: unexpected "y" after the quoted value`,
				conf + `:10: config cannot be set in a config file`,
				conf + `:11: data-dir cannot be set in the data directory's own config file; use --data-dir or IOTDM_DATA_DIR`,
				`--http-addr "localhost": must be HOST:PORT, e.g. 127.0.0.1:4580 or [::1]:4580`,
				`IOTDM_MQTT_ADDR="127.0.0.1:70000": port "70000" is not a number from 0 to 65535`,
				conf + `:2: region "EU-WEST-1": must be a region name like us-east-1 (^[a-z]{2}(-[a-z]+)+-\d$)`,
				`IOTDM_ACCOUNT_ID="12345": must be exactly 12 digits`,
				`IOTDM_LOG_LEVEL="loud": must be debug, info, warn or error`,
				`IOTDM_THING_TYPE_DELETE_WAIT="soon": not a duration such as 5m or 30s`,
			},
		},
		{
			name: "missing explicit config file",
			args: []string{"--config", "/nope.conf"},
			want: []string{"read config file: open /nope.conf: file does not exist"},
		},
		{
			name: "empty flag values",
			args: []string{"--data-dir=", "--config="},
			want: []string{`--config "": must not be empty`, `--data-dir "": must not be empty`},
		},
		{
			name: "bad hosts and ports",
			args: []string{"--http-addr", "exa mple:80", "--mqtt-addr", "127.0.0.1:http"},
			want: []string{
				`--http-addr "exa mple:80": host "exa mple" is neither an IP address nor a host name`,
				`--mqtt-addr "127.0.0.1:http": port "http" is not a number from 0 to 65535`,
			},
		},
		{
			name: "bad MQTT listeners and hosts",
			args: []string{"--mqtt-ws-addr", "443", "--mqtt-plain-addr", "localhost:x", "--mqtt-hosts", "ok.example, bad host"},
			env:  map[string]string{"IOTDM_MQTT_HOSTS": "ignored"},
			want: []string{
				`--mqtt-ws-addr "443": must be HOST:PORT, e.g. 127.0.0.1:4580 or [::1]:4580`,
				`--mqtt-plain-addr "localhost:x": port "x" is not a number from 0 to 65535`,
				`--mqtt-hosts "ok.example, bad host": "bad host" is neither an IP address nor a host name`,
			},
		},
		{
			name: "empty MQTT hosts",
			args: []string{"--mqtt-hosts", " , "},
			want: []string{`--mqtt-hosts " , ": must name at least one host`},
		},
		{
			name: "region shapes",
			args: []string{"--region", "us-east"},
			env:  map[string]string{"IOTDM_ACCOUNT_ID": "1234567890123"},
			want: []string{
				`--region "us-east": must be a region name like us-east-1 (^[a-z]{2}(-[a-z]+)+-\d$)`,
				`IOTDM_ACCOUNT_ID="1234567890123": must be exactly 12 digits`,
			},
		},
		{
			name: "half an admin key",
			env:  map[string]string{envSecretAccessKey: "only-the-secret"},
			want: []string{"IOTDM_SECRET_ACCESS_KEY is set but IOTDM_ACCESS_KEY_ID is not; set both or neither"},
		},
		{
			name: "bad admin key never echoes the secret",
			env:  map[string]string{envAccessKeyID: "AKIA EXAMPLE", envSecretAccessKey: "bad secret"},
			want: []string{
				`IOTDM_ACCESS_KEY_ID="AKIA EXAMPLE": must be 1 to 128 letters, digits or underscores`,
				"IOTDM_SECRET_ACCESS_KEY: must be 1 to 128 letters, digits or any of / + = . _ -",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.args, tt.env, mapFiles(tt.files))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("loadConfig(%q) error = %v, want a *ConfigError", tt.args, err)
			}
			if diff := cmp.Diff(tt.want, ce.Problems); diff != "" {
				t.Errorf("loadConfig(%q) problems mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestLoadConfigHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"--region", "bad", "-help"}} {
		if _, err := loadConfig(args, nil, mapFiles(nil)); !errors.Is(err, errHelp) {
			t.Errorf("loadConfig(%q) error = %v, want errHelp", args, err)
		}
	}
}

func TestConfigErrorListsEveryProblem(t *testing.T) {
	err := &ConfigError{Problems: []string{"a", "b"}}
	if got, want := err.Error(), "invalid configuration:\n  a\n  b"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if strings.Contains(err.Error(), "\n\n") {
		t.Errorf("Error() has blank lines: %q", err.Error())
	}
}
