package shadow

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// sections is the {"desired":…,"reported":…} pair of a document; either
// member is omitted when empty, as GetThingShadow omits it (AWS §6.2).
type sections struct {
	Desired  map[string]any `json:"desired,omitempty"`
	Reported map[string]any `json:"reported,omitempty"`
	Delta    map[string]any `json:"delta,omitempty"`
}

// snapshot is one side of an /update/documents message (AWS §6.2).
type snapshot struct {
	State    sections `json:"state"`
	Metadata sections `json:"metadata"`
	Version  int64    `json:"version"`
}

// Get returns the document GetThingShadow and …/get/accepted return (AWS §6.2):
// state.desired, state.reported, state.delta when non-empty, metadata of
// desired and reported, version and timestamp; empty sections are omitted.
// The timestamp is the time of the last write (the package never reads the
// clock). Get returns nil when st does not exist; callers answer NotFoundError.
func Get(st *State) []byte { return GetWithToken(st, "") }

// GetWithToken is Get echoing the clientToken of a …/get request (AWS §6.1).
func GetWithToken(st *State, clientToken string) []byte {
	if !Exists(st) {
		return nil
	}
	doc := struct {
		State       sections `json:"state"`
		Metadata    sections `json:"metadata"`
		Version     int64    `json:"version"`
		Timestamp   int64    `json:"timestamp"`
		ClientToken string   `json:"clientToken,omitempty"`
	}{
		State:       sections{Desired: st.Desired, Reported: st.Reported, Delta: Delta(st)},
		Metadata:    sections{Desired: st.DesiredMetadata, Reported: st.ReportedMetadata},
		Version:     st.Version,
		Timestamp:   st.Timestamp.Unix(),
		ClientToken: clientToken,
	}
	return marshal(doc)
}

// snapshotOf is the full document of st without its delta: AWS §6.2, the
// /update/documents snapshots carry only desired and reported.
func snapshotOf(st *State) *snapshot {
	if !Exists(st) {
		return nil
	}
	return &snapshot{
		State:    sections{Desired: st.Desired, Reported: st.Reported},
		Metadata: sections{Desired: st.DesiredMetadata, Reported: st.ReportedMetadata},
		Version:  st.Version,
	}
}

// documentsMessage is the /update/documents message (AWS §6.2):
// {previous, current, timestamp, clientToken?}. previous is omitted when the
// update created the shadow.
func documentsMessage(prev, cur *State, now time.Time, clientToken string) []byte {
	return marshal(struct {
		Previous    *snapshot `json:"previous,omitempty"`
		Current     *snapshot `json:"current"`
		Timestamp   int64     `json:"timestamp"`
		ClientToken string    `json:"clientToken,omitempty"`
	}{snapshotOf(prev), snapshotOf(cur), now.Unix(), clientToken})
}

// metadataOf mirrors a tree down to its leaves, each leaf becoming
// {"timestamp": ts}; an array becomes the array of its elements' metadata
// (AWS §6.2).
func metadataOf(v any, ts json.Number) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = metadataOf(e, ts)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = metadataOf(e, ts)
		}
		return a
	}
	return map[string]any{"timestamp": ts}
}

func epoch(t time.Time) json.Number { return json.Number(strconv.FormatInt(t.Unix(), 10)) }

// marshal encodes v compactly without HTML escaping. Every value this package
// encodes is built from decoded JSON, so encoding cannot fail.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("shadow: encode document: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
