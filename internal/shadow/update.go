package shadow

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Result is the outcome of an accepted update.
type Result struct {
	// State is the next stored state.
	State *State
	// Accepted is the UpdateThingShadow response and …/update/accepted
	// message: the request's state with its metadata, version, timestamp and
	// clientToken (AWS §6.2).
	Accepted []byte
	// Delta is the …/update/delta message, nil when the delta is empty
	// (AWS §6.3 item 7).
	Delta []byte
	// Documents is the …/update/documents message (AWS §6.2).
	Documents []byte
	// ClientToken is the request's clientToken, "" when absent.
	ClientToken string
}

// request is a parsed and validated update request (AWS §6.2).
type request struct {
	state       map[string]any // nil for {"state": null}
	version     *int64
	clientToken string
}

// Update applies the update request to current at now. current may be nil (no
// shadow) or a tombstone; it is not modified. Errors are *Error:
// InvalidRequest, UnsupportedDocumentEncoding, RequestEntityTooLarge, or
// Conflict when the request's version is not the current version.
//
// AWS §6.3: deep merge (objects merge recursively, null deletes, a null
// section removes the section, arrays and scalars replace), metadata
// timestamps for every leaf the request writes, version+1 on every accepted
// update, first update creates version 1, and recreation within VersionMemory
// of a delete continues the old numbering.
func Update(current *State, request []byte, now time.Time) (*Result, error) {
	req, err := parseRequest(request)
	if err != nil {
		return nil, err
	}
	base := baseVersion(current, now)
	// AWS §6.3 item 2: optimistic locking when version is present.
	if req.version != nil && *req.version != base {
		return nil, &Error{Kind: Conflict, Message: msgVersionConflict}
	}
	ts := epoch(now)
	next := &State{Version: base + 1, Timestamp: now}
	if Exists(current) {
		next.Desired = cloneMap(current.Desired)
		next.Reported = cloneMap(current.Reported)
		next.DesiredMetadata = cloneMap(current.DesiredMetadata)
		next.ReportedMetadata = cloneMap(current.ReportedMetadata)
	}
	if req.state == nil {
		// AWS §6.3 item 5: {"state": null} clears the state, keeps the shadow.
		next.Desired, next.Reported, next.DesiredMetadata, next.ReportedMetadata = nil, nil, nil, nil
	}
	if v, ok := req.state["desired"]; ok {
		next.Desired, next.DesiredMetadata = mergeSection(next.Desired, next.DesiredMetadata, v, ts)
	}
	if v, ok := req.state["reported"]; ok {
		next.Reported, next.ReportedMetadata = mergeSection(next.Reported, next.ReportedMetadata, v, ts)
	}
	// AWS §6.3, §9.3: 8 KB on the merged desired+reported, metadata excluded.
	if len(marshal(sections{Desired: next.Desired, Reported: next.Reported})) > MaxStateBytes {
		return nil, &Error{Kind: RequestEntityTooLarge, Message: msgTooLarge}
	}

	res := &Result{State: next, ClientToken: req.clientToken}
	res.Accepted = acceptedMessage(req, next, now)
	if delta, meta := deltaWithMetadata(next); len(delta) > 0 {
		res.Delta = marshal(struct {
			State       map[string]any `json:"state"`
			Metadata    map[string]any `json:"metadata"`
			Version     int64          `json:"version"`
			Timestamp   int64          `json:"timestamp"`
			ClientToken string         `json:"clientToken,omitempty"`
		}{delta, meta, next.Version, now.Unix(), req.clientToken})
	}
	var prev *State
	if Exists(current) {
		prev = current
	}
	res.Documents = documentsMessage(prev, next, now, req.clientToken)
	return res, nil
}

// acceptedMessage echoes only the sections and fields supplied in the
// request, with their metadata, plus version, timestamp and clientToken
// (AWS §6.2). A field set to null is echoed as null with a timestamp.
func acceptedMessage(req *request, next *State, now time.Time) []byte {
	doc := struct {
		State       map[string]any `json:"state"`
		Metadata    map[string]any `json:"metadata,omitempty"`
		Version     int64          `json:"version"`
		Timestamp   int64          `json:"timestamp"`
		ClientToken string         `json:"clientToken,omitempty"`
	}{State: req.state, Version: next.Version, Timestamp: now.Unix(), ClientToken: req.clientToken}
	if req.state != nil {
		doc.Metadata = metadataOf(req.state, epoch(now)).(map[string]any)
	}
	return marshal(doc)
}

// mergeSection merges one request section (desired or reported) into the
// stored section and its metadata. AWS §6.3 item 3: a null section removes
// the whole section.
func mergeSection(dst, meta map[string]any, src any, ts json.Number) (map[string]any, map[string]any) {
	obj, ok := src.(map[string]any)
	if !ok {
		return nil, nil
	}
	if dst == nil {
		dst = map[string]any{}
	}
	if meta == nil {
		meta = map[string]any{}
	}
	merge(dst, meta, obj, ts)
	if len(dst) == 0 {
		return nil, nil
	}
	return dst, meta
}

// merge merges src into dst, keeping meta in step. AWS §6.3 item 3: object
// fields merge recursively; null deletes a field; arrays and scalars replace
// the stored value whole. Objects left empty are removed, and an object that
// writes no leaf creates nothing, so stored trees hold no empty objects.
func merge(dst, meta, src map[string]any, ts json.Number) {
	for k, v := range src {
		switch v := v.(type) {
		case nil:
			delete(dst, k)
			delete(meta, k)
		case map[string]any:
			if d, ok := dst[k].(map[string]any); ok {
				m, ok := meta[k].(map[string]any)
				if !ok {
					m = metadataOf(d, ts).(map[string]any)
				}
				merge(d, m, v, ts)
				if len(d) == 0 {
					delete(dst, k)
					delete(meta, k)
				} else {
					meta[k] = m
				}
				continue
			}
			d, m := map[string]any{}, map[string]any{}
			merge(d, m, v, ts)
			if len(d) > 0 {
				dst[k], meta[k] = d, m
			}
		default:
			dst[k] = clone(v)
			meta[k] = metadataOf(v, ts)
		}
	}
}

// parseRequest parses and validates an update request document (AWS §6.3
// item 1 and the validation limits).
func parseRequest(b []byte) (*request, *Error) {
	if len(b) > MaxRequestBytes {
		return nil, &Error{Kind: RequestEntityTooLarge, Message: msgTooLarge}
	}
	if !utf8.Valid(b) {
		return nil, &Error{Kind: UnsupportedDocumentEncoding, Message: msgEncoding}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, invalid(msgInvalidJSON)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid(msgInvalidJSON)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, invalid(msgInvalidJSON)
	}
	req := &request{}
	if v, ok := top["clientToken"]; ok {
		s, ok := v.(string)
		if !ok || len(s) > MaxClientTokenBytes {
			return nil, invalid(msgClientToken)
		}
		req.clientToken = s
	}
	if v, ok := top["version"]; ok && v != nil {
		n, ok := v.(json.Number)
		if !ok {
			return nil, invalid(msgVersion)
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return nil, invalid(msgVersion)
		}
		req.version = &i
	}
	// AWS §6.3 item 1: content outside state.desired/reported is ignored.
	sv, ok := top["state"]
	if !ok {
		return nil, invalid(msgMissingState)
	}
	if sv == nil {
		return req, nil
	}
	state, ok := sv.(map[string]any)
	if !ok {
		return nil, invalid(msgStateObject)
	}
	for k := range state {
		if k != "desired" && k != "reported" {
			return nil, invalid(msgStateInvalid)
		}
	}
	if len(state) == 0 {
		return nil, invalid(msgStateEmpty)
	}
	for _, sec := range [...]struct{ name, msg string }{{"desired", msgDesiredObject}, {"reported", msgReportedObject}} {
		v, ok := state[sec.name]
		if !ok || v == nil {
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, invalid(sec.msg)
		}
		if err := checkTree(obj, 1); err != nil {
			return nil, err
		}
	}
	req.state = state
	return req, nil
}

// checkTree enforces, for a tree at nesting level depth, the depth limit
// (AWS §6.3: "JSON contains too many levels of nesting; maximum is 6") and
// that arrays hold no null (AWS §6.3 item 3).
func checkTree(v any, depth int) *Error {
	switch v := v.(type) {
	case map[string]any:
		if depth > MaxDepth {
			return invalid(msgTooDeep)
		}
		for _, e := range v {
			if err := checkTree(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		if depth > MaxDepth {
			return invalid(msgTooDeep)
		}
		for _, e := range v {
			if e == nil {
				return invalid(msgArrayNull)
			}
			if err := checkTree(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
