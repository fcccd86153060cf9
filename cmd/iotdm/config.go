package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults of the options. The data directory is relative to the working
// directory of the process.
const (
	defaultDataDir   = "iotdm-data"
	defaultHTTPAddr  = "127.0.0.1:4580"
	defaultMQTTAddr  = "127.0.0.1:8883"
	defaultRegion    = "us-east-1"
	defaultAccountID = "123456789012"
	defaultLogLevel  = "info"
	// defaultThingTypeDeleteWait is AWS's wait between DeprecateThingType
	// and DeleteThingType.
	defaultThingTypeDeleteWait = "5m"
	// defaultCAValidity is the validity of the built-in CA created on first
	// start: 30 years, beyond the 2049-12-31 expiry of AWS-style device
	// certificates issued today.
	defaultCAValidity = "262980h"
	// defaultStoreCacheMiB is the store's entity cache budget.
	defaultStoreCacheMiB = "64"
	// defaultMQTTHosts are the names the broker's server certificate covers.
	defaultMQTTHosts = "localhost,127.0.0.1"

	// configFileName is the config file read from the data directory when
	// neither --config nor IOTDM_CONFIG names one.
	configFileName = "iotdm.conf"

	// maxConfigFileSize caps the config file a parser will read.
	maxConfigFileSize = 1 << 20
)

// Environment variables that are not options: the admin access key, which is
// never taken from flags (they show in ps) nor from the config file.
const (
	envAccessKeyID     = "IOTDM_ACCESS_KEY_ID"
	envSecretAccessKey = "IOTDM_SECRET_ACCESS_KEY"
)

// Config is the configuration of one iotdm process: flags, environment,
// config file and defaults merged, and validated.
type Config struct {
	DataDir   string     // where the store, credentials and server.json live
	HTTPAddr  string     // host:port of the AWS API listener; port 0 picks a free port
	MQTTAddr  string     // host:port of the MQTT over TLS listener; port 0 picks a free port
	Region    string     // AWS region the server answers as, e.g. us-east-1
	AccountID string     // 12-digit AWS account id used in ARNs
	LogLevel  slog.Level // minimum level logged
	// ThingTypeDeleteWait is how long a thing type must have been deprecated
	// before it can be deleted (AWS: 5 minutes; 0 means no wait).
	ThingTypeDeleteWait time.Duration
	// FleetMetricMinPeriod is the shortest fleet metric period accepted
	// (AWS: 60 s); shorter periods are for development and tests.
	FleetMetricMinPeriod time.Duration
	// Simulate is how many simulated devices iotdm up runs besides the seed
	// stack's sample sensors; negative (the default) runs none.
	Simulate int
	// AlarmEvaluationInterval is how often alarms are evaluated (AWS: every
	// minute); shorter intervals are for development and tests.
	AlarmEvaluationInterval time.Duration
	// CAValidity is the validity of the built-in certificate authority
	// created on first start; an existing CA keeps its own.
	CAValidity time.Duration
	// StoreCacheBytes is the budget of the store's in-memory entity cache.
	StoreCacheBytes int64
	// MQTTWebSocketAddr is the host:port of the MQTT over WebSocket (mutual
	// TLS) listener, "" for none.
	MQTTWebSocketAddr string
	// MQTTPlainAddr is the host:port of the MQTT over plain TCP listener
	// for local development, "" for none.
	MQTTPlainAddr string
	// MQTTHosts are the host names and IP addresses the broker's server
	// certificate is issued for.
	MQTTHosts []string
	// MQTT limits (AWS §9.3 defaults): the largest PUBLISH payload in bytes,
	// the most forward slashes in a topic, the most subscriptions per
	// session.
	MQTTMaxPayload       int
	MQTTMaxTopicSlashes  int
	MQTTMaxSubscriptions int

	// Store is where state lives: "sqlite" (DATA-DIR/iotdm.db) or a
	// postgres:// URL, which several nodes share.
	Store string
	// Cluster: NodeID names this node; ClusterListen is its embedded NATS
	// server's route listener and ClusterRoutes its peers' (or NATSURL an
	// external NATS); ClusterName prefixes the NATS subjects. Clustering is
	// on when ClusterListen or NATSURL is set (docs/scaling.md).
	NodeID        string
	ClusterName   string
	ClusterListen string
	ClusterRoutes []string
	NATSURL       string

	// ConfigFile is the config file that was read, "" when none was.
	ConfigFile string
	// AdminKey is the admin access key from IOTDM_ACCESS_KEY_ID and
	// IOTDM_SECRET_ACCESS_KEY, nil when they are unset; the server then uses
	// (or creates) the key in DataDir/credentials.
	AdminKey *AccessKey
}

// option is one configuration option: a flag --name, a config file key name
// and an environment variable.
type option struct {
	name  string // flag name and config file key
	arg   string // what the value is, for usage: DIR, HOST:PORT, ...
	env   string // environment variable
	def   string // default value; "" for none
	usage string
	// check validates a value; it returns a short reason, not naming the option.
	check func(string) error
	// set stores a valid value in c; nil for config, which loadConfig
	// resolves itself.
	set func(c *Config, v string)
}

// Option names.
const (
	optDataDir   = "data-dir"
	optHTTPAddr  = "http-addr"
	optMQTTAddr  = "mqtt-addr"
	optRegion    = "region"
	optAccountID = "account-id"
	optConfig    = "config"
	optLogLevel  = "log-level"

	optThingTypeDeleteWait = "thing-type-delete-wait"
	optCAValidity          = "ca-validity"
	optFleetMetricMin      = "fleet-metric-min-period"
	optAlarmInterval       = "alarm-evaluation-interval"
	optSimulate            = "simulate"
	optStoreCacheMiB       = "store-cache-mib"
	optMQTTWebSocketAddr   = "mqtt-ws-addr"
	optMQTTPlainAddr       = "mqtt-plain-addr"
	optMQTTHosts           = "mqtt-hosts"
	optMQTTMaxPayload      = "mqtt-max-payload"
	optMQTTMaxSlashes      = "mqtt-max-topic-slashes"
	optMQTTMaxSubs         = "mqtt-max-subscriptions"
	optStore               = "store"
	optNodeID              = "node-id"
	optClusterName         = "cluster-name"
	optClusterListen       = "cluster-listen"
	optClusterRoutes       = "cluster-routes"
	optNATSURL             = "nats-url"
)

// options returns every option, in the order usage and problems list them.
func options() []option {
	return []option{
		{name: optDataDir, arg: "DIR", env: "IOTDM_DATA_DIR", def: defaultDataDir,
			usage: "directory of the store, credentials and server.json",
			check: checkNonEmpty, set: func(c *Config, v string) { c.DataDir = v }},
		{name: optHTTPAddr, arg: "HOST:PORT", env: "IOTDM_HTTP_ADDR", def: defaultHTTPAddr,
			usage: "HOST:PORT of the AWS API endpoint (port 0 picks a free port)",
			check: checkHostPort, set: func(c *Config, v string) { c.HTTPAddr = v }},
		{name: optMQTTAddr, arg: "HOST:PORT", env: "IOTDM_MQTT_ADDR", def: defaultMQTTAddr,
			usage: "HOST:PORT of the MQTT over TLS listener devices connect to (port 0 picks a free port)",
			check: checkHostPort, set: func(c *Config, v string) { c.MQTTAddr = v }},
		{name: optMQTTWebSocketAddr, arg: "HOST:PORT", env: "IOTDM_MQTT_WS_ADDR",
			usage: "HOST:PORT of an MQTT over WebSocket listener with the same mutual TLS (default none)",
			check: checkOptionalHostPort, set: func(c *Config, v string) { c.MQTTWebSocketAddr = v }},
		{name: optMQTTPlainAddr, arg: "HOST:PORT", env: "IOTDM_MQTT_PLAIN_ADDR",
			usage: "HOST:PORT of an MQTT listener over plain TCP for local development, admin key only (default none)",
			check: checkOptionalHostPort, set: func(c *Config, v string) { c.MQTTPlainAddr = v }},
		{name: optMQTTHosts, arg: "LIST", env: "IOTDM_MQTT_HOSTS", def: defaultMQTTHosts,
			usage: "comma-separated host names and IP addresses of the MQTT broker's server certificate",
			check: checkHostList, set: func(c *Config, v string) { c.MQTTHosts = splitHostList(v) }},
		{name: optMQTTMaxPayload, arg: "BYTES", env: "IOTDM_MQTT_MAX_PAYLOAD", def: "131072",
			usage: "largest MQTT PUBLISH payload in bytes (AWS: 128 KiB)",
			check: checkPositiveInt, set: func(c *Config, v string) { c.MQTTMaxPayload, _ = strconv.Atoi(v) }},
		{name: optMQTTMaxSlashes, arg: "N", env: "IOTDM_MQTT_MAX_TOPIC_SLASHES", def: "7",
			usage: "most forward slashes in an MQTT topic (AWS: 7, that is 8 levels)",
			check: checkPositiveInt, set: func(c *Config, v string) { c.MQTTMaxTopicSlashes, _ = strconv.Atoi(v) }},
		{name: optMQTTMaxSubs, arg: "N", env: "IOTDM_MQTT_MAX_SUBSCRIPTIONS", def: "50",
			usage: "most subscriptions of one MQTT session (AWS: 50)",
			check: checkPositiveInt, set: func(c *Config, v string) { c.MQTTMaxSubscriptions, _ = strconv.Atoi(v) }},
		{name: optStore, arg: "STORE", env: "IOTDM_STORE", def: "sqlite",
			usage: "where state lives: sqlite (DATA-DIR/iotdm.db) or a postgres:// URL shared by several nodes",
			check: checkStore, set: func(c *Config, v string) { c.Store = v }},
		{name: optNodeID, arg: "ID", env: "IOTDM_NODE_ID",
			usage: "this node's name in a cluster, unique and stable (default the host name)",
			check: checkNodeID, set: func(c *Config, v string) { c.NodeID = v }},
		{name: optClusterName, arg: "NAME", env: "IOTDM_CLUSTER_NAME", def: "iotdm",
			usage: "the cluster's name: NATS cluster name and subject prefix",
			check: checkNodeID, set: func(c *Config, v string) { c.ClusterName = v }},
		{name: optClusterListen, arg: "HOST:PORT", env: "IOTDM_CLUSTER_LISTEN",
			usage: "route listener of this node's embedded NATS server; turns clustering on (default none)",
			check: checkOptionalHostPort, set: func(c *Config, v string) { c.ClusterListen = v }},
		{name: optClusterRoutes, arg: "LIST", env: "IOTDM_CLUSTER_ROUTES",
			usage: "comma-separated HOST:PORT route listeners of the other nodes (default none)",
			check: checkRouteList, set: func(c *Config, v string) { c.ClusterRoutes = splitHostList(v) }},
		{name: optNATSURL, arg: "URL", env: "IOTDM_NATS_URL",
			usage: "an external NATS server or cluster instead of the embedded one; turns clustering on (default none)",
			check: func(string) error { return nil }, set: func(c *Config, v string) { c.NATSURL = v }},
		{name: optRegion, arg: "REGION", env: "IOTDM_REGION", def: defaultRegion,
			usage: "AWS region the server answers as",
			check: checkRegion, set: func(c *Config, v string) { c.Region = v }},
		{name: optAccountID, arg: "ID", env: "IOTDM_ACCOUNT_ID", def: defaultAccountID,
			usage: "12-digit AWS account id used in ARNs",
			check: checkAccountID, set: func(c *Config, v string) { c.AccountID = v }},
		{name: optConfig, arg: "FILE", env: "IOTDM_CONFIG",
			usage: "config file (default DATA-DIR/" + configFileName + " when it exists)",
			check: checkNonEmpty, set: nil}, // loadConfig records the file it read
		{name: optLogLevel, arg: "LEVEL", env: "IOTDM_LOG_LEVEL", def: defaultLogLevel,
			usage: "minimum log level: debug, info, warn or error",
			check: checkLogLevel, set: func(c *Config, v string) { c.LogLevel, _ = parseLogLevel(v) }},
		{name: optThingTypeDeleteWait, arg: "DURATION", env: "IOTDM_THING_TYPE_DELETE_WAIT", def: defaultThingTypeDeleteWait,
			usage: "how long a thing type must be deprecated before DeleteThingType accepts it (AWS: 5m; 0 for none)",
			check: checkDuration, set: func(c *Config, v string) { c.ThingTypeDeleteWait, _ = time.ParseDuration(v) }},
		{name: optFleetMetricMin, arg: "DURATION", env: "IOTDM_FLEET_METRIC_MIN_PERIOD", def: "60s",
			usage: "shortest fleet metric period accepted (AWS: 60s; shorter ones for development and tests)",
			check: checkPositiveDuration, set: func(c *Config, v string) { c.FleetMetricMinPeriod, _ = time.ParseDuration(v) }},
		{name: optAlarmInterval, arg: "DURATION", env: "IOTDM_ALARM_EVALUATION_INTERVAL", def: "60s",
			usage: "how often CloudWatch alarms are evaluated (AWS: 60s; shorter for development and tests)",
			check: checkPositiveDuration, set: func(c *Config, v string) { c.AlarmEvaluationInterval, _ = time.ParseDuration(v) }},
		{name: optSimulate, arg: "N", env: "IOTDM_SIMULATE", def: "off",
			usage: "iotdm up: run the seed stack's sample sensors and N more simulated devices (off: none)",
			check: checkSimulate, set: func(c *Config, v string) { c.Simulate = simulateCount(v) }},
		{name: optCAValidity, arg: "DURATION", env: "IOTDM_CA_VALIDITY", def: defaultCAValidity,
			usage: "validity of the built-in certificate authority created on first start (DATA-DIR/ca.pem)",
			check: checkPositiveDuration, set: func(c *Config, v string) { c.CAValidity, _ = time.ParseDuration(v) }},
		{name: optStoreCacheMiB, arg: "MIB", env: "IOTDM_STORE_CACHE_MIB", def: defaultStoreCacheMiB,
			usage: "memory budget of the store's entity cache, in MiB (0 turns the cache off)",
			check: checkNonNegativeInt, set: func(c *Config, v string) { n, _ := strconv.ParseInt(v, 10, 64); c.StoreCacheBytes = n << 20 }},
	}
}

// ConfigError lists every problem found in a configuration.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

// errHelp is returned by loadConfig when the arguments ask for help.
var errHelp = errors.New("help requested")

// value is one option's value and where it came from, for problems.
type value struct {
	v      string
	from   origin
	source string // "--region", "IOTDM_REGION", "/etc/iotdm.conf:3" or "default"
}

// origin is where a value came from.
type origin int

const (
	fromDefault origin = iota
	fromFile
	fromEnv
	fromFlag
)

// describe names the value and its origin in a problem.
func (v value) describe(name string) string {
	switch v.from {
	case fromFlag:
		return fmt.Sprintf("%s %q", v.source, v.v)
	case fromEnv:
		return fmt.Sprintf("%s=%q", v.source, v.v)
	case fromFile:
		return fmt.Sprintf("%s: %s %q", v.source, name, v.v)
	default:
		return fmt.Sprintf("default %s %q", name, v.v)
	}
}

// loadConfig merges the command-line arguments (flags only), the environment
// and the config file into a Config, with the precedence flag > environment >
// config file > default. readFile reads the config file; it is os.ReadFile in
// the process and a map in tests.
//
// The config file is the one --config or IOTDM_CONFIG names, else
// DATA-DIR/iotdm.conf when that exists. Every problem is reported at once in
// a *ConfigError. loadConfig returns errHelp when args ask for help.
func loadConfig(args []string, env map[string]string, readFile func(name string) ([]byte, error)) (Config, error) {
	opts := options()
	byName := make(map[string]option, len(opts))
	for _, o := range opts {
		byName[o.name] = o
	}

	flags, help, problems := parseArgs(args, byName)
	if help {
		return Config{}, errHelp
	}

	// fromFlagOrEnv returns the flag or else the environment value of o. An
	// empty environment variable counts as unset.
	fromFlagOrEnv := func(o option) (value, bool) {
		if v, ok := flags[o.name]; ok {
			return value{v, fromFlag, "--" + o.name}, true
		}
		if v := env[o.env]; v != "" {
			return value{v, fromEnv, o.env}, true
		}
		return value{}, false
	}

	// The config file: the one named explicitly, else the data directory's.
	var file map[string]value
	configPath := ""
	if named, ok := fromFlagOrEnv(byName[optConfig]); ok {
		if err := byName[optConfig].check(named.v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", named.describe(optConfig), err))
		} else {
			configPath = named.v
			var ps []string
			file, ps = readConfigFile(configPath, readFile, false)
			problems = append(problems, ps...)
			// A relative data-dir in a config file is relative to the file.
			if d, ok := file[optDataDir]; ok && d.v != "" && !filepath.IsAbs(d.v) {
				d.v = filepath.Join(filepath.Dir(configPath), d.v)
				file[optDataDir] = d
			}
		}
	} else {
		dir, ok := fromFlagOrEnv(byName[optDataDir])
		if !ok {
			dir = value{byName[optDataDir].def, fromDefault, "default"}
		}
		if checkNonEmpty(dir.v) == nil {
			candidate := filepath.Join(dir.v, configFileName)
			var ps []string
			file, ps = readConfigFile(candidate, readFile, true)
			problems = append(problems, ps...)
			if file != nil {
				configPath = candidate
			}
			if d, ok := file[optDataDir]; ok {
				problems = append(problems, fmt.Sprintf("%s: data-dir cannot be set in the data directory's own config file; use --data-dir or IOTDM_DATA_DIR", d.source))
				delete(file, optDataDir)
			}
		}
	}

	var cfg Config
	for _, o := range opts {
		if o.name == optConfig {
			continue // recorded below as the file actually read
		}
		v, ok := fromFlagOrEnv(o)
		if !ok {
			if v, ok = file[o.name]; !ok {
				v = value{o.def, fromDefault, "default"}
			}
		}
		if err := o.check(v.v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", v.describe(o.name), err))
			continue
		}
		o.set(&cfg, v.v)
	}
	cfg.ConfigFile = configPath

	key, keyProblems := adminKeyFromEnv(env)
	problems = append(problems, keyProblems...)
	cfg.AdminKey = key

	if len(problems) > 0 {
		return Config{}, &ConfigError{Problems: problems}
	}
	return cfg, nil
}

// readConfigFile reads and parses one config file. A missing file is no
// problem when optional is set (vals is then nil).
func readConfigFile(path string, readFile func(string) ([]byte, error), optional bool) (map[string]value, []string) {
	data, err := readFile(path)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, []string{fmt.Sprintf("read config file: %v", err)}
	}
	if len(data) > maxConfigFileSize {
		return nil, []string{fmt.Sprintf("%s: config file is larger than %d bytes", path, maxConfigFileSize)}
	}
	entries := parseConfigFile(path, data)
	var problems []string
	vals := make(map[string]value, len(entries))
	known := make(map[string]bool)
	for _, o := range options() {
		known[o.name] = o.name != optConfig // a config file cannot name another
	}
	firstLine := make(map[string]int)
	for _, e := range entries {
		if e.problem != "" {
			problems = append(problems, e.problem)
			continue
		}
		where := fmt.Sprintf("%s:%d", path, e.line)
		if e.key == optConfig {
			problems = append(problems, fmt.Sprintf("%s: config cannot be set in a config file", where))
			continue
		}
		if !known[e.key] {
			msg := fmt.Sprintf("%s: unknown key %q", where, e.key)
			if alt := strings.ReplaceAll(e.key, "_", "-"); known[alt] {
				msg += fmt.Sprintf(" (did you mean %q?)", alt)
			}
			problems = append(problems, msg)
			continue
		}
		if first, dup := firstLine[e.key]; dup {
			problems = append(problems, fmt.Sprintf("%s: duplicate key %q (first set on line %d)", where, e.key, first))
			continue
		}
		firstLine[e.key] = e.line
		vals[e.key] = value{e.value, fromFile, where}
	}
	return vals, problems
}

// adminKeyFromEnv reads the admin key override; both variables or neither.
func adminKeyFromEnv(env map[string]string) (*AccessKey, []string) {
	id, secret := env[envAccessKeyID], env[envSecretAccessKey]
	switch {
	case id == "" && secret == "":
		return nil, nil
	case id == "":
		return nil, []string{fmt.Sprintf("%s is set but %s is not; set both or neither", envSecretAccessKey, envAccessKeyID)}
	case secret == "":
		return nil, []string{fmt.Sprintf("%s is set but %s is not; set both or neither", envAccessKeyID, envSecretAccessKey)}
	}
	var problems []string
	if !accessKeyIDPattern.MatchString(id) {
		problems = append(problems, fmt.Sprintf("%s=%q: must be 1 to 128 letters, digits or underscores", envAccessKeyID, id))
	}
	if !secretKeyPattern.MatchString(secret) {
		// Never echo the secret.
		problems = append(problems, fmt.Sprintf("%s: must be 1 to 128 letters, digits or any of / + = . _ -", envSecretAccessKey))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return &AccessKey{ID: id, Secret: secret}, nil
}

var (
	regionPattern      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	accountIDPattern   = regexp.MustCompile(`^\d{12}$`)
	hostnamePattern    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)
	accessKeyIDPattern = regexp.MustCompile(`^\w{1,128}$`)
	secretKeyPattern   = regexp.MustCompile(`^[A-Za-z0-9/+=._-]{1,128}$`)
)

func checkNonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// checkHostPort accepts HOST:PORT with a numeric port (0 picks a free one),
// an IP address, a host name or an empty host (every interface).
func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("must be HOST:PORT, e.g. 127.0.0.1:4580 or [::1]:4580")
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if host == "" || net.ParseIP(host) != nil {
		return nil
	}
	if len(host) > 253 || !hostnamePattern.MatchString(host) {
		return fmt.Errorf("host %q is neither an IP address nor a host name", host)
	}
	return nil
}

// checkOptionalHostPort accepts "" (off) or what checkHostPort accepts.
func checkOptionalHostPort(v string) error {
	if v == "" {
		return nil
	}
	return checkHostPort(v)
}

// checkStore accepts sqlite or a PostgreSQL URL.
func checkStore(v string) error {
	if v == "sqlite" || strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://") {
		return nil
	}
	return errors.New("must be sqlite or a postgres:// URL")
}

// checkNodeID accepts a node or cluster name: letters, digits, - and _.
func checkNodeID(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 64 || !nodeIDPattern.MatchString(v) {
		return errors.New("must be up to 64 letters, digits, '-' and '_'")
	}
	return nil
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkRouteList accepts an optional comma-separated list of HOST:PORT.
func checkRouteList(v string) error {
	for _, h := range splitHostList(v) {
		if err := checkHostPort(strings.TrimPrefix(h, "nats://")); err != nil {
			return fmt.Errorf("%q: %w", h, err)
		}
	}
	return nil
}

// checkHostList accepts a comma-separated list of IP addresses and host
// names (a leading "*." for a wildcard name).
func checkHostList(v string) error {
	hosts := splitHostList(v)
	if len(hosts) == 0 {
		return errors.New("must name at least one host")
	}
	for _, h := range hosts {
		if net.ParseIP(h) != nil {
			continue
		}
		name := strings.TrimPrefix(h, "*.")
		if len(name) > 253 || !hostnamePattern.MatchString(name) {
			return fmt.Errorf("%q is neither an IP address nor a host name", h)
		}
	}
	return nil
}

// splitHostList splits a comma-separated list, dropping blanks.
func splitHostList(v string) []string {
	var out []string
	for h := range strings.SplitSeq(v, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

func checkRegion(v string) error {
	if !regionPattern.MatchString(v) {
		return errors.New("must be a region name like us-east-1 (^[a-z]{2}(-[a-z]+)+-\\d$)")
	}
	return nil
}

func checkAccountID(v string) error {
	if !accountIDPattern.MatchString(v) {
		return errors.New("must be exactly 12 digits")
	}
	return nil
}

func checkPositiveDuration(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("not a duration such as 8760h")
	}
	if d <= 0 {
		return fmt.Errorf("must be positive")
	}
	return nil
}

func checkPositiveInt(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1<<30 {
		return fmt.Errorf("not a whole number from 1 to %d", 1<<30)
	}
	return nil
}

func checkNonNegativeInt(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 1<<30 {
		return fmt.Errorf("not a whole number from 0 to %d", 1<<30)
	}
	return nil
}

func checkDuration(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("not a duration such as 5m or 30s")
	}
	if d < 0 {
		return fmt.Errorf("must not be negative")
	}
	return nil
}

func checkLogLevel(v string) error {
	_, err := parseLogLevel(v)
	return err
}

// parseLogLevel accepts debug, info, warn (or warning) and error, in any case.
func parseLogLevel(v string) (slog.Level, error) {
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("must be debug, info, warn or error")
}

// checkSimulate accepts "off" or a device count.
func checkSimulate(v string) error {
	if v == "off" {
		return nil
	}
	return checkNonNegativeInt(v)
}

// simulateCount is the Simulate of a checked value: -1 for off.
func simulateCount(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}
