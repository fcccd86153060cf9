package stack

import (
	"context"
	"slices"
	"sort"
	"strings"
)

// Provider creates, updates and deletes the resources of one type.
// Providers call iotdm's services; they hold no state of their own.
type Provider interface {
	// Create makes the resource described by r.Properties.
	Create(ctx context.Context, r *Request) (*Result, error)
	// Update changes the resource r.PhysicalID from r.OldProperties to
	// r.Properties in place. It is only called when no create-only property
	// changed.
	Update(ctx context.Context, r *Request) (*Result, error)
	// Delete removes r.PhysicalID. A resource that is already gone is not an
	// error.
	Delete(ctx context.Context, r *Request) error
}

// Request is what a provider is asked to do.
type Request struct {
	StackID, StackName string
	LogicalID          string
	// PhysicalID is the resource's id for Update and Delete.
	PhysicalID string
	// Properties are the resolved properties (new ones for Update).
	Properties map[string]any
	// OldProperties and OldAttributes are what the stack recorded (Update
	// and Delete).
	OldProperties map[string]any
	OldAttributes map[string]any
	// GeneratedName is a name made from the stack name and logical id for
	// resources whose name property is absent.
	GeneratedName string
	// StackTags are the stack-level tags CloudFormation propagates to
	// taggable resources.
	StackTags []Tag
}

// Tag is a key-value tag.
type Tag struct{ Key, Value string }

// Result is what a provider reports back: the physical id (the value of
// Ref) and the attributes Fn::GetAtt reads.
type Result struct {
	PhysicalID string
	Attributes map[string]any
}

// Type describes one resource type the engine can deploy.
type Type struct {
	Name     string // e.g. AWS::IoT::Thing
	Provider Provider
	// Properties lists every property the type accepts; others are a
	// validation error. Required lists those that must be present.
	Properties []string
	Required   []string
	// CreateOnly lists properties whose change replaces the resource
	// (CloudFormation's "Update requires: Replacement").
	CreateOnly []string
	// NameProperty is the property that names the resource, if any: absent,
	// the engine generates a name; present and unchanged, a replacement
	// fails as CloudFormation's does for custom-named resources.
	NameProperty string
	// NameMax bounds generated names.
	NameMax int
	// Attributes lists what Fn::GetAtt may read.
	Attributes []string
	// Security marks types whose changes widen or narrow what devices may
	// do (policies and their attachments); diffs call them out.
	Security bool
	// SecurityProperties marks properties of other types with that effect.
	SecurityProperties []string
}

// Catalog is the set of types an engine deploys.
type Catalog struct {
	types map[string]*Type
}

// NewCatalog returns a catalog of types.
func NewCatalog(types ...*Type) *Catalog {
	c := &Catalog{types: make(map[string]*Type, len(types))}
	for _, t := range types {
		if t.Name == "" || t.Provider == nil {
			panic("stack: a Type needs a name and a provider")
		}
		if _, dup := c.types[t.Name]; dup {
			panic("stack: type " + t.Name + " registered twice")
		}
		c.types[t.Name] = t
	}
	return c
}

// Lookup returns the type named name.
func (c *Catalog) Lookup(name string) (*Type, bool) {
	t, ok := c.types[name]
	return t, ok
}

// Supported reports whether name is deployable.
func (c *Catalog) Supported(name string) bool {
	_, ok := c.types[name]
	return ok
}

// Names returns the supported type names, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, 0, len(c.types))
	for n := range c.types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// replaces reports whether changing top-level property key from old to new
// replaces the resource: the key is create-only, or a create-only path
// below it ("ThingTypeProperties/SearchableAttributes") changed.
func (t *Type) replaces(key string, old, new map[string]any) bool {
	for _, path := range t.CreateOnly {
		head, rest, nested := strings.Cut(path, "/")
		if head != key {
			continue
		}
		if !nested {
			return true
		}
		if !jsonEqual(valueAt(old[key], rest), valueAt(new[key], rest)) {
			return true
		}
	}
	return false
}

// valueAt returns the value at a slash-separated path of maps, or nil.
func valueAt(v any, path string) any {
	for _, seg := range strings.Split(path, "/") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[seg]
	}
	return v
}

func (t *Type) securityProperty(prop string) bool {
	return t.Security || slices.Contains(t.SecurityProperties, prop)
}
