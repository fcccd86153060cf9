package iotdm

import "context"

// Device shadows (AWS §6) are stored as entities of two kinds, both keyed
// "{thingName}/{shadowName}". The classic (unnamed) shadow has the empty
// shadow name, so its key is "{thingName}/" (thing names cannot contain '/',
// and named shadows' names are never empty, so keys are unambiguous and the
// classic shadow sorts first among a thing's shadows).
//
//   - KindShadow holds a live shadow: the JSON of internal/shadow.State
//     (desired, reported, their metadata trees, version, timestamp). An update
//     is an OpPut of the new state; a delete is an OpDelete, so consumers of
//     the change feed see shadows come and go like any other entity.
//   - KindShadowTombstone remembers the version of a deleted shadow, so that
//     a shadow recreated within 48 hours continues its version numbering
//     (AWS §6.3 item 8). It is written by DeleteThingShadow and removed when
//     the shadow is recreated; feed consumers can ignore it.
//
// Shadows do not depend on the registry: a shadow may exist for a name that
// is no registered thing, and deleting a thing leaves its shadows alone (AWS
// §6.1).
const (
	KindShadow          = "shadow"
	KindShadowTombstone = "shadowtombstone"
)

// ShadowKey returns the entity key of a shadow; shadowName is "" for the
// classic shadow.
func ShadowKey(thingName, shadowName string) string { return thingName + "/" + shadowName }

// The iot-data shadow operations carry the shadow document as an unparsed
// HTTP payload (the model's JsonDocument blob): Payload fields, tagged
// payload:"true", are the raw request or response body.

type GetThingShadowInput struct {
	ThingName  string `json:"-" uri:"thingName"`
	ShadowName string `json:"-" query:"name"` // "" for the classic shadow
}

type GetThingShadowOutput struct {
	Payload []byte `json:"-" payload:"true"`
}

type UpdateThingShadowInput struct {
	ThingName  string `json:"-" uri:"thingName"`
	ShadowName string `json:"-" query:"name"`
	Payload    []byte `json:"-" payload:"true"` // the request state document
}

type UpdateThingShadowOutput struct {
	Payload []byte `json:"-" payload:"true"` // the accepted document
}

type DeleteThingShadowInput struct {
	ThingName  string `json:"-" uri:"thingName"`
	ShadowName string `json:"-" query:"name"`
}

type DeleteThingShadowOutput struct {
	Payload []byte `json:"-" payload:"true"` // {"version":N,"timestamp":T}
}

type ListNamedShadowsForThingInput struct {
	ThingName string `json:"-" uri:"thingName"`
	NextToken string `json:"-" query:"nextToken"`
	PageSize  int    `json:"-" query:"pageSize"`
}

type ListNamedShadowsForThingOutput struct {
	Results   []string `json:"results"`
	NextToken string   `json:"nextToken,omitempty"`
	Timestamp int64    `json:"timestamp"` // epoch seconds of the response
}

// Shadows is the Device Shadow service of the iot-data plane: classic and
// named shadows of any thing name, with AWS IoT's documents, versions,
// limits and errors.
type Shadows interface {
	GetThingShadow(ctx context.Context, in *GetThingShadowInput) (*GetThingShadowOutput, error)
	UpdateThingShadow(ctx context.Context, in *UpdateThingShadowInput) (*UpdateThingShadowOutput, error)
	DeleteThingShadow(ctx context.Context, in *DeleteThingShadowInput) (*DeleteThingShadowOutput, error)
	ListNamedShadowsForThing(ctx context.Context, in *ListNamedShadowsForThingInput) (*ListNamedShadowsForThingOutput, error)
}
