package load

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync/atomic"
)

// Call is one API call, whichever client kind sends it.
type Call struct {
	Op    string // an operation name below
	Thing string // the thing (CreateThing, DescribeThing, AddThingToThingGroup)
	Group string // the thing group (AddThingToThingGroup, CreateThingGroup)
}

// Request is one API call as the raw client sends it, before signing.
type Request struct {
	Method string
	Path   string // already escaped, e.g. /things/t-1
	Query  string // raw query without '?', e.g. maxResults=50
	Body   []byte // nil for none
}

// Op is one benchmarked API operation: it yields the next call to make.
// Next is called concurrently by every client loop; rng belongs to the
// caller.
type Op struct {
	Name string
	Next func(rng *rand.Rand) Call
}

// Operation names, as AWS calls them.
const (
	OpCreateThing          = "CreateThing"
	OpDescribeThing        = "DescribeThing"
	OpListThings           = "ListThings"
	OpAddThingToThingGroup = "AddThingToThingGroup"
	OpCreateThingGroup     = "CreateThingGroup" // setup only, not benchmarked
)

// AllOps returns the benchmarked operations in the order they are run.
func AllOps() []string {
	return []string{OpCreateThing, OpDescribeThing, OpListThings, OpAddThingToThingGroup}
}

// createThingJSON is the CreateThing payload of every benchmark request
// (createThingAttributes for the SDK).
const createThingJSON = `{"attributePayload":{"attributes":{"firmware":"1.0.0","location":"Building-A"}}}`

// createThingBody is createThingJSON, shared read-only by every request.
var createThingBody = []byte(createThingJSON)

// listThingsPage is ListThings' maxResults.
const listThingsPage = 50

// Request renders c as the REST request of the AWS IoT control plane.
func (c Call) Request() (Request, error) {
	switch c.Op {
	case OpCreateThing:
		return Request{Method: "POST", Path: "/things/" + url.PathEscape(c.Thing), Body: createThingBody}, nil
	case OpDescribeThing:
		return Request{Method: "GET", Path: "/things/" + url.PathEscape(c.Thing)}, nil
	case OpListThings:
		return Request{Method: "GET", Path: "/things", Query: "maxResults=" + strconv.Itoa(listThingsPage)}, nil
	case OpAddThingToThingGroup:
		body, _ := json.Marshal(struct {
			ThingGroupName string `json:"thingGroupName"`
			ThingName      string `json:"thingName"`
		}{c.Group, c.Thing}) // cannot fail for two strings
		return Request{Method: "PUT", Path: "/thing-groups/addThingToThingGroup", Body: body}, nil
	case OpCreateThingGroup:
		return Request{Method: "POST", Path: "/thing-groups/" + url.PathEscape(c.Group), Body: []byte(`{}`)}, nil
	}
	return Request{}, fmt.Errorf("unknown operation %q", c.Op)
}

// ThingName is the name of the i-th thing created under prefix.
func ThingName(prefix string, i int64) string { return fmt.Sprintf("%s-%d", prefix, i) }

// CreateThing creates things named prefix-0, prefix-1, ... (unique across
// clients).
func CreateThing(prefix string) Op {
	var seq atomic.Int64
	return Op{Name: OpCreateThing, Next: func(*rand.Rand) Call {
		return Call{Op: OpCreateThing, Thing: ThingName(prefix, seq.Add(1)-1)}
	}}
}

// CreateThingGroup creates one thing group (used by the setup phase).
func CreateThingGroup(name string) Call { return Call{Op: OpCreateThingGroup, Group: name} }

// DescribeThing describes things picked at random from names.
func DescribeThing(names []string) Op {
	return Op{Name: OpDescribeThing, Next: func(rng *rand.Rand) Call {
		return Call{Op: OpDescribeThing, Thing: names[rng.IntN(len(names))]}
	}}
}

// ListThings lists the first page of 50 things.
func ListThings() Op {
	return Op{Name: OpListThings, Next: func(*rand.Rand) Call { return Call{Op: OpListThings} }}
}

// AddThingToThingGroup adds things to groups, walking every (thing, group)
// pair once before repeating one: the k-th request adds things[k mod T] to
// groups[(k div T) mod G], so the first T*G requests are all new memberships.
func AddThingToThingGroup(things, groups []string) Op {
	var seq atomic.Int64
	n := int64(len(things))
	g := int64(len(groups))
	return Op{Name: OpAddThingToThingGroup, Next: func(*rand.Rand) Call {
		k := seq.Add(1) - 1
		return Call{Op: OpAddThingToThingGroup, Thing: things[k%n], Group: groups[(k/n)%g]}
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
