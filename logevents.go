package iotdm

import "context"

// CloudWatch Logs log streams and events (logs 2014-03-28), and AWS IoT's
// v2 logging configuration (iot 2015-05-28): the shapes carry each model's
// member names.
//
// Log streams and events are many and append-only, so they do not live in
// the entity tables and make no Changes: a LogEventStore keeps them beside
// the Store (internal/sqlite: separate tables in the same database). A log
// group's entity (KindLogGroup) stays the one record of the group itself;
// its streams belong to one incarnation of it, named by a LogGroupRef, so
// that a group deleted and created again under the same name starts empty
// even if the events of the old one are not yet all gone.
//
// The v2 logging configuration is stored as entities:
//   - KindV2LoggingOptions: key V2LoggingOptionsKey, value StoredV2LoggingOptions.
//   - KindV2LoggingLevel: key "{targetType}/{targetName}" (targetName may
//     contain '/', the type never does), value LogTargetConfiguration.
const (
	KindV2LoggingOptions = "v2loggingoptions"
	KindV2LoggingLevel   = "v2logginglevel"
	V2LoggingOptionsKey  = "account"
)

// ErrNotConfigured is AWS IoT's NotConfiguredException (404): v2 logging
// was never configured with SetV2LoggingOptions.
const ErrNotConfigured ErrorCode = "NotConfiguredException"

// --- CloudWatch Logs: log streams and events ---

// OrderBy values of DescribeLogStreams.
const (
	OrderByLogStreamName = "LogStreamName"
	OrderByLastEventTime = "LastEventTime"
)

type CreateLogStreamInput struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

type DeleteLogStreamInput struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

type DescribeLogStreamsInput struct {
	LogGroupName        string `json:"logGroupName,omitempty"`
	LogGroupIdentifier  string `json:"logGroupIdentifier,omitempty"`
	LogStreamNamePrefix string `json:"logStreamNamePrefix,omitempty"`
	OrderBy             string `json:"orderBy,omitempty"`
	Descending          bool   `json:"descending,omitempty"`
	NextToken           string `json:"nextToken,omitempty"`
	Limit               *int32 `json:"limit,omitempty"`
}

// LogStream is AWS's LogStream. StoredBytes is always 0, as on AWS since
// 2019 (the model: "no longer supported for log streams").
type LogStream struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp *int64 `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  *int64 `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   *int64 `json:"lastIngestionTime,omitempty"`
	UploadSequenceToken string `json:"uploadSequenceToken,omitempty"`
	Arn                 string `json:"arn"`
	StoredBytes         *int64 `json:"storedBytes,omitempty"`
}

type DescribeLogStreamsOutput struct {
	LogStreams []LogStream `json:"logStreams"`
	NextToken  string      `json:"nextToken,omitempty"`
}

// InputLogEvent is one event of PutLogEvents; Timestamp is epoch
// milliseconds.
type InputLogEvent struct {
	Timestamp *int64 `json:"timestamp"`
	Message   string `json:"message"`
}

// LogEntity is the entity PutLogEvents may name; iotdm accepts and ignores
// it.
type LogEntity struct {
	KeyAttributes map[string]string `json:"keyAttributes,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
}

type PutLogEventsInput struct {
	LogGroupName  string          `json:"logGroupName"`
	LogStreamName string          `json:"logStreamName"`
	LogEvents     []InputLogEvent `json:"logEvents"`
	// SequenceToken is ignored, as on AWS since 2023.
	SequenceToken string     `json:"sequenceToken,omitempty"`
	Entity        *LogEntity `json:"entity,omitempty"`
}

// RejectedLogEventsInfo says which events of a PutLogEvents batch were not
// stored: indexes below TooOldLogEventEndIndex and ExpiredLogEventEndIndex
// (both exclusive), and from TooNewLogEventStartIndex (inclusive).
type RejectedLogEventsInfo struct {
	TooNewLogEventStartIndex *int32 `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int32 `json:"tooOldLogEventEndIndex,omitempty"`
	ExpiredLogEventEndIndex  *int32 `json:"expiredLogEventEndIndex,omitempty"`
}

// RejectedEntityInfo is never sent: the entity is accepted as is.
type RejectedEntityInfo struct {
	ErrorType string `json:"errorType"`
}

type PutLogEventsOutput struct {
	NextSequenceToken     string                 `json:"nextSequenceToken,omitempty"`
	RejectedLogEventsInfo *RejectedLogEventsInfo `json:"rejectedLogEventsInfo,omitempty"`
	RejectedEntityInfo    *RejectedEntityInfo    `json:"rejectedEntityInfo,omitempty"`
}

type GetLogEventsInput struct {
	LogGroupName       string `json:"logGroupName,omitempty"`
	LogGroupIdentifier string `json:"logGroupIdentifier,omitempty"`
	LogStreamName      string `json:"logStreamName"`
	StartTime          *int64 `json:"startTime,omitempty"`
	EndTime            *int64 `json:"endTime,omitempty"`
	NextToken          string `json:"nextToken,omitempty"`
	Limit              *int32 `json:"limit,omitempty"`
	StartFromHead      bool   `json:"startFromHead,omitempty"`
	Unmask             bool   `json:"unmask,omitempty"`
}

// OutputLogEvent is one event of GetLogEvents.
type OutputLogEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type GetLogEventsOutput struct {
	Events            []OutputLogEvent `json:"events"`
	NextForwardToken  string           `json:"nextForwardToken"`
	NextBackwardToken string           `json:"nextBackwardToken"`
}

type FilterLogEventsInput struct {
	LogGroupName        string   `json:"logGroupName,omitempty"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier,omitempty"`
	LogStreamNames      []string `json:"logStreamNames,omitempty"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix,omitempty"`
	StartTime           *int64   `json:"startTime,omitempty"`
	EndTime             *int64   `json:"endTime,omitempty"`
	FilterPattern       string   `json:"filterPattern,omitempty"`
	NextToken           string   `json:"nextToken,omitempty"`
	Limit               *int32   `json:"limit,omitempty"`
	// Interleaved is ignored: results are always interleaved, as on AWS
	// since 2019.
	Interleaved *bool `json:"interleaved,omitempty"`
	Unmask      bool  `json:"unmask,omitempty"`
}

// FilteredLogEvent is one event of FilterLogEvents.
type FilteredLogEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

// SearchedLogStream is AWS's SearchedLogStream. FilterLogEvents always
// answers an empty list, as AWS has since 2020.
type SearchedLogStream struct {
	LogStreamName      string `json:"logStreamName"`
	SearchedCompletely bool   `json:"searchedCompletely"`
}

type FilterLogEventsOutput struct {
	Events             []FilteredLogEvent  `json:"events"`
	SearchedLogStreams []SearchedLogStream `json:"searchedLogStreams"`
	NextToken          string              `json:"nextToken,omitempty"`
}

// LogEvents is the log stream and log event service of CloudWatch Logs,
// with the logs model's validation and errors.
type LogEvents interface {
	CreateLogStream(ctx context.Context, in *CreateLogStreamInput) (*Empty, error)
	DeleteLogStream(ctx context.Context, in *DeleteLogStreamInput) (*Empty, error)
	DescribeLogStreams(ctx context.Context, in *DescribeLogStreamsInput) (*DescribeLogStreamsOutput, error)
	PutLogEvents(ctx context.Context, in *PutLogEventsInput) (*PutLogEventsOutput, error)
	GetLogEvents(ctx context.Context, in *GetLogEventsInput) (*GetLogEventsOutput, error)
	FilterLogEvents(ctx context.Context, in *FilterLogEventsInput) (*FilterLogEventsOutput, error)
}

// --- the log event store ---

// LogGroupRef names one incarnation of a log group: its name and its
// CreationTime (epoch milliseconds).
type LogGroupRef struct {
	Name    string
	Created int64
}

// StoredLogStream is a log stream as a LogEventStore keeps it. The event
// times are -1 until the stream's first event, and stay when events expire.
// StoredBytes counts the UTF-8 bytes of the messages it holds; Events
// counts every event ever stored in it (the upload sequence).
type StoredLogStream struct {
	Name                string
	CreationTime        int64
	FirstEventTimestamp int64
	LastEventTimestamp  int64
	LastIngestionTime   int64
	StoredBytes         int64
	Events              int64
}

// StoredLogEvent is one stored event. ID orders events stored with the same
// timestamp and never repeats within a store.
type StoredLogEvent struct {
	ID            int64
	Stream        string
	Timestamp     int64
	IngestionTime int64
	Message       string
}

// NewLogEvent is an event to append: epoch milliseconds and a message.
type NewLogEvent struct {
	Timestamp int64
	Message   string
}

// LogEventCursor is a position between events: the events sort by
// (Timestamp, ID).
type LogEventCursor struct {
	Timestamp int64
	ID        int64
}

// Less reports whether c sorts before d.
func (c LogEventCursor) Less(d LogEventCursor) bool {
	return c.Timestamp < d.Timestamp || c.Timestamp == d.Timestamp && c.ID < d.ID
}

// LogStreamQuery selects the streams of a group, in name order or in order
// of LastEventTimestamp (then name), ascending unless Descending. A page
// starts strictly after AfterName (and AfterLastEvent when ByLastEvent);
// the zero values start at the first stream of the order.
type LogStreamQuery struct {
	Group          LogGroupRef
	Prefix         string
	ByLastEvent    bool
	Descending     bool
	After          bool // AfterName and AfterLastEvent are set
	AfterName      string
	AfterLastEvent int64
}

// LogEventQuery selects the events of a group with Start <= Timestamp < End
// (End 0: no bound), from the streams named (all when Streams is nil and
// StreamPrefix empty), in (Timestamp, ID) order, strictly after After (when
// set) and strictly before Before (when set), descending when Descending,
// at most Limit of them (0: no limit).
type LogEventQuery struct {
	Group        LogGroupRef
	Streams      []string
	StreamPrefix string
	Start, End   int64
	After        *LogEventCursor
	Before       *LogEventCursor
	Descending   bool
	Limit        int
}

// LogEventStore keeps log streams and their events. Implementations:
// internal/sqlite.
//
// Streams and events of a group incarnation that no longer exists are
// invisible to the services (they look up the group's entity first) and
// are removed by DeleteGroup, which the services call when a group is
// deleted and when they find a stale incarnation (see Groups).
type LogEventStore interface {
	// CreateStream creates a stream; ResourceAlreadyExistsException when the
	// group incarnation has one of that name.
	CreateStream(ctx context.Context, g LogGroupRef, s StoredLogStream) error
	// DeleteStream deletes a stream and its events; ok is false when there
	// was none.
	DeleteStream(ctx context.Context, g LogGroupRef, name string) (ok bool, err error)
	// Stream returns one stream.
	Stream(ctx context.Context, g LogGroupRef, name string) (s StoredLogStream, ok bool, err error)
	// Streams calls fn with the streams q selects, in its order, until fn
	// returns an error (ErrStopScan stops quietly).
	Streams(ctx context.Context, q LogStreamQuery, fn func(StoredLogStream) error) error
	// Append stores events (timestamps in ascending order) in a stream with
	// the ingestion time, atomically, and returns the stream as updated;
	// ResourceNotFoundException when there is no such stream.
	Append(ctx context.Context, g LogGroupRef, stream string, ingestion int64, events []NewLogEvent) (StoredLogStream, error)
	// Events calls fn with the events q selects, in its order, until fn
	// returns an error (ErrStopScan stops quietly).
	Events(ctx context.Context, q LogEventQuery, fn func(StoredLogEvent) error) error
	// Expire deletes at most limit events of the group with Timestamp <
	// before and returns how many it deleted.
	Expire(ctx context.Context, g LogGroupRef, before int64, limit int) (int, error)
	// DeleteGroup deletes every stream and event of a group incarnation.
	DeleteGroup(ctx context.Context, g LogGroupRef) error
	// Groups returns every group incarnation that has streams, with the
	// bytes its events hold.
	Groups(ctx context.Context) ([]LogGroupUsage, error)
	// GroupBytes returns the bytes the events of each group hold (0 for an
	// unknown group).
	GroupBytes(ctx context.Context, gs []LogGroupRef) ([]int64, error)
}

// LogGroupUsage is a group incarnation known to a LogEventStore.
type LogGroupUsage struct {
	LogGroupRef
	StoredBytes int64
}

// --- AWS IoT: v2 logging ---

// LogLevel values, from the least verbose; DISABLED logs nothing.
const (
	LogLevelDisabled = "DISABLED"
	LogLevelError    = "ERROR"
	LogLevelWarn     = "WARN"
	LogLevelInfo     = "INFO"
	LogLevelDebug    = "DEBUG"
)

// LogTargetType values.
const (
	LogTargetDefault     = "DEFAULT"
	LogTargetThingGroup  = "THING_GROUP"
	LogTargetClientID    = "CLIENT_ID"
	LogTargetSourceIP    = "SOURCE_IP"
	LogTargetPrincipalID = "PRINCIPAL_ID"
)

// IoTLogGroupName is the log group AWS IoT writes its v2 logs to, unless an
// event configuration names another.
const IoTLogGroupName = "AWSIotLogsV2"

// LogEventConfiguration overrides the level or destination of one event
// type.
type LogEventConfiguration struct {
	EventType      string `json:"eventType"`
	LogLevel       string `json:"logLevel,omitempty"`
	LogDestination string `json:"logDestination,omitempty"`
}

// StoredV2LoggingOptions is the account's v2 logging configuration.
type StoredV2LoggingOptions struct {
	RoleArn             string                  `json:"roleArn,omitempty"`
	DefaultLogLevel     string                  `json:"defaultLogLevel,omitempty"`
	DisableAllLogs      bool                    `json:"disableAllLogs,omitempty"`
	EventConfigurations []LogEventConfiguration `json:"eventConfigurations,omitempty"`
}

type SetV2LoggingOptionsInput struct {
	RoleArn             string                  `json:"roleArn,omitempty"`
	DefaultLogLevel     string                  `json:"defaultLogLevel,omitempty"`
	DisableAllLogs      bool                    `json:"disableAllLogs,omitempty"`
	EventConfigurations []LogEventConfiguration `json:"eventConfigurations,omitempty"`
}

type GetV2LoggingOptionsInput struct {
	Verbose bool `query:"verbose" json:"-"`
}

type GetV2LoggingOptionsOutput struct {
	RoleArn             string                  `json:"roleArn,omitempty"`
	DefaultLogLevel     string                  `json:"defaultLogLevel,omitempty"`
	DisableAllLogs      bool                    `json:"disableAllLogs"`
	EventConfigurations []LogEventConfiguration `json:"eventConfigurations,omitempty"`
}

// LogTarget is AWS's LogTarget.
type LogTarget struct {
	TargetType string `json:"targetType"`
	TargetName string `json:"targetName,omitempty"`
}

// LogTargetConfiguration is a resource-specific log level, as stored and
// as ListV2LoggingLevels shows it.
type LogTargetConfiguration struct {
	LogTarget LogTarget `json:"logTarget"`
	LogLevel  string    `json:"logLevel"`
}

type SetV2LoggingLevelInput struct {
	LogTarget *LogTarget `json:"logTarget"`
	LogLevel  string     `json:"logLevel"`
}

type ListV2LoggingLevelsInput struct {
	TargetType string `query:"targetType" json:"-"`
	NextToken  string `query:"nextToken" json:"-"`
	MaxResults int    `query:"maxResults" json:"-"`
}

type ListV2LoggingLevelsOutput struct {
	LogTargetConfigurations []LogTargetConfiguration `json:"logTargetConfigurations"`
	NextToken               string                   `json:"nextToken,omitempty"`
}

type DeleteV2LoggingLevelInput struct {
	TargetType string `query:"targetType" json:"-"`
	TargetName string `query:"targetName" json:"-"`
}

// IoTLogging is AWS IoT's v2 logging configuration service.
type IoTLogging interface {
	SetV2LoggingOptions(ctx context.Context, in *SetV2LoggingOptionsInput) (*Empty, error)
	GetV2LoggingOptions(ctx context.Context, in *GetV2LoggingOptionsInput) (*GetV2LoggingOptionsOutput, error)
	SetV2LoggingLevel(ctx context.Context, in *SetV2LoggingLevelInput) (*Empty, error)
	ListV2LoggingLevels(ctx context.Context, in *ListV2LoggingLevelsInput) (*ListV2LoggingLevelsOutput, error)
	DeleteV2LoggingLevel(ctx context.Context, in *DeleteV2LoggingLevelInput) (*Empty, error)
}
