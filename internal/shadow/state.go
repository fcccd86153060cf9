// Package shadow is the AWS IoT Device Shadow document algebra (AWS §6): the
// stored state of one shadow, the merge of an update request into it, the
// delta between desired and reported, and the documents the service returns
// and publishes. It is pure: no I/O, and the time is always passed in.
//
// Trees are the values encoding/json produces with UseNumber: map[string]any,
// []any, json.Number, string, bool and nil. Numbers keep their literal text,
// so 1.0 stays 1.0 and large integers stay exact. Output documents are
// deterministic: envelopes have a fixed member order and objects sorted keys.
package shadow

import (
	"bytes"
	"encoding/json"
	"time"
)

// Limits. AWS §6.3 and §9.3.
const (
	// MaxStateBytes caps the merged desired+reported state, metadata
	// excluded, measured as the compact JSON of {"desired":…,"reported":…}.
	MaxStateBytes = 8 * 1024
	// MaxDepth caps the nesting inside desired and reported: the section
	// object is level 1, and every nested object or array adds one.
	MaxDepth = 6
	// MaxClientTokenBytes caps clientToken.
	MaxClientTokenBytes = 64
	// MaxRequestBytes caps a request document before it is parsed: the MQTT
	// payload limit of §9.3. The 8 KB state limit applies after the merge.
	MaxRequestBytes = 128 * 1024
	// MaxShadowNameLen caps a named shadow's name (§6.1).
	MaxShadowNameLen = 64
	// VersionMemory is how long a deleted shadow's version is remembered:
	// AWS §6.3 item 8, recreating within 48 hours continues the numbering.
	VersionMemory = 48 * time.Hour
)

// State is one stored shadow: the desired and reported trees, their metadata
// trees (each leaf {"timestamp": epoch seconds}), the version, and the time of
// the last write. A deleted shadow is kept as a tombstone (Deleted, DeletedAt,
// Version) so that a recreation within VersionMemory continues its version
// (AWS §11: "tombstone with deletion time").
//
// A State is a value: the functions of this package never modify the State
// they are given. It encodes to JSON for storage; decode it with
// json.Unmarshal (numbers in the trees are restored as json.Number).
type State struct {
	Desired          map[string]any `json:"desired,omitempty"`
	Reported         map[string]any `json:"reported,omitempty"`
	DesiredMetadata  map[string]any `json:"desiredMetadata,omitempty"`
	ReportedMetadata map[string]any `json:"reportedMetadata,omitempty"`
	Version          int64          `json:"version"`
	Timestamp        time.Time      `json:"timestamp"`
	Deleted          bool           `json:"deleted,omitempty"`
	DeletedAt        time.Time      `json:"deletedAt,omitzero"`
}

// UnmarshalJSON decodes a stored State, keeping numbers as json.Number.
func (s *State) UnmarshalJSON(b []byte) error {
	type plain State
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*s = State(p)
	return nil
}

// Exists reports whether st is a live shadow: not nil and not deleted.
func Exists(st *State) bool { return st != nil && !st.Deleted }

// baseVersion is the version an update or a version check starts from: the
// live version, a tombstone's version within VersionMemory (AWS §6.3 item 8),
// or 0 for a shadow that never existed or was deleted too long ago.
func baseVersion(st *State, now time.Time) int64 {
	switch {
	case st == nil:
		return 0
	case st.Deleted && now.Sub(st.DeletedAt) >= VersionMemory:
		return 0
	}
	return st.Version
}

// Delete deletes the shadow st at now. It returns the tombstone to store and
// the DeleteThingShadow response, {"version":N,"timestamp":T}, where N is the
// version of the deleted document (AWS §6.1: …/delete/accepted). Deleting a
// missing or already deleted shadow is a NotFound error; callers that know the
// names should answer with NotFoundError instead (AWS §6.3 item 8).
func Delete(st *State, now time.Time) (*State, []byte, error) {
	if !Exists(st) {
		return nil, nil, &Error{Kind: NotFound, Message: msgNoShadow}
	}
	next := &State{Version: st.Version, Timestamp: now, Deleted: true, DeletedAt: now}
	resp := marshal(struct {
		Version   int64 `json:"version"`
		Timestamp int64 `json:"timestamp"`
	}{st.Version, now.Unix()})
	return next, resp, nil
}

// ValidateName checks a shadow name: "" is the classic shadow; a named
// shadow's name is 1–64 characters of [$a-zA-Z0-9:_-] (AWS §6.1, §1.5).
func ValidateName(name string) error {
	if name == "" {
		return nil
	}
	if len(name) > MaxShadowNameLen {
		return invalid(msgShadowName)
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '$', c == ':', c == '_', c == '-':
		default:
			return invalid(msgShadowName)
		}
	}
	return nil
}
