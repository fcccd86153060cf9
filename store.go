package iotdm

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Op says what a Change did to its entity.
type Op string

const (
	OpPut    Op = "put"    // the entity was created or replaced; Change.Value holds its new state
	OpDelete Op = "delete" // the entity was removed; Change.Value holds its last value
)

// Entity kinds stored by the registry. Later services add their own kinds;
// a kind is a short lowercase word, a key is the entity's name (or a
// composite "a/b" key for relations).
const (
	KindThing           = "thing"
	KindThingType       = "thingtype"
	KindThingGroup      = "thinggroup"
	KindGroupMember     = "groupmember"     // key "{group}/{thing}": the group's side of a membership
	KindThingMembership = "thingmembership" // key "{thing}/{group}": the thing's side of a membership
	KindAccount         = "account"         // per-account singletons (endpoint prefix, settings)
	// KindIndexingConfig (indexing.go) holds the fleet indexing configuration.
)

// Change is one committed mutation, in the order the store committed it.
// Every mutation writes its entity and its Change in the same transaction,
// so the change feed is exactly the history of the store.
//
// A delete's Value is the entity's last value as the deleting transaction
// saw it (its committed value, or the transaction's own earlier write), so
// consumers can react to a deletion without keeping copies of entities.
// Consumers must still tell deletes by Op, never by an empty Value.
type Change struct {
	Seq   uint64          `json:"seq"`   // monotonic, gap-free, starting at 1
	Time  time.Time       `json:"time"`  // commit time
	Op    Op              `json:"op"`    // put or delete
	Kind  string          `json:"kind"`  // entity kind, e.g. KindThing
	Key   string          `json:"key"`   // entity key within its kind
	Value json.RawMessage `json:"value"` // new state (JSON) on put; the deleted state on delete
}

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("store closed")

// ReadTx reads a consistent view of the store.
type ReadTx interface {
	// Get returns the value stored under kind and key; ok is false when there
	// is none.
	Get(ctx context.Context, kind, key string) (value []byte, ok bool, err error)
	// Scan calls fn for each entity of kind whose key starts with prefix and
	// sorts strictly after `after`, in ascending key order, stopping after
	// limit entities (limit <= 0 means no limit) or when fn returns an error
	// (which Scan returns; ErrStopScan stops quietly).
	Scan(ctx context.Context, kind, prefix, after string, limit int, fn func(key string, value []byte) error) error
}

// ErrStopScan may be returned by a Scan callback to stop early without error.
var ErrStopScan = errors.New("stop scan")

// Tx is a read-write transaction. Every Put and Delete records a Change that
// commits or rolls back with it.
type Tx interface {
	ReadTx
	// Put stores value under kind and key, replacing any previous value.
	Put(ctx context.Context, kind, key string, value []byte) error
	// Delete removes kind/key; deleting a missing entity is a no-op that
	// records no Change.
	Delete(ctx context.Context, kind, key string) error
}

// Store is the durable state of one iotdm account: entities by kind and key,
// and the ordered change feed derived state is built from.
//
// Implementations: internal/sqlite (embedded default) and, later,
// internal/postgres. internal/storetest holds the conformance suite both pass.
type Store interface {
	// Update runs fn in a read-write transaction and commits it durably
	// before returning. If fn returns an error nothing it did is kept and the
	// error is returned as is. Implementations may commit several concurrent
	// Updates together; each still succeeds or fails on its own.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Get returns the last committed value of one entity (ok false when there
	// is none), as a copy the caller may keep. It sees every Update that
	// returned before it was called.
	Get(ctx context.Context, kind, key string) (value []byte, ok bool, err error)
	// View runs fn in a read-only transaction over a consistent snapshot; seq
	// is the sequence number of the last Change visible in that snapshot.
	View(ctx context.Context, fn func(ctx context.Context, tx ReadTx, seq uint64) error) error
	// Changes returns up to limit committed changes with Seq > after, in order.
	Changes(ctx context.Context, after uint64, limit int) ([]Change, error)
	// LastSeq returns the sequence number of the last committed change (0 if none).
	LastSeq(ctx context.Context) (uint64, error)
	// Wait blocks until a change with Seq > after has committed, or ctx ends.
	Wait(ctx context.Context, after uint64) error
	// Close releases the store; it is idempotent.
	Close() error
}

// Follow delivers every change with Seq > after to fn, in order and without
// gaps, first the history and then live changes as they commit, until ctx
// ends or fn returns an error. It returns ctx's error or fn's.
func Follow(ctx context.Context, s Store, after uint64, fn func(Change) error) error {
	const batch = 1024
	for {
		changes, err := s.Changes(ctx, after, batch)
		if err != nil {
			return err
		}
		for _, c := range changes {
			if err := fn(c); err != nil {
				return err
			}
			after = c.Seq
		}
		if len(changes) == batch {
			continue
		}
		if err := s.Wait(ctx, after); err != nil {
			return err
		}
	}
}
