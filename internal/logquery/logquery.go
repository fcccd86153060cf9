// Package logquery is the storage-independent part of the log event stores
// (internal/sqlite, internal/postgres): the SQL of their stream and event
// queries, which their schemas share (tables log_groups, log_streams and
// log_events, names compared bytewise), the bounds of name prefixes and
// what an append adds to a stream. It does no I/O.
package logquery

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/iotdm/iotdm"
)

// Placeholder returns the SQL text of the n-th parameter (from 1).
type Placeholder func(n int) string

// Question is SQLite's placeholder: ?.
func Question(int) string { return "?" }

// Dollar is PostgreSQL's placeholder: $n.
func Dollar(n int) string { return "$" + strconv.Itoa(n) }

// StreamColumns are the columns of log_streams s that ScanStream reads.
const StreamColumns = `s.name, s.created, s.first_event, s.last_event, s.last_ingestion, s.stored_bytes, s.events`

// ReturningStream is StreamColumns for a RETURNING clause, which takes no
// table names.
const ReturningStream = `name, created, first_event, last_event, last_ingestion, stored_bytes, events`

// ScanStream reads the StreamColumns of a row.
func ScanStream(row interface{ Scan(...any) error }) (iotdm.StoredLogStream, error) {
	var st iotdm.StoredLogStream
	err := row.Scan(&st.Name, &st.CreationTime, &st.FirstEventTimestamp, &st.LastEventTimestamp, &st.LastIngestionTime, &st.StoredBytes, &st.Events)
	return st, err
}

// EventColumns are the columns of an Events query, in the order of
// StoredLogEvent: id, stream name, timestamp, ingestion time, message.
const EventColumns = `e.id, s.name, e.ts, e.ingested, e.message`

// builder writes a query and its parameters.
type builder struct {
	strings.Builder
	ph   Placeholder
	args []any
}

// arg adds a parameter and returns its placeholder.
func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return b.ph(len(b.args))
}

// prefix restricts col to the names that start with p.
func (b *builder) prefix(col, p string) {
	b.WriteString(` AND ` + col + ` >= ` + b.arg(p))
	if end, ok := PrefixEnd(p); ok {
		b.WriteString(` AND ` + col + ` < ` + b.arg(end))
	}
}

// Streams is the query of the streams q selects, in its order: it returns
// StreamColumns.
func Streams(q iotdm.LogStreamQuery, ph Placeholder) (string, []any) {
	b := &builder{ph: ph}
	b.WriteString(`SELECT ` + StreamColumns + ` FROM log_streams s
		WHERE s.grp = (SELECT id FROM log_groups WHERE name = ` + b.arg(q.Group.Name) + ` AND created = ` + b.arg(q.Group.Created) + `)`)
	if q.Prefix != "" {
		b.prefix("s.name", q.Prefix)
	}
	cmpOp, dir := ">", ""
	if q.Descending {
		cmpOp, dir = "<", " DESC"
	}
	switch {
	case q.After && q.ByLastEvent:
		b.WriteString(` AND (s.last_event, s.name) ` + cmpOp + ` (` + b.arg(q.AfterLastEvent) + `, ` + b.arg(q.AfterName) + `)`)
	case q.After:
		b.WriteString(` AND s.name ` + cmpOp + ` ` + b.arg(q.AfterName))
	}
	if q.ByLastEvent {
		b.WriteString(` ORDER BY s.last_event` + dir + `, s.name` + dir)
	} else {
		b.WriteString(` ORDER BY s.name` + dir)
	}
	return b.String(), b.args
}

// Events is the query of the events q selects, in its order: it returns
// EventColumns. One stream is read through the stream's index (stream, ts,
// id), several through the group's (grp, ts, id); both yield the events in
// (ts, id) order without sorting.
func Events(q iotdm.LogEventQuery, ph Placeholder) (string, []any) {
	b := &builder{ph: ph}
	b.WriteString(`SELECT ` + EventColumns + ` FROM log_events e JOIN log_streams s ON s.id = e.stream WHERE `)
	if len(q.Streams) == 1 {
		b.WriteString(`e.stream = (SELECT st.id FROM log_streams st JOIN log_groups g ON g.id = st.grp
			WHERE g.name = ` + b.arg(q.Group.Name) + ` AND g.created = ` + b.arg(q.Group.Created) + ` AND st.name = ` + b.arg(q.Streams[0]) + `)`)
	} else {
		b.WriteString(`e.grp = (SELECT id FROM log_groups WHERE name = ` + b.arg(q.Group.Name) + ` AND created = ` + b.arg(q.Group.Created) + `)`)
		if len(q.Streams) > 1 {
			b.WriteString(` AND s.name IN (`)
			for i, n := range q.Streams {
				if i > 0 {
					b.WriteString(`, `)
				}
				b.WriteString(b.arg(n))
			}
			b.WriteString(`)`)
		}
	}
	if q.StreamPrefix != "" {
		b.prefix("s.name", q.StreamPrefix)
	}
	if q.Start > 0 {
		b.WriteString(` AND e.ts >= ` + b.arg(q.Start))
	}
	if q.End > 0 {
		b.WriteString(` AND e.ts < ` + b.arg(q.End))
	}
	if q.After != nil {
		b.WriteString(` AND (e.ts, e.id) > (` + b.arg(q.After.Timestamp) + `, ` + b.arg(q.After.ID) + `)`)
	}
	if q.Before != nil {
		b.WriteString(` AND (e.ts, e.id) < (` + b.arg(q.Before.Timestamp) + `, ` + b.arg(q.Before.ID) + `)`)
	}
	if q.Descending {
		b.WriteString(` ORDER BY e.ts DESC, e.id DESC`)
	} else {
		b.WriteString(` ORDER BY e.ts, e.id`)
	}
	if q.Limit > 0 {
		b.WriteString(` LIMIT ` + b.arg(q.Limit))
	}
	return b.String(), b.args
}

// PrefixEnd returns the least valid UTF-8 string above every string that
// starts with prefix, comparing bytewise (which, for UTF-8, is comparing
// code points): prefix with its last code point incremented, after dropping
// trailing U+10FFFF. ok is false when there is no such bound (prefix is
// empty or all U+10FFFF). prefix must be valid UTF-8.
func PrefixEnd(prefix string) (end string, ok bool) {
	s := prefix
	for s != "" {
		r, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
		switch {
		case r == utf8.MaxRune:
			continue
		case r == 0xD7FF: // the next code point is past the surrogates
			r = 0xE000
		default:
			r++
		}
		return s + string(r), true
	}
	return "", false
}

// Appended is what an append of events adds to its stream.
type Appended struct {
	First, Last int64 // the least and greatest timestamps
	Bytes       int64 // UTF-8 bytes of the messages
}

// Summarize sums up events, which are not empty.
func Summarize(events []iotdm.NewLogEvent) Appended {
	a := Appended{First: events[0].Timestamp, Last: events[0].Timestamp}
	for _, e := range events {
		a.Bytes += int64(len(e.Message))
		a.First, a.Last = min(a.First, e.Timestamp), max(a.Last, e.Timestamp)
	}
	return a
}
