package control

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// CloudWatch Logs log streams and events (logs 2014-03-28) on an
// iotdm.LogEventStore, beside the log group entities of the Store.
//
// Every operation first reads the group's entity: a stream belongs to the
// group incarnation (name and creationTime) it was created in, so streams
// of a deleted group never show through a new group of the same name.
// Retention is applied twice: reads never return events older than the
// group's retentionInDays, and Run deletes them in the background.

// LogEventsOptions configures a LogEvents.
type LogEventsOptions struct {
	Region    string // used in ARNs
	AccountID string // used in ARNs
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// ExpiryInterval is how often Run applies retention; 0 means 5 minutes.
	ExpiryInterval time.Duration
	// ScanLimit bounds how many events one FilterLogEvents call examines
	// before it answers a partial page with a nextToken (as AWS may);
	// 0 means 100000.
	ScanLimit int
}

// LogEvents implements iotdm.LogEvents.
type LogEvents struct {
	store  iotdm.Store
	events iotdm.LogEventStore
	opts   LogEventsOptions
	log    *slog.Logger
}

var _ iotdm.LogEvents = (*LogEvents)(nil)

// NewLogEvents returns the log stream and event service over the entity
// store (for the log groups) and the event store.
func NewLogEvents(store iotdm.Store, events iotdm.LogEventStore, opts LogEventsOptions) *LogEvents {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ExpiryInterval <= 0 {
		opts.ExpiryInterval = 5 * time.Minute
	}
	if opts.ScanLimit <= 0 {
		opts.ScanLimit = 100000
	}
	return &LogEvents{store: store, events: events, opts: opts, log: opts.Logger.With("component", "logs")}
}

// Limits from the logs model and the PutLogEvents documentation.
const (
	maxLogStreamNameLen   = 512
	maxLogEventsPerPut    = 10000
	maxPutBytes           = 1048576 // the sum of message bytes plus 26 per event
	logEventOverhead      = 26
	maxEventsLimit        = 10000
	maxResponseBytes      = 1 << 20 // a page of GetLogEvents or FilterLogEvents
	maxLogStreamNames     = 100
	maxLogGroupIdentLen   = 2048
	maxEventAge           = 14 * 24 * time.Hour
	maxEventFuture        = 2 * time.Hour
	maxBatchSpan          = 24 * time.Hour
	expireChunk           = 10000
	logStreamsList        = "logstreams"
	filterLogEventsList   = "filterlogevents"
	describeStreamsLimit  = 50
	logStreamNameTemplate = "[^:*]*"
)

var (
	logStreamNamePattern = regexp.MustCompile(`^[^:*]*$`)
	logGroupIdentPattern = regexp.MustCompile(`^[\w#+=/:,.@-]*$`)
)

func logStreamNotFound() error {
	return iotdm.Errorf(iotdm.ErrResourceNotFound, "The specified log stream does not exist.")
}

func validateLogStreamName(member, name string) error {
	switch {
	case name == "":
		return logsConstraint(nil, member, "Member must not be null")
	case len(name) > maxLogStreamNameLen:
		return logsConstraint(name, member, "Member must have length less than or equal to 512")
	case !logStreamNamePattern.MatchString(name):
		return logsConstraint(name, member, "Member must satisfy regular expression pattern: "+logStreamNameTemplate)
	}
	return nil
}

// eventsLimit validates an EventsLimit (1-10000) and applies the default.
func eventsLimit(n *int32) (int, error) {
	switch {
	case n == nil:
		return maxEventsLimit, nil
	case *n < 1:
		return 0, logsConstraint(*n, "limit", "Member must have value greater than or equal to 1")
	case *n > maxEventsLimit:
		return 0, logsConstraint(*n, "limit", "Member must have value less than or equal to 10000")
	}
	return int(*n), nil
}

func validateTime(member string, t *int64) error {
	if t != nil && *t < 0 {
		return logsConstraint(*t, member, "Member must have value greater than or equal to 0")
	}
	return nil
}

func (e *LogEvents) logGroupArn(name string) string {
	return "arn:aws:logs:" + e.opts.Region + ":" + e.opts.AccountID + ":log-group:" + name
}

// group reads a log group's entity.
func (e *LogEvents) group(ctx context.Context, name string) (*iotdm.StoredLogGroup, iotdm.LogGroupRef, error) {
	g, err := loadLogGroup(ctx, e.store, name)
	if err != nil {
		return nil, iotdm.LogGroupRef{}, err
	}
	return g, iotdm.LogGroupRef{Name: g.LogGroupName, Created: g.CreationTime}, nil
}

// groupOf resolves the logGroupName or logGroupIdentifier (a name, or an
// ARN with or without ":*") of a read operation: exactly one must be set.
// AWS: an ARN of another account or region names no group here.
func (e *LogEvents) groupOf(ctx context.Context, name, ident string) (*iotdm.StoredLogGroup, iotdm.LogGroupRef, error) {
	switch {
	case name != "" && ident != "":
		return nil, iotdm.LogGroupRef{}, logsInvalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name == "" && ident == "":
		return nil, iotdm.LogGroupRef{}, logsInvalid("Either the logGroupName or the logGroupIdentifier must be specified.")
	case name != "":
		if err := validateLogGroupName("logGroupName", name); err != nil {
			return nil, iotdm.LogGroupRef{}, err
		}
		return e.group(ctx, name)
	}
	if len(ident) > maxLogGroupIdentLen || !logGroupIdentPattern.MatchString(ident) {
		return nil, iotdm.LogGroupRef{}, logsConstraint(ident, "logGroupIdentifier", `Member must satisfy regular expression pattern: [\w#+=/:,.@-]*`)
	}
	if !strings.HasPrefix(ident, "arn:") {
		if err := validateLogGroupName("logGroupIdentifier", ident); err != nil {
			return nil, iotdm.LogGroupRef{}, err
		}
		return e.group(ctx, ident)
	}
	n, ok := strings.CutPrefix(strings.TrimSuffix(ident, ":*"), e.logGroupArn(""))
	if !ok || validateLogGroupName("logGroupIdentifier", n) != nil {
		return nil, iotdm.LogGroupRef{}, logGroupNotFound()
	}
	return e.group(ctx, n)
}

// retentionStart is the oldest timestamp a read may return: events older
// than the group's retention are gone even before Run deletes them.
func (e *LogEvents) retentionStart(g *iotdm.StoredLogGroup, now time.Time) int64 {
	if g.RetentionInDays <= 0 {
		return 0
	}
	return now.Add(-time.Duration(g.RetentionInDays) * 24 * time.Hour).UnixMilli()
}

// CreateLogStream creates a log stream in a log group.
func (e *LogEvents) CreateLogStream(ctx context.Context, in *iotdm.CreateLogStreamInput) (*iotdm.Empty, error) {
	if err := validateLogGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateLogStreamName("logStreamName", in.LogStreamName); err != nil {
		return nil, err
	}
	_, ref, err := e.group(ctx, in.LogGroupName)
	if err != nil {
		return nil, err
	}
	// AWS: ResourceAlreadyExistsException "The specified log stream already exists".
	if err := e.events.CreateStream(ctx, ref, iotdm.StoredLogStream{Name: in.LogStreamName, CreationTime: e.opts.Now().UnixMilli()}); err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// DeleteLogStream deletes a log stream and its events.
func (e *LogEvents) DeleteLogStream(ctx context.Context, in *iotdm.DeleteLogStreamInput) (*iotdm.Empty, error) {
	if err := validateLogGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateLogStreamName("logStreamName", in.LogStreamName); err != nil {
		return nil, err
	}
	_, ref, err := e.group(ctx, in.LogGroupName)
	if err != nil {
		return nil, err
	}
	ok, err := e.events.DeleteStream(ctx, ref, in.LogStreamName)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, logStreamNotFound()
	}
	return &iotdm.Empty{}, nil
}

// sequenceToken renders a stream's upload sequence as AWS's 56-digit
// sequence tokens look.
func sequenceToken(events int64) string { return fmt.Sprintf("%056d", events) }

// describeStream renders a stored stream.
func (e *LogEvents) describeStream(group string, s iotdm.StoredLogStream) iotdm.LogStream {
	out := iotdm.LogStream{
		LogStreamName:       s.Name,
		CreationTime:        s.CreationTime,
		Arn:                 e.logGroupArn(group) + ":log-stream:" + s.Name,
		UploadSequenceToken: sequenceToken(s.Events),
		// AWS: always 0 for log streams since June 2019 (the model).
		StoredBytes: pointerTo(int64(0)),
	}
	if s.Events > 0 {
		out.FirstEventTimestamp = pointerTo(s.FirstEventTimestamp)
		out.LastEventTimestamp = pointerTo(s.LastEventTimestamp)
		out.LastIngestionTime = pointerTo(s.LastIngestionTime)
	}
	return out
}

// DescribeLogStreams lists a group's streams by name or by the time of
// their last event.
func (e *LogEvents) DescribeLogStreams(ctx context.Context, in *iotdm.DescribeLogStreamsInput) (*iotdm.DescribeLogStreamsOutput, error) {
	size := describeStreamsLimit
	if in.Limit != nil {
		switch n := *in.Limit; {
		case n < 1:
			return nil, logsConstraint(n, "limit", "Member must have value greater than or equal to 1")
		case n > describeStreamsLimit:
			return nil, logsConstraint(n, "limit", "Member must have value less than or equal to 50")
		default:
			size = int(n)
		}
	}
	if in.LogStreamNamePrefix != "" {
		if err := validateLogStreamName("logStreamNamePrefix", in.LogStreamNamePrefix); err != nil {
			return nil, err
		}
	}
	byLastEvent := false
	switch in.OrderBy {
	case "", iotdm.OrderByLogStreamName:
	case iotdm.OrderByLastEventTime:
		byLastEvent = true
		// AWS: the prefix and this order exclude each other.
		if in.LogStreamNamePrefix != "" {
			return nil, logsInvalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
	default:
		return nil, logsConstraint(in.OrderBy, "orderBy", "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
	}
	g, ref, err := e.groupOf(ctx, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	// The token names the order it pages, so it fits no other.
	list := fmt.Sprintf("%s/%t/%t", logStreamsList, byLastEvent, in.Descending)
	after, err := decodeToken(list, in.NextToken)
	if err != nil {
		return nil, logsInvalid("The specified nextToken is invalid.")
	}
	q := iotdm.LogStreamQuery{Group: ref, Prefix: in.LogStreamNamePrefix, ByLastEvent: byLastEvent, Descending: in.Descending}
	if after != "" {
		q.After = true
		q.AfterName = after
		if byLastEvent {
			ts, name, ok := strings.Cut(after, "/")
			n, perr := strconv.ParseInt(ts, 10, 64)
			if !ok || perr != nil {
				return nil, logsInvalid("The specified nextToken is invalid.")
			}
			q.AfterLastEvent, q.AfterName = n, name
		}
	}
	p := pager[iotdm.LogStream]{size: size}
	err = e.events.Streams(ctx, q, func(s iotdm.StoredLogStream) error {
		key := s.Name
		if byLastEvent {
			key = strconv.FormatInt(s.LastEventTimestamp, 10) + "/" + s.Name
		}
		if !p.add(key, e.describeStream(g.LogGroupName, s)) {
			return iotdm.ErrStopScan
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.DescribeLogStreamsOutput{LogStreams: p.page(), NextToken: p.next(list)}
	return out, nil
}

// PutLogEvents stores a batch of events in a stream. Events dated more
// than 14 days (or the group's retention) ago or more than 2 hours ahead
// are left out and reported in rejectedLogEventsInfo; the rest are stored
// together.
func (e *LogEvents) PutLogEvents(ctx context.Context, in *iotdm.PutLogEventsInput) (*iotdm.PutLogEventsOutput, error) {
	if err := validateLogGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateLogStreamName("logStreamName", in.LogStreamName); err != nil {
		return nil, err
	}
	switch n := len(in.LogEvents); {
	case in.LogEvents == nil:
		return nil, logsConstraint(nil, "logEvents", "Member must not be null")
	case n < 1:
		return nil, logsConstraint("[]", "logEvents", "Member must have length greater than or equal to 1")
	case n > maxLogEventsPerPut:
		return nil, logsConstraint(n, "logEvents", "Member must have length less than or equal to 10000")
	}
	size := 0
	for i, ev := range in.LogEvents {
		member := fmt.Sprintf("logEvents.%d.member", i+1)
		switch {
		case ev.Timestamp == nil:
			return nil, logsConstraint(nil, member+".timestamp", "Member must not be null")
		case *ev.Timestamp < 0:
			return nil, logsConstraint(*ev.Timestamp, member+".timestamp", "Member must have value greater than or equal to 0")
		case ev.Message == "":
			return nil, logsConstraint(nil, member+".message", "Member must have length greater than or equal to 1")
		}
		size += len(ev.Message) + logEventOverhead
	}
	// AWS: the batch is at most 1,048,576 bytes: the UTF-8 messages plus
	// 26 bytes per event.
	if size > maxPutBytes {
		return nil, logsInvalid("Upload too large: %d bytes exceeds limit of %d", size, maxPutBytes)
	}
	for i := 1; i < len(in.LogEvents); i++ {
		if *in.LogEvents[i].Timestamp < *in.LogEvents[i-1].Timestamp {
			return nil, logsInvalid("Log events in a single PutLogEvents request must be in chronological order.")
		}
	}
	g, ref, err := e.group(ctx, in.LogGroupName)
	if err != nil {
		return nil, err
	}
	now := e.opts.Now()
	ts := func(i int) int64 { return *in.LogEvents[i].Timestamp }
	n := len(in.LogEvents)
	tooOld := now.Add(-maxEventAge).UnixMilli()
	expired := e.retentionStart(g, now)
	tooNew := now.Add(maxEventFuture).UnixMilli()
	lo := 0
	for lo < n && ts(lo) < tooOld {
		lo++
	}
	oldEnd := lo
	for lo < n && ts(lo) < expired {
		lo++
	}
	hi := n
	for hi > lo && ts(hi-1) > tooNew {
		hi--
	}
	if hi > lo && ts(hi-1)-ts(lo) > maxBatchSpan.Milliseconds() {
		return nil, logsInvalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	batch := make([]iotdm.NewLogEvent, 0, hi-lo)
	for _, ev := range in.LogEvents[lo:hi] {
		batch = append(batch, iotdm.NewLogEvent{Timestamp: *ev.Timestamp, Message: ev.Message})
	}
	st, err := e.events.Append(ctx, ref, in.LogStreamName, now.UnixMilli(), batch)
	if err != nil {
		return nil, err
	}
	out := &iotdm.PutLogEventsOutput{NextSequenceToken: sequenceToken(st.Events)}
	if oldEnd > 0 || lo > oldEnd || hi < n {
		r := &iotdm.RejectedLogEventsInfo{}
		if oldEnd > 0 {
			r.TooOldLogEventEndIndex = pointerTo(int32(oldEnd))
		}
		if lo > oldEnd {
			r.ExpiredLogEventEndIndex = pointerTo(int32(lo))
		}
		if hi < n {
			r.TooNewLogEventStartIndex = pointerTo(int32(hi))
		}
		out.RejectedLogEventsInfo = r
	}
	return out, nil
}

// GetLogEvents tokens are positions in a stream: "f/" (forward: the
// events after it) or "b/" (backward: the events before it), then the
// position's timestamp and event id in 20 digits each.
const (
	forwardToken  = "f/"
	backwardToken = "b/"
)

func positionToken(prefix string, c iotdm.LogEventCursor) string {
	return fmt.Sprintf("%s%020d%020d", prefix, c.Timestamp, c.ID)
}

func parsePositionToken(tok string) (forward bool, c iotdm.LogEventCursor, err error) {
	rest, fwd := strings.CutPrefix(tok, forwardToken)
	if !fwd {
		var ok bool
		if rest, ok = strings.CutPrefix(tok, backwardToken); !ok {
			return false, c, logsInvalid("The specified nextToken is invalid.")
		}
	}
	if len(rest) != 40 || strings.Trim(rest, "0123456789") != "" {
		return false, c, logsInvalid("The specified nextToken is invalid.")
	}
	ts, err1 := strconv.ParseInt(rest[:20], 10, 64)
	id, err2 := strconv.ParseInt(rest[20:], 10, 64)
	if err1 != nil || err2 != nil {
		return false, c, logsInvalid("The specified nextToken is invalid.")
	}
	return fwd, iotdm.LogEventCursor{Timestamp: ts, ID: id}, nil
}

// The positions before and after every event.
var (
	headPosition = iotdm.LogEventCursor{}
	tailPosition = iotdm.LogEventCursor{Timestamp: math.MaxInt64, ID: math.MaxInt64}
)

// GetLogEvents reads a stream's events with startTime <= timestamp <
// endTime: the oldest first from the head (startFromHead), else the
// newest page, and then onwards or backwards from a token. Pages hold at
// most limit events and about 1 MB; the tokens are never empty and come
// back unchanged at either end of the stream.
func (e *LogEvents) GetLogEvents(ctx context.Context, in *iotdm.GetLogEventsInput) (*iotdm.GetLogEventsOutput, error) {
	if err := validateLogStreamName("logStreamName", in.LogStreamName); err != nil {
		return nil, err
	}
	limit, err := eventsLimit(in.Limit)
	if err != nil {
		return nil, err
	}
	if err := cmp.Or(validateTime("startTime", in.StartTime), validateTime("endTime", in.EndTime)); err != nil {
		return nil, err
	}
	var (
		hasToken, forward bool
		pos               iotdm.LogEventCursor
	)
	if in.NextToken != "" {
		hasToken = true
		if forward, pos, err = parsePositionToken(in.NextToken); err != nil {
			return nil, err
		}
	}
	g, ref, err := e.groupOf(ctx, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if _, ok, err := e.events.Stream(ctx, ref, in.LogStreamName); err != nil {
		return nil, err
	} else if !ok {
		return nil, logStreamNotFound()
	}
	q := iotdm.LogEventQuery{Group: ref, Streams: []string{in.LogStreamName}, Limit: limit}
	q.Start = e.retentionStart(g, e.opts.Now())
	if in.StartTime != nil {
		q.Start = max(q.Start, *in.StartTime)
	}
	if in.EndTime != nil {
		q.End = *in.EndTime
		if q.End == 0 {
			q.End = -1 // nothing is before the epoch
		}
	}
	switch {
	case hasToken && forward:
		q.After = &pos
	case hasToken:
		q.Before, q.Descending = &pos, true
	default:
		q.Descending = !in.StartFromHead
	}
	events := []iotdm.OutputLogEvent{}
	var first, last iotdm.LogEventCursor
	bytes := 0
	if q.End >= 0 {
		err = e.events.Events(ctx, q, func(ev iotdm.StoredLogEvent) error {
			if bytes += len(ev.Message) + logEventOverhead; bytes > maxResponseBytes && len(events) > 0 {
				return iotdm.ErrStopScan
			}
			c := iotdm.LogEventCursor{Timestamp: ev.Timestamp, ID: ev.ID}
			if len(events) == 0 {
				first, last = c, c
			}
			first, last = minCursor(first, c), maxCursor(last, c)
			events = append(events, iotdm.OutputLogEvent{Timestamp: ev.Timestamp, Message: ev.Message, IngestionTime: ev.IngestionTime})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if q.Descending {
		slices.Reverse(events)
	}
	out := &iotdm.GetLogEventsOutput{Events: events}
	switch {
	case len(events) > 0:
		out.NextForwardToken = positionToken(forwardToken, last)
		out.NextBackwardToken = positionToken(backwardToken, first)
	case hasToken:
		// AWS: at the end of the stream the token passed in comes back.
		out.NextForwardToken = positionToken(forwardToken, pos)
		out.NextBackwardToken = positionToken(backwardToken, pos)
	default:
		out.NextForwardToken = positionToken(forwardToken, headPosition)
		out.NextBackwardToken = positionToken(backwardToken, tailPosition)
	}
	return out, nil
}

func minCursor(a, b iotdm.LogEventCursor) iotdm.LogEventCursor {
	if b.Less(a) {
		return b
	}
	return a
}

func maxCursor(a, b iotdm.LogEventCursor) iotdm.LogEventCursor {
	if a.Less(b) {
		return b
	}
	return a
}

// eventID renders an event's position as AWS's 56-digit event ids look.
func eventID(c iotdm.LogEventCursor) string {
	return fmt.Sprintf("%020d%036d", c.Timestamp, c.ID)
}

// FilterLogEvents searches a group's events (all streams, the named ones,
// or those with a name prefix) with startTime <= timestamp <= endTime for
// a filter pattern, in timestamp order, interleaving the streams. A page
// ends after limit events, about 1 MB, or ScanLimit events examined, with
// a nextToken to go on from; no nextToken means the search is complete.
func (e *LogEvents) FilterLogEvents(ctx context.Context, in *iotdm.FilterLogEventsInput) (*iotdm.FilterLogEventsOutput, error) {
	limit, err := eventsLimit(in.Limit)
	if err != nil {
		return nil, err
	}
	if err := cmp.Or(validateTime("startTime", in.StartTime), validateTime("endTime", in.EndTime)); err != nil {
		return nil, err
	}
	if in.LogStreamNames != nil {
		if len(in.LogStreamNames) < 1 || len(in.LogStreamNames) > maxLogStreamNames {
			return nil, logsConstraint(len(in.LogStreamNames), "logStreamNames", "Member must have length between 1 and 100")
		}
		for _, n := range in.LogStreamNames {
			if err := validateLogStreamName("logStreamNames.member", n); err != nil {
				return nil, err
			}
		}
	}
	if in.LogStreamNamePrefix != "" {
		if err := validateLogStreamName("logStreamNamePrefix", in.LogStreamNamePrefix); err != nil {
			return nil, err
		}
		// AWS: InvalidParameterException when both are given.
		if in.LogStreamNames != nil {
			return nil, logsInvalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
		}
	}
	pattern, err := ParseFilterPattern(in.FilterPattern)
	if err != nil {
		return nil, logsInvalid("%s", err.Error())
	}
	var after *iotdm.LogEventCursor
	if tok, err := decodeToken(filterLogEventsList, in.NextToken); err != nil {
		return nil, logsInvalid("The specified nextToken is invalid.")
	} else if tok != "" {
		ts, id, ok := strings.Cut(tok, "/")
		t, err1 := strconv.ParseInt(ts, 10, 64)
		n, err2 := strconv.ParseInt(id, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, logsInvalid("The specified nextToken is invalid.")
		}
		after = &iotdm.LogEventCursor{Timestamp: t, ID: n}
	}
	g, ref, err := e.groupOf(ctx, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	q := iotdm.LogEventQuery{Group: ref, Streams: in.LogStreamNames, StreamPrefix: in.LogStreamNamePrefix,
		After: after, Limit: e.opts.ScanLimit}
	q.Start = e.retentionStart(g, e.opts.Now())
	if in.StartTime != nil {
		q.Start = max(q.Start, *in.StartTime)
	}
	if in.EndTime != nil && *in.EndTime < math.MaxInt64 {
		q.End = *in.EndTime + 1 // endTime is inclusive here
	}
	out := &iotdm.FilterLogEventsOutput{Events: []iotdm.FilteredLogEvent{}, SearchedLogStreams: []iotdm.SearchedLogStream{}}
	var last iotdm.LogEventCursor
	examined, bytes, more := 0, 0, false
	err = e.events.Events(ctx, q, func(ev iotdm.StoredLogEvent) error {
		if len(out.Events) == limit || bytes > maxResponseBytes {
			more = true
			return iotdm.ErrStopScan
		}
		examined++
		last = iotdm.LogEventCursor{Timestamp: ev.Timestamp, ID: ev.ID}
		if pattern.Match(ev.Message) {
			bytes += len(ev.Message) + logEventOverhead
			out.Events = append(out.Events, iotdm.FilteredLogEvent{LogStreamName: ev.Stream, Timestamp: ev.Timestamp,
				Message: ev.Message, IngestionTime: ev.IngestionTime, EventID: eventID(last)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if more || examined == e.opts.ScanLimit {
		out.NextToken = encodeToken(filterLogEventsList, fmt.Sprintf("%d/%d", last.Timestamp, last.ID))
	}
	return out, nil
}

// --- log groups with their events ---

// Groups returns the log group service g extended by the event store:
// DeleteLogGroup also deletes the group's streams and events, and
// DescribeLogGroups shows each group's storedBytes as its events hold them
// now (Run copies the count into the group's entity).
func (e *LogEvents) Groups(g iotdm.LogGroups) iotdm.LogGroups {
	return &groupsWithEvents{LogGroups: g, ev: e}
}

type groupsWithEvents struct {
	iotdm.LogGroups
	ev *LogEvents
}

func (w *groupsWithEvents) DeleteLogGroup(ctx context.Context, in *iotdm.DeleteLogGroupInput) (*iotdm.Empty, error) {
	g, ok, err := get[iotdm.StoredLogGroup](ctx, w.ev.store, iotdm.KindLogGroup, in.LogGroupName)
	if err != nil {
		return nil, err
	}
	out, err := w.LogGroups.DeleteLogGroup(ctx, in)
	if err != nil || !ok {
		return out, err
	}
	// The group is gone either way; what DeleteGroup leaves, Run removes.
	if err := w.ev.events.DeleteGroup(ctx, iotdm.LogGroupRef{Name: g.LogGroupName, Created: g.CreationTime}); err != nil {
		w.ev.log.WarnContext(ctx, "delete the events of a deleted log group", "logGroupName", g.LogGroupName, "err", err)
	}
	return out, nil
}

func (w *groupsWithEvents) DescribeLogGroups(ctx context.Context, in *iotdm.DescribeLogGroupsInput) (*iotdm.DescribeLogGroupsOutput, error) {
	out, err := w.LogGroups.DescribeLogGroups(ctx, in)
	if err != nil || len(out.LogGroups) == 0 {
		return out, err
	}
	refs := make([]iotdm.LogGroupRef, len(out.LogGroups))
	for i, g := range out.LogGroups {
		refs[i] = iotdm.LogGroupRef{Name: g.LogGroupName, Created: g.CreationTime}
	}
	bytes, err := w.ev.events.GroupBytes(ctx, refs)
	if err != nil {
		return nil, err
	}
	for i := range out.LogGroups {
		if out.LogGroups[i].StoredBytes != nil {
			out.LogGroups[i].StoredBytes = pointerTo(bytes[i])
		}
	}
	return out, nil
}

// --- retention ---

// Run applies retention every ExpiryInterval until ctx ends, starting at
// once; it returns ctx's error. The caller owns the goroutine.
func (e *LogEvents) Run(ctx context.Context) error {
	t := time.NewTicker(e.opts.ExpiryInterval)
	defer t.Stop()
	for {
		if err := e.Expire(ctx); err != nil && ctx.Err() == nil {
			e.log.WarnContext(ctx, "log event retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Expire runs one retention pass: it deletes the events older than their
// group's retentionInDays, the streams and events of groups that no longer
// exist (or were created again since), and brings each group's storedBytes
// up to date.
func (e *LogEvents) Expire(ctx context.Context) error {
	usage, err := e.events.Groups(ctx)
	if err != nil {
		return err
	}
	groups := map[string]*iotdm.StoredLogGroup{}
	err = e.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return scanAfter(ctx, tx, iotdm.KindLogGroup, "", "", func(key string, g *iotdm.StoredLogGroup) error {
			groups[key] = g
			return nil
		})
	})
	if err != nil {
		return err
	}
	now := e.opts.Now()
	bytes := map[string]int64{}
	var errs []error
	for _, u := range usage {
		g := groups[u.Name]
		if g == nil || g.CreationTime != u.Created {
			if err := e.events.DeleteGroup(ctx, u.LogGroupRef); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		b := u.StoredBytes
		if before := e.retentionStart(g, now); before > 0 {
			deleted := 0
			for {
				n, err := e.events.Expire(ctx, u.LogGroupRef, before, expireChunk)
				if err != nil {
					errs = append(errs, err)
					break
				}
				deleted += n
				if n < expireChunk {
					break
				}
			}
			if deleted > 0 {
				e.log.DebugContext(ctx, "expired log events", "logGroupName", u.Name, "events", deleted)
				if bs, err := e.events.GroupBytes(ctx, []iotdm.LogGroupRef{u.LogGroupRef}); err != nil {
					errs = append(errs, err)
				} else {
					b = bs[0]
				}
			}
		}
		bytes[u.Name] = b
	}
	for name, g := range groups {
		if g.StoredBytes == bytes[name] {
			continue
		}
		err := e.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
			cur, ok, err := get[iotdm.StoredLogGroup](ctx, tx, iotdm.KindLogGroup, name)
			if err != nil || !ok || cur.CreationTime != g.CreationTime || cur.StoredBytes == bytes[name] {
				return err
			}
			cur.StoredBytes = bytes[name]
			return put(ctx, tx, iotdm.KindLogGroup, name, cur)
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// --- writing for the platform's own logs ---

// writeEvents appends events (in timestamp order) to a group and stream,
// creating the group (STANDARD, no retention) and the stream when they do
// not exist; known caches the streams known to exist. The events are cut
// into batches PutLogEvents would take.
func (e *LogEvents) writeEvents(ctx context.Context, known map[string]iotdm.LogGroupRef, group, stream string, events []iotdm.NewLogEvent) error {
	key := group + ":" + stream
	for attempt := 0; ; attempt++ {
		ref, ok := known[key]
		if !ok {
			var err error
			if ref, err = e.ensureStream(ctx, group, stream); err != nil {
				return err
			}
			known[key] = ref
		}
		err := e.appendBatches(ctx, ref, stream, events)
		if err == nil || attempt > 0 || !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
			return err
		}
		delete(known, key) // the group or stream was deleted meanwhile: make them again
	}
}

func (e *LogEvents) ensureStream(ctx context.Context, group, stream string) (iotdm.LogGroupRef, error) {
	var g *iotdm.StoredLogGroup
	err := e.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		cur, ok, err := get[iotdm.StoredLogGroup](ctx, tx, iotdm.KindLogGroup, group)
		if err != nil {
			return err
		}
		if ok {
			g = cur
			return nil
		}
		g = &iotdm.StoredLogGroup{LogGroupName: group, CreationTime: e.opts.Now().UnixMilli(), LogGroupClass: iotdm.LogGroupClassStandard}
		return put(ctx, tx, iotdm.KindLogGroup, group, g)
	})
	if err != nil {
		return iotdm.LogGroupRef{}, err
	}
	ref := iotdm.LogGroupRef{Name: g.LogGroupName, Created: g.CreationTime}
	err = e.events.CreateStream(ctx, ref, iotdm.StoredLogStream{Name: stream, CreationTime: e.opts.Now().UnixMilli()})
	if err != nil && !iotdm.IsCode(err, iotdm.ErrResourceAlreadyExists) {
		return iotdm.LogGroupRef{}, err
	}
	return ref, nil
}

func (e *LogEvents) appendBatches(ctx context.Context, ref iotdm.LogGroupRef, stream string, events []iotdm.NewLogEvent) error {
	for len(events) > 0 {
		n, size := 0, 0
		for n < len(events) && n < maxLogEventsPerPut {
			s := len(events[n].Message) + logEventOverhead
			if n > 0 && (size+s > maxPutBytes || events[n].Timestamp-events[0].Timestamp > maxBatchSpan.Milliseconds()) {
				break
			}
			size += s
			n++
		}
		if _, err := e.events.Append(ctx, ref, stream, e.opts.Now().UnixMilli(), events[:n]); err != nil {
			return err
		}
		events = events[n:]
	}
	return nil
}

// PutEvent appends one event to a group and stream, creating them when they
// do not exist: the log writer of alarm actions.
func (e *LogEvents) PutEvent(ctx context.Context, group, stream string, t time.Time, message string) error {
	return e.writeEvents(ctx, map[string]iotdm.LogGroupRef{}, group, stream,
		[]iotdm.NewLogEvent{{Timestamp: t.UnixMilli(), Message: message}})
}
