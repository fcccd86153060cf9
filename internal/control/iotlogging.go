package control

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/iotdm/iotdm"
)

// AWS IoT logging, v2 (the iot model's *V2Logging* operations and the
// developer guide's "Monitor AWS IoT using CloudWatch Logs"):
//
//   - IoTLogging is the configuration API: the account's options
//     (defaultLogLevel, disableAllLogs, event configurations) and the
//     resource-specific levels, stored as entities.
//   - IoTLogger is what the platform logs through: the broker, the shadow
//     service and the fleet index report Connect, Disconnect, Publish-In,
//     Subscribe, shadow and indexing events; the logger writes those the
//     configuration asks for as JSON log events, in AWS IoT's v2 entry
//     shapes, to the log group AWSIotLogsV2 (created on first write).
//
// Logging is off until SetV2LoggingOptions is called, as on AWS. Which
// entries are written: an entry's level is ERROR for a Failure (and
// SucceededWithIssues), INFO for a Success, unless it names one; it is
// written when it is no more verbose than the level that applies:
//
//  1. nothing when disableAllLogs is set;
//  2. else the resource-specific levels whose target matches the entry (its
//     CLIENT_ID, SOURCE_IP, PRINCIPAL_ID, and the THING_GROUP levels of the
//     thing named by the client id, where a group overrides its ancestors):
//     the most verbose of them;
//  3. else the event configuration of the entry's eventType, when it names
//     a level;
//  4. else defaultLogLevel (ERROR when SetV2LoggingOptions named none).
//
// An event configuration's logDestination replaces AWSIotLogsV2 for its
// event type. Log streams are named "{yyyy}/{mm}/{dd}/iotdm-{instance}" after
// the entry's UTC date and the writing server (AWS documents no stream
// naming for AWSIotLogsV2).

// IoTLoggingOptions configures an IoTLogging.
type IoTLoggingOptions struct {
	Logger *slog.Logger
	// MaxTargets bounds the resource-specific log levels; 0 means 1000,
	// the AWS quota.
	MaxTargets int
}

// IoTLogging implements iotdm.IoTLogging.
type IoTLogging struct {
	store iotdm.Store
	opts  IoTLoggingOptions
	log   *slog.Logger
}

var _ iotdm.IoTLogging = (*IoTLogging)(nil)

// NewIoTLogging returns the v2 logging configuration service.
func NewIoTLogging(store iotdm.Store, opts IoTLoggingOptions) *IoTLogging {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxTargets <= 0 {
		opts.MaxTargets = 1000
	}
	return &IoTLogging{store: store, opts: opts, log: opts.Logger.With("component", "iotlogging")}
}

// IoTLogEventTypes are the event types iotdm logs, in the order
// GetV2LoggingOptions lists them when verbose.
var IoTLogEventTypes = []string{
	IoTEventConnect, IoTEventDisconnect, IoTEventPublishIn, IoTEventSubscribe,
	IoTEventGetThingShadow, IoTEventUpdateThingShadow, IoTEventDeleteThingShadow,
	IoTEventIndexingCustomFieldFailed,
}

// Event types of AWS IoT's v2 log entries.
const (
	IoTEventConnect                   = "Connect"
	IoTEventDisconnect                = "Disconnect"
	IoTEventPublishIn                 = "Publish-In"
	IoTEventSubscribe                 = "Subscribe"
	IoTEventGetThingShadow            = "GetThingShadow"
	IoTEventUpdateThingShadow         = "UpdateThingShadow"
	IoTEventDeleteThingShadow         = "DeleteThingShadow"
	IoTEventIndexingCustomFieldFailed = "IndexingCustomFieldFailed"
)

// Statuses and reasons of AWS IoT's v2 log entries.
const (
	IoTLogSuccess             = "Success"
	IoTLogFailure             = "Failure"
	IoTLogSucceededWithIssues = "SucceededWithIssues"

	IoTReasonAuthorizationFailure  = "AUTHORIZATION_FAILURE"
	IoTReasonAuthenticationFailure = "AUTHENTICATION_FAILURE"
)

var (
	logLevels        = []string{iotdm.LogLevelDebug, iotdm.LogLevelInfo, iotdm.LogLevelError, iotdm.LogLevelWarn, iotdm.LogLevelDisabled}
	logTargetTypes   = []string{iotdm.LogTargetDefault, iotdm.LogTargetThingGroup, iotdm.LogTargetClientID, iotdm.LogTargetSourceIP, iotdm.LogTargetPrincipalID}
	logTargetNameRe  = regexp.MustCompile(`^[a-zA-Z0-9.:\s_\-]+$`) // AWS::IoT::ResourceSpecificLogging TargetName
	logDestinationRe = regexp.MustCompile(`^[.\-_/#A-Za-z0-9]+$`)  // LogDestination
)

const (
	maxLogTargetNameLen = 128
	maxLogEventTypeLen  = 512
	maxRoleArnLen       = 2048
	v2LevelsList        = "v2logginglevels"
)

func validateLogLevel(member, level string, required bool) error {
	if level == "" && !required {
		return nil
	}
	if !slices.Contains(logLevels, level) {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [DEBUG, INFO, ERROR, WARN, DISABLED]", level, member)
	}
	return nil
}

func validateTargetType(member, t string) error {
	if !slices.Contains(logTargetTypes, t) {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [DEFAULT, THING_GROUP, CLIENT_ID, SOURCE_IP, PRINCIPAL_ID]", t, member)
	}
	return nil
}

// validateTarget checks a resource-specific target: DEFAULT is the
// account's defaultLogLevel, set with SetV2LoggingOptions.
func validateTarget(typeMember, nameMember, targetType, targetName string) error {
	if err := validateTargetType(typeMember, targetType); err != nil {
		return err
	}
	if targetType == iotdm.LogTargetDefault {
		return invalid("The DEFAULT log level is set with SetV2LoggingOptions.")
	}
	switch {
	case targetName == "":
		return invalid("%s is required for target type %s.", nameMember, targetType)
	case len(targetName) > maxLogTargetNameLen || !logTargetNameRe.MatchString(targetName):
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9.:\\s_\\-]+ and have length less than or equal to %d", targetName, nameMember, maxLogTargetNameLen)
	}
	return nil
}

func levelKey(targetType, targetName string) string { return targetType + "/" + targetName }

func loadLoggingOptions(ctx context.Context, tx getter) (*iotdm.StoredV2LoggingOptions, error) {
	o, ok, err := get[iotdm.StoredV2LoggingOptions](ctx, tx, iotdm.KindV2LoggingOptions, iotdm.V2LoggingOptionsKey)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, iotdm.Errorf(iotdm.ErrNotConfigured, "V2 logging options are not configured. Call SetV2LoggingOptions first.")
	}
	return o, nil
}

// SetV2LoggingOptions replaces the account's logging options.
func (s *IoTLogging) SetV2LoggingOptions(ctx context.Context, in *iotdm.SetV2LoggingOptionsInput) (*iotdm.Empty, error) {
	if in.RoleArn != "" && (len(in.RoleArn) > maxRoleArnLen || !strings.HasPrefix(in.RoleArn, "arn:")) {
		return nil, invalid("Invalid roleArn: %s", in.RoleArn)
	}
	if err := validateLogLevel("defaultLogLevel", in.DefaultLogLevel, false); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, c := range in.EventConfigurations {
		member := fmt.Sprintf("eventConfigurations.%d.member", i+1)
		switch {
		case c.EventType == "" || len(c.EventType) > maxLogEventTypeLen:
			return nil, invalid("1 validation error detected: Value '%s' at '%s.eventType' failed to satisfy constraint: Member must have length between 1 and %d", c.EventType, member, maxLogEventTypeLen)
		case seen[c.EventType]:
			return nil, invalid("Event type %s is configured more than once.", c.EventType)
		case c.LogDestination != "" && (len(c.LogDestination) > maxLogGroupNameLen || !logDestinationRe.MatchString(c.LogDestination)):
			return nil, invalid("1 validation error detected: Value '%s' at '%s.logDestination' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[.\\-_/#A-Za-z0-9]+$", c.LogDestination, member)
		}
		if err := validateLogLevel(member+".logLevel", c.LogLevel, false); err != nil {
			return nil, err
		}
		seen[c.EventType] = true
	}
	o := iotdm.StoredV2LoggingOptions{RoleArn: in.RoleArn, DefaultLogLevel: in.DefaultLogLevel,
		DisableAllLogs: in.DisableAllLogs, EventConfigurations: slices.Clone(in.EventConfigurations)}
	err := s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		return put(ctx, tx, iotdm.KindV2LoggingOptions, iotdm.V2LoggingOptionsKey, o)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// GetV2LoggingOptions returns the account's logging options; verbose adds
// every event type iotdm logs to eventConfigurations, configured or not.
// AWS: NotConfiguredException before the first SetV2LoggingOptions.
func (s *IoTLogging) GetV2LoggingOptions(ctx context.Context, in *iotdm.GetV2LoggingOptionsInput) (*iotdm.GetV2LoggingOptionsOutput, error) {
	o, err := loadLoggingOptions(ctx, s.store)
	if err != nil {
		return nil, err
	}
	out := &iotdm.GetV2LoggingOptionsOutput{RoleArn: o.RoleArn, DefaultLogLevel: o.DefaultLogLevel,
		DisableAllLogs: o.DisableAllLogs, EventConfigurations: o.EventConfigurations}
	if in.Verbose {
		for _, t := range IoTLogEventTypes {
			if !slices.ContainsFunc(out.EventConfigurations, func(c iotdm.LogEventConfiguration) bool { return c.EventType == t }) {
				out.EventConfigurations = append(out.EventConfigurations, iotdm.LogEventConfiguration{EventType: t})
			}
		}
	}
	return out, nil
}

// SetV2LoggingLevel sets the level of one target.
func (s *IoTLogging) SetV2LoggingLevel(ctx context.Context, in *iotdm.SetV2LoggingLevelInput) (*iotdm.Empty, error) {
	if in.LogTarget == nil {
		return nil, invalid("1 validation error detected: Value null at 'logTarget' failed to satisfy constraint: Member must not be null")
	}
	if err := validateTarget("logTarget.targetType", "logTarget.targetName", in.LogTarget.TargetType, in.LogTarget.TargetName); err != nil {
		return nil, err
	}
	if err := validateLogLevel("logLevel", in.LogLevel, true); err != nil {
		return nil, err
	}
	c := iotdm.LogTargetConfiguration{LogTarget: *in.LogTarget, LogLevel: in.LogLevel}
	key := levelKey(c.LogTarget.TargetType, c.LogTarget.TargetName)
	err := s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, err := loadLoggingOptions(ctx, tx); err != nil {
			return err
		}
		_, exists, err := tx.Get(ctx, iotdm.KindV2LoggingLevel, key)
		if err != nil {
			return err
		}
		if !exists {
			n := 0
			if err := tx.Scan(ctx, iotdm.KindV2LoggingLevel, "", "", 0, func(string, []byte) error { n++; return nil }); err != nil {
				return err
			}
			if n >= s.opts.MaxTargets {
				return iotdm.Errorf(iotdm.ErrLimitExceeded, "An account can have at most %d resource-specific logging levels.", s.opts.MaxTargets)
			}
		}
		return put(ctx, tx, iotdm.KindV2LoggingLevel, key, c)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// ListV2LoggingLevels lists the default level and the resource-specific
// levels, by target type and name, optionally of one target type.
func (s *IoTLogging) ListV2LoggingLevels(ctx context.Context, in *iotdm.ListV2LoggingLevelsInput) (*iotdm.ListV2LoggingLevelsOutput, error) {
	if in.TargetType != "" {
		if err := validateTargetType("targetType", in.TargetType); err != nil {
			return nil, err
		}
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(v2LevelsList, in.NextToken)
	if err != nil {
		return nil, err
	}
	p := pager[iotdm.LogTargetConfiguration]{size: size}
	err = s.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		o, err := loadLoggingOptions(ctx, tx)
		if err != nil {
			return err
		}
		// The DEFAULT target, the account's default level, comes first: its
		// page key sorts before every stored level's.
		if (in.TargetType == "" || in.TargetType == iotdm.LogTargetDefault) && after == "" {
			p.add("\x00"+iotdm.LogTargetDefault, iotdm.LogTargetConfiguration{
				LogTarget: iotdm.LogTarget{TargetType: iotdm.LogTargetDefault},
				LogLevel:  cmp.Or(o.DefaultLogLevel, iotdm.LogLevelError),
			})
		}
		prefix := ""
		if in.TargetType != "" {
			prefix = in.TargetType + "/"
		}
		return scanAfter(ctx, tx, iotdm.KindV2LoggingLevel, prefix, after, func(key string, c *iotdm.LogTargetConfiguration) error {
			if !p.add(key, *c) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListV2LoggingLevelsOutput{LogTargetConfigurations: p.page(), NextToken: p.next(v2LevelsList)}
	return out, nil
}

// DeleteV2LoggingLevel deletes the level of one target; deleting a target
// without a level succeeds.
func (s *IoTLogging) DeleteV2LoggingLevel(ctx context.Context, in *iotdm.DeleteV2LoggingLevelInput) (*iotdm.Empty, error) {
	if err := validateTarget("targetType", "targetName", in.TargetType, in.TargetName); err != nil {
		return nil, err
	}
	err := s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Delete(ctx, iotdm.KindV2LoggingLevel, levelKey(in.TargetType, in.TargetName))
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// --- the logger ---

// IoTLogEntry is one AWS IoT log entry. The zero values of Time, Status,
// LogLevel and TraceID mean now, Success, the status's level and a fresh
// id.
type IoTLogEntry struct {
	Time      time.Time
	EventType string
	Status    string
	LogLevel  string
	TraceID   string
	Protocol  string // MQTT or HTTP

	ClientID    string
	PrincipalID string
	SourceIP    string
	SourcePort  int

	TopicName        string
	DeviceShadowName string
	ThingName        string

	Reason           string
	Details          string
	DisconnectReason string

	FailedCustomFields []FailedCustomField
}

// FailedCustomField is a custom field the fleet index could not index: its
// name, the value and the type it should have had.
type FailedCustomField struct {
	Name         string `json:"Name"`
	Value        string `json:"Value"`
	ExpectedType string `json:"ExpectedType"`
}

// IoTLogClient identifies the client an entry is about.
type IoTLogClient struct {
	ClientID    string
	PrincipalID string
	SourceIP    string
	SourcePort  int
	Protocol    string // "" means MQTT
}

// IoTLoggerOptions configures an IoTLogger.
type IoTLoggerOptions struct {
	AccountID string
	// Instance names this server in its log stream names; "" means a
	// random id.
	Instance string
	// ThingGroups returns the static thing groups of a thing by distance:
	// its own groups first, then their parents, and so on. nil reads them
	// from the store. It runs on the logger's goroutine, never in Log.
	ThingGroups func(ctx context.Context, thingName string) ([][]string, error)
	// BufferSize bounds the entries waiting to be written; more are dropped
	// (Dropped counts them). 0 means 8192.
	BufferSize int
	// BatchSize is how many entries make the logger write before
	// FlushInterval; 0 means 1000.
	BatchSize int
	// FlushInterval is the longest an entry waits to be written; 0 means
	// one second.
	FlushInterval time.Duration
	Logger        *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// IoTLogger writes AWS IoT log entries as the v2 logging configuration
// asks (see the top of this file). Log and its helpers are safe for
// concurrent use and never block: with logging off they return at once
// without allocating; otherwise the entry is queued, and Run writes the
// queue in batches.
type IoTLogger struct {
	store  iotdm.Store
	events *LogEvents
	opts   IoTLoggerOptions
	log    *slog.Logger

	cfg     atomic.Pointer[loggingConfig]
	queue   chan IoTLogEntry
	flushes chan chan error
	dropped atomic.Uint64
	written atomic.Uint64

	reloadMu sync.Mutex
	known    map[string]iotdm.LogGroupRef // the streams written to; Run's
}

// NewIoTLogger returns a logger that reads its configuration from store
// and writes through events. It logs nothing until Run (or Reload) has
// read the configuration.
func NewIoTLogger(store iotdm.Store, events *LogEvents, opts IoTLoggerOptions) *IoTLogger {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = 8192
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.Instance == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		opts.Instance = hex.EncodeToString(b[:])
	}
	l := &IoTLogger{store: store, events: events, opts: opts, log: opts.Logger.With("component", "iotlogging"),
		queue: make(chan IoTLogEntry, opts.BufferSize), flushes: make(chan chan error), known: map[string]iotdm.LogGroupRef{}}
	if l.opts.ThingGroups == nil {
		l.opts.ThingGroups = l.storeThingGroups
	}
	return l
}

// Level ranks: an entry is written when its rank is at most the rank of
// the level that applies.
const (
	rankDisabled = iota
	rankError
	rankWarn
	rankInfo
	rankDebug
)

func levelRank(level string) int {
	switch level {
	case iotdm.LogLevelError:
		return rankError
	case iotdm.LogLevelWarn:
		return rankWarn
	case iotdm.LogLevelInfo:
		return rankInfo
	case iotdm.LogLevelDebug:
		return rankDebug
	}
	return rankDisabled
}

// loggingConfig is the configuration compiled for Log.
type loggingConfig struct {
	enabled      bool // some entry may be written
	defaultRank  int
	events       map[string]eventConfig
	clientIDs    map[string]int
	sourceIPs    map[string]int
	principalIDs map[string]int
	groups       map[string]int
}

type eventConfig struct {
	rank int // -1: the event type names no level
	dest string
}

func compileLoggingConfig(o *iotdm.StoredV2LoggingOptions, levels []iotdm.LogTargetConfiguration) *loggingConfig {
	c := &loggingConfig{}
	if o == nil || o.DisableAllLogs {
		return c
	}
	c.defaultRank = rankError
	if o.DefaultLogLevel != "" {
		c.defaultRank = levelRank(o.DefaultLogLevel)
	}
	c.enabled = c.defaultRank > rankDisabled
	for _, e := range o.EventConfigurations {
		ec := eventConfig{rank: -1, dest: e.LogDestination}
		if e.LogLevel != "" {
			ec.rank = levelRank(e.LogLevel)
			c.enabled = c.enabled || ec.rank > rankDisabled
		}
		if c.events == nil {
			c.events = map[string]eventConfig{}
		}
		c.events[e.EventType] = ec
	}
	for _, l := range levels {
		var m *map[string]int
		switch l.LogTarget.TargetType {
		case iotdm.LogTargetClientID:
			m = &c.clientIDs
		case iotdm.LogTargetSourceIP:
			m = &c.sourceIPs
		case iotdm.LogTargetPrincipalID:
			m = &c.principalIDs
		case iotdm.LogTargetThingGroup:
			m = &c.groups
		default:
			continue
		}
		if *m == nil {
			*m = map[string]int{}
		}
		r := levelRank(l.LogLevel)
		(*m)[l.LogTarget.TargetName] = r
		c.enabled = c.enabled || r > rankDisabled
	}
	return c
}

// rank returns the rank of the level that applies to e; groups are the
// thing's groups by distance (nil when there are no group levels or they
// are not known yet).
func (c *loggingConfig) rank(e *IoTLogEntry, groups [][]string) int {
	best := -1
	if r, ok := c.clientIDs[e.ClientID]; ok && e.ClientID != "" {
		best = max(best, r)
	}
	if r, ok := c.sourceIPs[e.SourceIP]; ok && e.SourceIP != "" {
		best = max(best, r)
	}
	if r, ok := c.principalIDs[e.PrincipalID]; ok && e.PrincipalID != "" {
		best = max(best, r)
	}
	for _, layer := range groups {
		layerBest := -1
		for _, g := range layer {
			if r, ok := c.groups[g]; ok {
				layerBest = max(layerBest, r)
			}
		}
		if layerBest >= 0 {
			best = max(best, layerBest) // the nearest groups with a level decide
			break
		}
	}
	if best >= 0 {
		return best
	}
	if ec, ok := c.events[e.EventType]; ok && ec.rank >= 0 {
		return ec.rank
	}
	return c.defaultRank
}

// entryRank is the rank of e's own level.
func entryRank(e *IoTLogEntry) int {
	if e.LogLevel != "" {
		return levelRank(e.LogLevel)
	}
	switch e.Status {
	case IoTLogFailure, IoTLogSucceededWithIssues:
		return rankError
	}
	return rankInfo
}

// Enabled reports whether any entry may be written now.
func (l *IoTLogger) Enabled() bool {
	c := l.cfg.Load()
	return c != nil && c.enabled
}

// Log queues e if the configuration may want it. It never blocks: when the
// buffer is full the entry is dropped and counted.
func (l *IoTLogger) Log(e IoTLogEntry) {
	c := l.cfg.Load()
	if c == nil || !c.enabled {
		return
	}
	// Without thing group levels the decision is final here; with them it
	// waits for the thing's groups, which Run looks up.
	if len(c.groups) == 0 && entryRank(&e) > c.rank(&e, nil) {
		return
	}
	if e.Time.IsZero() {
		e.Time = l.opts.Now()
	}
	select {
	case l.queue <- e:
	default:
		l.dropped.Add(1)
	}
}

// Dropped returns how many entries were not written: the buffer was full,
// or writing them failed.
func (l *IoTLogger) Dropped() uint64 { return l.dropped.Load() }

// Written returns how many entries were written.
func (l *IoTLogger) Written() uint64 { return l.written.Load() }

func logStatusOf(reason string) string {
	if reason == "" {
		return IoTLogSuccess
	}
	return IoTLogFailure
}

func (c IoTLogClient) entry(eventType string) IoTLogEntry {
	return IoTLogEntry{EventType: eventType, Protocol: cmp.Or(c.Protocol, "MQTT"), ClientID: c.ClientID,
		PrincipalID: c.PrincipalID, SourceIP: c.SourceIP, SourcePort: c.SourcePort}
}

// Connect logs a CONNECT: accepted when reason is "", else refused for
// reason (IoTReasonAuthorizationFailure, ...) with details.
func (l *IoTLogger) Connect(c IoTLogClient, reason, details string) {
	if !l.Enabled() {
		return
	}
	e := c.entry(IoTEventConnect)
	e.Status, e.Reason, e.Details = logStatusOf(reason), reason, details
	l.Log(e)
}

// Disconnect logs the end of a connection with its DisconnectReasonValue
// (disconnectReason) and a description (details).
func (l *IoTLogger) Disconnect(c IoTLogClient, disconnectReason, details string) {
	if !l.Enabled() {
		return
	}
	e := c.entry(IoTEventDisconnect)
	e.Status, e.DisconnectReason, e.Details = IoTLogSuccess, disconnectReason, details
	l.Log(e)
}

// PublishIn logs a PUBLISH from a client: accepted when reason is "", else
// refused (an unauthorized topic is IoTReasonAuthorizationFailure).
func (l *IoTLogger) PublishIn(c IoTLogClient, topic, reason, details string) {
	if !l.Enabled() {
		return
	}
	e := c.entry(IoTEventPublishIn)
	e.Status, e.TopicName, e.Reason, e.Details = logStatusOf(reason), topic, reason, details
	l.Log(e)
}

// Subscribe logs one filter of a SUBSCRIBE: granted when reason is "",
// else refused.
func (l *IoTLogger) Subscribe(c IoTLogClient, filter, reason, details string) {
	if !l.Enabled() {
		return
	}
	e := c.entry(IoTEventSubscribe)
	e.Status, e.TopicName, e.Reason, e.Details = logStatusOf(reason), filter, reason, details
	l.Log(e)
}

// Shadow logs a shadow request (eventType IoTEventUpdateThingShadow,
// IoTEventGetThingShadow or IoTEventDeleteThingShadow) for a thing's
// shadow on a topic: accepted when reason is "", else rejected (the
// reason is the error code of the /rejected document, details its
// message).
func (l *IoTLogger) Shadow(eventType string, c IoTLogClient, thing, topic, reason, details string) {
	if !l.Enabled() {
		return
	}
	e := c.entry(eventType)
	e.Status, e.DeviceShadowName, e.TopicName, e.Reason, e.Details = logStatusOf(reason), thing, topic, reason, details
	l.Log(e)
}

// IndexingCustomFieldFailed logs the custom fields of a thing the fleet
// index could not index for their type.
func (l *IoTLogger) IndexingCustomFieldFailed(thing string, fields []FailedCustomField) {
	if !l.Enabled() {
		return
	}
	l.Log(IoTLogEntry{EventType: IoTEventIndexingCustomFieldFailed, Status: IoTLogSucceededWithIssues,
		ThingName: thing, FailedCustomFields: slices.Clone(fields)})
}

// Reload reads the logging configuration from the store.
func (l *IoTLogger) Reload(ctx context.Context) error {
	_, err := l.reload(ctx)
	return err
}

func (l *IoTLogger) reload(ctx context.Context) (uint64, error) {
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	var (
		o      *iotdm.StoredV2LoggingOptions
		levels []iotdm.LogTargetConfiguration
		seq    uint64
	)
	err := l.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, s uint64) error {
		seq = s
		var ok bool
		var err error
		if o, ok, err = get[iotdm.StoredV2LoggingOptions](ctx, tx, iotdm.KindV2LoggingOptions, iotdm.V2LoggingOptionsKey); err != nil {
			return err
		} else if !ok {
			o = nil
		}
		return scanAfter(ctx, tx, iotdm.KindV2LoggingLevel, "", "", func(_ string, c *iotdm.LogTargetConfiguration) error {
			levels = append(levels, *c)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("read the logging configuration: %w", err)
	}
	l.cfg.Store(compileLoggingConfig(o, levels))
	return seq, nil
}

// Run reads the configuration, follows its changes, and writes the queued
// entries in batches until ctx ends; then it writes what is queued (for up
// to five seconds) and returns ctx's error. The caller owns the goroutine;
// one Run at a time.
func (l *IoTLogger) Run(ctx context.Context) error {
	seq, err := l.reload(ctx)
	if err != nil {
		return err
	}
	followCtx, stopFollow := context.WithCancel(ctx)
	followDone := make(chan error, 1)
	go func() {
		followDone <- iotdm.Follow(followCtx, l.store, seq, func(c iotdm.Change) error {
			if c.Kind != iotdm.KindV2LoggingOptions && c.Kind != iotdm.KindV2LoggingLevel {
				return nil
			}
			_, err := l.reload(followCtx)
			return err
		})
	}()
	follow := followDone // nil once the follower has stopped
	defer func() {
		stopFollow()
		if follow != nil {
			<-follow
		}
	}()

	known := l.known
	batch := make([]IoTLogEntry, 0, l.opts.BatchSize)
	ticker := time.NewTicker(l.opts.FlushInterval)
	defer ticker.Stop()
	write := func(ctx context.Context) error {
		err := l.write(ctx, known, batch)
		clear(batch)
		batch = batch[:0]
		return err
	}
	for {
		select {
		case e := <-l.queue:
			batch = append(batch, e)
			if len(batch) >= l.opts.BatchSize {
				if err := write(ctx); err != nil {
					l.log.WarnContext(ctx, "write AWS IoT logs", "err", err)
				}
			}
		case <-ticker.C:
			if len(batch) > 0 {
				if err := write(ctx); err != nil {
					l.log.WarnContext(ctx, "write AWS IoT logs", "err", err)
				}
			}
		case done := <-l.flushes:
			batch = l.drain(batch)
			done <- write(ctx)
		case err := <-follow:
			follow = nil
			if ctx.Err() == nil {
				l.shutdown(ctx, batch)
				return fmt.Errorf("follow the logging configuration: %w", err)
			}
		case <-ctx.Done():
			l.shutdown(ctx, batch)
			return ctx.Err()
		}
	}
}

// shutdown writes batch and whatever is queued, for up to five seconds.
func (l *IoTLogger) shutdown(ctx context.Context, batch []IoTLogEntry) {
	batch = l.drain(batch)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.write(fctx, l.known, batch); err != nil {
		l.log.Warn("write the last AWS IoT logs", "err", err)
	}
}

// drain appends every queued entry to batch.
func (l *IoTLogger) drain(batch []IoTLogEntry) []IoTLogEntry {
	for {
		select {
		case e := <-l.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
}

// Flush writes every entry queued before it was called; it needs Run to be
// running, and waits for it until ctx ends.
func (l *IoTLogger) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case l.flushes <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// streamName is the log stream of the entries of one UTC day.
func (l *IoTLogger) streamName(t time.Time) string {
	return t.UTC().Format("2006/01/02") + "/iotdm-" + l.opts.Instance
}

type logDest struct{ group, stream string }

// write decides, renders and stores a batch.
func (l *IoTLogger) write(ctx context.Context, known map[string]iotdm.LogGroupRef, batch []IoTLogEntry) error {
	if len(batch) == 0 {
		return nil
	}
	c := l.cfg.Load()
	if c == nil {
		return nil
	}
	out := map[logDest][]iotdm.NewLogEvent{}
	groups := map[string][][]string{}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range batch {
		e := &batch[i]
		var gs [][]string
		if len(c.groups) > 0 {
			thing := cmp.Or(e.ThingName, e.ClientID)
			var ok bool
			if gs, ok = groups[thing]; !ok && thing != "" {
				var err error
				if gs, err = l.opts.ThingGroups(ctx, thing); err != nil {
					l.log.WarnContext(ctx, "look up thing groups for logging", "thing", thing, "err", err)
				}
				groups[thing] = gs
			}
		}
		rank := c.rank(e, gs)
		if entryRank(e) > rank {
			continue
		}
		buf.Reset()
		if err := enc.Encode(l.render(e)); err != nil {
			l.dropped.Add(1)
			continue
		}
		dest := logDest{group: iotdm.IoTLogGroupName, stream: l.streamName(e.Time)}
		if ec, ok := c.events[e.EventType]; ok && ec.dest != "" {
			dest.group = ec.dest
		}
		out[dest] = append(out[dest], iotdm.NewLogEvent{Timestamp: e.Time.UnixMilli(),
			Message: strings.TrimSuffix(buf.String(), "\n")})
	}
	var errs []error
	for _, dest := range slices.SortedFunc(maps.Keys(out), func(a, b logDest) int {
		return cmp.Or(strings.Compare(a.group, b.group), strings.Compare(a.stream, b.stream))
	}) {
		events := out[dest]
		slices.SortStableFunc(events, func(a, b iotdm.NewLogEvent) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
		if err := l.events.writeEvents(ctx, known, dest.group, dest.stream, events); err != nil {
			l.dropped.Add(uint64(len(events)))
			errs = append(errs, fmt.Errorf("log group %s: %w", dest.group, err))
			continue
		}
		l.written.Add(uint64(len(events)))
	}
	return errors.Join(errs...)
}

// v2LogEntry is the JSON of an AWS IoT v2 log entry, members in the order
// of the developer guide's examples.
type v2LogEntry struct {
	Timestamp          string              `json:"timestamp"`
	LogLevel           string              `json:"logLevel"`
	TraceID            string              `json:"traceId"`
	AccountID          string              `json:"accountId"`
	Status             string              `json:"status"`
	EventType          string              `json:"eventType"`
	Protocol           string              `json:"protocol,omitempty"`
	TopicName          string              `json:"topicName,omitempty"`
	DeviceShadowName   string              `json:"deviceShadowName,omitempty"`
	ClientID           string              `json:"clientId,omitempty"`
	ThingName          string              `json:"thingName,omitempty"`
	PrincipalID        string              `json:"principalId,omitempty"`
	SourceIP           string              `json:"sourceIp,omitempty"`
	SourcePort         int                 `json:"sourcePort,omitempty"`
	Reason             string              `json:"reason,omitempty"`
	Details            string              `json:"details,omitempty"`
	DisconnectReason   string              `json:"disconnectReason,omitempty"`
	FailedCustomFields []FailedCustomField `json:"failedCustomFields,omitempty"`
}

// logTimeFormat is the timestamp of AWS IoT's log entries (UTC).
const logTimeFormat = "2006-01-02 15:04:05.000"

func (l *IoTLogger) render(e *IoTLogEntry) v2LogEntry {
	level := e.LogLevel
	if level == "" {
		level = iotdm.LogLevelInfo
		if entryRank(e) == rankError {
			level = iotdm.LogLevelError
		}
	}
	return v2LogEntry{
		Timestamp: e.Time.UTC().Format(logTimeFormat), LogLevel: level, TraceID: cmp.Or(e.TraceID, uuid.NewString()),
		AccountID: l.opts.AccountID, Status: cmp.Or(e.Status, IoTLogSuccess), EventType: e.EventType,
		Protocol: e.Protocol, TopicName: e.TopicName, DeviceShadowName: e.DeviceShadowName, ClientID: e.ClientID,
		ThingName: e.ThingName, PrincipalID: e.PrincipalID, SourceIP: e.SourceIP, SourcePort: e.SourcePort,
		Reason: e.Reason, Details: e.Details, DisconnectReason: e.DisconnectReason, FailedCustomFields: e.FailedCustomFields,
	}
}

// storeThingGroups reads a thing's static groups and their ancestors from
// the store, nearest first.
func (l *IoTLogger) storeThingGroups(ctx context.Context, thing string) ([][]string, error) {
	var layers [][]string
	err := l.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		names, err := thingGroupNames(ctx, tx, thing)
		if err != nil || len(names) == 0 {
			return err
		}
		slices.Sort(names)
		layers = append(layers, names)
		for _, name := range names {
			g, ok, err := get[iotdm.ThingGroup](ctx, tx, iotdm.KindThingGroup, name)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			path := g.ThingGroupMetadata.RootToParentThingGroups
			for d := 1; d <= len(path); d++ {
				for len(layers) <= d {
					layers = append(layers, nil)
				}
				if a := path[len(path)-d].GroupName; !slices.Contains(layers[d], a) {
					layers[d] = append(layers[d], a)
				}
			}
		}
		return nil
	})
	return layers, err
}
