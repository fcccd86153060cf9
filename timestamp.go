package iotdm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Timestamp is a point in time that travels as AWS rest-json timestamps do:
// epoch seconds as a JSON number with a fractional part (1548716921.289).
type Timestamp struct{ time.Time }

// Now returns the current time as a Timestamp with millisecond precision.
func Now() Timestamp { return Timestamp{time.Now().UTC().Truncate(time.Millisecond)} }

// MarshalJSON encodes t as epoch seconds with millisecond precision.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// UnmarshalJSON accepts epoch seconds (a number) or an RFC 3339 string.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("parse timestamp: %w", err)
		}
		t.Time = v.UTC()
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("parse timestamp: %w", err)
	}
	t.Time = time.UnixMilli(int64(f*1000 + 0.5)).UTC()
	return nil
}
