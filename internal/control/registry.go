// Package control holds iotdm's services: the rules, validation and limits of
// AWS IoT on top of the Store. The registry of things, thing types and static
// thing groups lives here.
package control

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/iotdm/iotdm"
)

// RegistryOptions configures a Registry.
type RegistryOptions struct {
	Region    string // e.g. us-east-1; used in ARNs
	AccountID string // 12 digits; used in ARNs
	// MQTTEndpoint is the device endpoint DescribeEndpoint answers for
	// iot:Data and iot:Data-ATS: a host, or host:port when the port is not
	// the standard 8883.
	MQTTEndpoint string
	// HTTPEndpoint is the host:port DescribeEndpoint answers for
	// iot:CredentialProvider and iot:Jobs.
	HTTPEndpoint string
	// ThingTypeDeleteDelay is how long a thing type must have been
	// deprecated before DeleteThingType accepts it; AWS waits 5 minutes.
	// Zero means the AWS default; a negative value means no wait.
	ThingTypeDeleteDelay time.Duration
	// SingleHierarchy enforces the documented rule that a thing may not be
	// in two static groups of the same hierarchy.
	SingleHierarchy bool
	// Dynamic answers dynamic thing group membership (derived state of the
	// fleet index); nil means no dynamic group has members.
	Dynamic DynamicMembership
	Logger  *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DynamicMembership answers which things are in dynamic thing groups
// (AWS §3). It is derived state, kept by the fleet index
// (fleetindex.Feeder), not stored.
type DynamicMembership interface {
	// DynamicGroupsOf returns the dynamic groups thing is in, sorted.
	DynamicGroupsOf(thing string) []string
	// DynamicMembers returns the things in dynamic group name, sorted.
	DynamicMembers(name string) []string
	// DynamicGroupStatus returns BUILDING, REBUILDING or ACTIVE for a
	// dynamic group whose current query is q.
	DynamicGroupStatus(name, q string) string
}

// noDynamicMembers is the DynamicMembership of a registry without a fleet
// index.
type noDynamicMembers struct{}

func (noDynamicMembers) DynamicGroupsOf(string) []string { return nil }
func (noDynamicMembers) DynamicMembers(string) []string  { return nil }
func (noDynamicMembers) DynamicGroupStatus(string, string) string {
	return iotdm.DynamicGroupBuilding
}

// Registry implements iotdm.Registry on an iotdm.Store.
type Registry struct {
	store iotdm.Store
	opts  RegistryOptions
	log   *slog.Logger
}

var _ iotdm.Registry = (*Registry)(nil)

// NewRegistry returns a Registry over store.
func NewRegistry(store iotdm.Store, opts RegistryOptions) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Dynamic == nil {
		opts.Dynamic = noDynamicMembers{}
	}
	if opts.ThingTypeDeleteDelay == 0 {
		opts.ThingTypeDeleteDelay = 5 * time.Minute
	}
	return &Registry{store: store, opts: opts, log: opts.Logger.With("component", "registry")}
}

func (r *Registry) now() iotdm.Timestamp {
	return iotdm.Timestamp{Time: r.opts.Now().UTC().Truncate(time.Millisecond)}
}

// arn builds an IoT ARN for a resource type and name.
func (r *Registry) arn(resource, name string) string {
	return "arn:aws:iot:" + r.opts.Region + ":" + r.opts.AccountID + ":" + resource + "/" + name
}

// getter reads one entity: an iotdm.Store (the last committed value) or a
// transaction.
type getter interface {
	Get(ctx context.Context, kind, key string) ([]byte, bool, error)
}

// get reads and decodes one entity; ok is false when it does not exist.
func get[T any](ctx context.Context, tx getter, kind, key string) (*T, bool, error) {
	b, ok, err := tx.Get(ctx, kind, key)
	if err != nil || !ok {
		return nil, false, err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, false, fmt.Errorf("decode %s %q: %w", kind, key, err)
	}
	return v, true, nil
}

// put encodes and stores one entity.
func put(ctx context.Context, tx iotdm.Tx, kind, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", kind, key, err)
	}
	return tx.Put(ctx, kind, key, b)
}

// write runs fn in a write transaction, for the operations whose response
// has no members.
func (r *Registry) write(ctx context.Context, fn func(ctx context.Context, tx iotdm.Tx) error) (*iotdm.Empty, error) {
	if err := r.store.Update(ctx, fn); err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// view runs fn in a read transaction.
func (r *Registry) view(ctx context.Context, fn func(ctx context.Context, tx iotdm.ReadTx) error) error {
	return r.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error { return fn(ctx, tx) })
}
