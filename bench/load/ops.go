package load

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
)

// Op is one benchmarked API operation: it yields the next request to send.
// Next is called concurrently by every client; rng belongs to the caller.
type Op struct {
	Name string
	Next func(rng *rand.Rand) Request
}

// Operation names, as AWS calls them.
const (
	OpCreateThing          = "CreateThing"
	OpDescribeThing        = "DescribeThing"
	OpListThings           = "ListThings"
	OpAddThingToThingGroup = "AddThingToThingGroup"
)

// AllOps returns the benchmarked operations in the order they are run.
func AllOps() []string {
	return []string{OpCreateThing, OpDescribeThing, OpListThings, OpAddThingToThingGroup}
}

// createThingJSON is the CreateThing payload of every benchmark request.
const createThingJSON = `{"attributePayload":{"attributes":{"firmware":"1.0.0","location":"Building-A"}}}`

// ThingName is the name of the i-th thing created under prefix.
func ThingName(prefix string, i int64) string { return fmt.Sprintf("%s-%d", prefix, i) }

// CreateThing creates things named prefix-0, prefix-1, ... (unique across
// clients).
func CreateThing(prefix string) Op {
	var seq atomic.Int64
	body := []byte(createThingJSON) // shared read-only by every request
	return Op{Name: OpCreateThing, Next: func(*rand.Rand) Request {
		name := ThingName(prefix, seq.Add(1)-1)
		return Request{Method: "POST", Path: "/things/" + url.PathEscape(name), Body: body}
	}}
}

// CreateThingGroup creates one thing group (used by the setup phase).
func CreateThingGroup(name string) Request {
	return Request{Method: "POST", Path: "/thing-groups/" + url.PathEscape(name), Body: []byte(`{}`)}
}

// DescribeThing describes things picked at random from names.
func DescribeThing(names []string) Op {
	return Op{Name: OpDescribeThing, Next: func(rng *rand.Rand) Request {
		return Request{Method: "GET", Path: "/things/" + url.PathEscape(names[rng.IntN(len(names))])}
	}}
}

// ListThings lists the first page of 50 things.
func ListThings() Op {
	return Op{Name: OpListThings, Next: func(*rand.Rand) Request {
		return Request{Method: "GET", Path: "/things", Query: "maxResults=50"}
	}}
}

// AddThingToThingGroup adds things to groups, walking every (thing, group)
// pair once before repeating one: the k-th request adds things[k mod T] to
// groups[(k div T) mod G], so the first T*G requests are all new memberships.
func AddThingToThingGroup(things, groups []string) Op {
	var seq atomic.Int64
	n := int64(len(things))
	g := int64(len(groups))
	return Op{Name: OpAddThingToThingGroup, Next: func(*rand.Rand) Request {
		k := seq.Add(1) - 1
		body, _ := json.Marshal(struct {
			ThingGroupName string `json:"thingGroupName"`
			ThingName      string `json:"thingName"`
		}{groups[(k/n)%g], things[k%n]}) // cannot fail for two strings
		return Request{Method: "PUT", Path: "/thing-groups/addThingToThingGroup", Body: body}
	}}
}

// NewOp returns the named operation over the setup phase's fixture;
// createPrefix names the things CreateThing makes, and must differ between
// runs against the same server.
func NewOp(name string, fx *Fixture, createPrefix string) (Op, error) {
	switch name {
	case OpCreateThing:
		return CreateThing(createPrefix), nil
	case OpDescribeThing:
		if len(fx.Things) == 0 {
			return Op{}, fmt.Errorf("%s needs things registered by the setup phase", name)
		}
		return DescribeThing(fx.Things), nil
	case OpListThings:
		return ListThings(), nil
	case OpAddThingToThingGroup:
		if len(fx.Things) == 0 || len(fx.Groups) == 0 {
			return Op{}, fmt.Errorf("%s needs things and groups registered by the setup phase", name)
		}
		return AddThingToThingGroup(fx.Things, fx.Groups), nil
	}
	return Op{}, fmt.Errorf("unknown operation %q (want one of %v)", name, AllOps())
}
