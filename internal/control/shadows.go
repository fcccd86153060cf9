package control

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/shadow"
)

// ShadowsOptions configures a Shadows service.
type ShadowsOptions struct {
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Shadows implements iotdm.Shadows on an iotdm.Store: the document algebra
// is internal/shadow's; this service validates names, keeps each shadow as a
// KindShadow entity (a deleted one as a KindShadowTombstone, see the root
// package) and maps shadow errors to iotdm error codes.
//
// AWS §6.1: shadows do not require the thing to be registered, and deleting
// a thing does not delete its shadows, so the service never reads the
// registry.
type Shadows struct {
	store iotdm.Store
	opts  ShadowsOptions
	log   *slog.Logger
}

var _ iotdm.Shadows = (*Shadows)(nil)

const (
	defaultShadowPageSize = 25
	maxShadowPageSize     = 100 // ListNamedShadowsForThing pageSize 1–100
)

// NewShadows returns a Shadows service over store.
func NewShadows(store iotdm.Store, opts ShadowsOptions) *Shadows {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Shadows{store: store, opts: opts, log: opts.Logger.With("component", "shadows")}
}

// shadowError maps a *shadow.Error to the iotdm error of the same
// exception; other errors pass through.
func shadowError(err error) error {
	var se *shadow.Error
	if !errors.As(err, &se) {
		return err
	}
	code := iotdm.ErrInvalidRequest
	switch se.Kind {
	case shadow.NotFound:
		code = iotdm.ErrResourceNotFound
	case shadow.Conflict:
		code = iotdm.ErrConflict
	case shadow.RequestEntityTooLarge:
		code = iotdm.ErrRequestEntityTooLarge
	case shadow.UnsupportedDocumentEncoding:
		code = iotdm.ErrUnsupportedDocumentEncoding
	}
	return &iotdm.Error{Code: code, Message: se.Message}
}

// validateShadowNames checks the thing name (ThingName: 1–128 of
// [a-zA-Z0-9:_-]) and the shadow name ("" or 1–64 of [$a-zA-Z0-9:_-]).
func validateShadowNames(thingName, shadowName string) error {
	if err := validateName("thingName", thingName); err != nil {
		return err
	}
	return shadowError(shadow.ValidateName(shadowName))
}

// GetThingShadow returns the shadow document with its delta (AWS §6.2). A
// missing shadow is ResourceNotFoundException "No shadow exists with name",
// whether or not the thing exists.
func (s *Shadows) GetThingShadow(ctx context.Context, in *iotdm.GetThingShadowInput) (*iotdm.GetThingShadowOutput, error) {
	if err := validateShadowNames(in.ThingName, in.ShadowName); err != nil {
		return nil, err
	}
	st, ok, err := get[shadow.State](ctx, s.store, iotdm.KindShadow, iotdm.ShadowKey(in.ThingName, in.ShadowName))
	if err != nil {
		return nil, err
	}
	if !ok || !shadow.Exists(st) {
		return nil, shadowError(shadow.NotFoundError(in.ThingName, in.ShadowName))
	}
	return &iotdm.GetThingShadowOutput{Payload: shadow.Get(st)}, nil
}

// UpdateThingShadow merges the request document into the shadow, creating
// it on first update (AWS §6.3). The read, the merge and the write run in one
// Store.Update, so concurrent updates serialise and every accepted update is
// one KindShadow put in the change feed; a refused update writes nothing.
func (s *Shadows) UpdateThingShadow(ctx context.Context, in *iotdm.UpdateThingShadowInput) (*iotdm.UpdateThingShadowOutput, error) {
	if err := validateShadowNames(in.ThingName, in.ShadowName); err != nil {
		return nil, err
	}
	key := iotdm.ShadowKey(in.ThingName, in.ShadowName)
	var accepted []byte
	err := s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		cur, ok, err := get[shadow.State](ctx, tx, iotdm.KindShadow, key)
		if err != nil {
			return err
		}
		tombstone := false
		if !ok {
			// A shadow deleted recently continues its version (AWS §6.3 item 8).
			if cur, tombstone, err = get[shadow.State](ctx, tx, iotdm.KindShadowTombstone, key); err != nil {
				return err
			}
		}
		res, err := shadow.Update(cur, in.Payload, s.opts.Now())
		if err != nil {
			return shadowError(err)
		}
		if err := put(ctx, tx, iotdm.KindShadow, key, res.State); err != nil {
			return err
		}
		if tombstone {
			if err := tx.Delete(ctx, iotdm.KindShadowTombstone, key); err != nil {
				return err
			}
		}
		accepted = res.Accepted
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.UpdateThingShadowOutput{Payload: accepted}, nil
}

// DeleteThingShadow deletes the shadow and answers {"version","timestamp"}
// (AWS §6.1). The version is remembered in a tombstone so that a recreation
// within 48 hours continues the numbering (AWS §6.3 item 8).
func (s *Shadows) DeleteThingShadow(ctx context.Context, in *iotdm.DeleteThingShadowInput) (*iotdm.DeleteThingShadowOutput, error) {
	if err := validateShadowNames(in.ThingName, in.ShadowName); err != nil {
		return nil, err
	}
	key := iotdm.ShadowKey(in.ThingName, in.ShadowName)
	var resp []byte
	err := s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		cur, ok, err := get[shadow.State](ctx, tx, iotdm.KindShadow, key)
		if err != nil {
			return err
		}
		if !ok || !shadow.Exists(cur) {
			return shadowError(shadow.NotFoundError(in.ThingName, in.ShadowName))
		}
		tomb, body, err := shadow.Delete(cur, s.opts.Now())
		if err != nil {
			return shadowError(err)
		}
		if err := tx.Delete(ctx, iotdm.KindShadow, key); err != nil {
			return err
		}
		if err := put(ctx, tx, iotdm.KindShadowTombstone, key, tomb); err != nil {
			return err
		}
		resp = body
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.DeleteThingShadowOutput{Payload: resp}, nil
}

// ListNamedShadowsForThing lists the names of a thing's named shadows in
// ascending order (the classic shadow is not listed), pageSize 1–100 (25 by
// default). A thing without named shadows, registered or not, has an empty
// list.
func (s *Shadows) ListNamedShadowsForThing(ctx context.Context, in *iotdm.ListNamedShadowsForThingInput) (*iotdm.ListNamedShadowsForThingOutput, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	size := in.PageSize
	switch {
	case size == 0:
		size = defaultShadowPageSize
	case size < 1 || size > maxShadowPageSize:
		return nil, invalid("1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and %d", size, maxShadowPageSize)
	}
	list := "namedshadows/" + in.ThingName
	last, err := decodeToken(list, in.NextToken)
	if err != nil {
		return nil, err
	}
	// The classic shadow's key is the prefix itself; scanning strictly after
	// it skips it.
	prefix := iotdm.ShadowKey(in.ThingName, "")
	p := pager[string]{size: size}
	err = s.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, iotdm.KindShadow, prefix, prefix+last, size+1, func(key string, value []byte) error {
			name := key[len(prefix):]
			if !p.add(name, name) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListNamedShadowsForThingOutput{Results: p.items, NextToken: p.next(list), Timestamp: s.opts.Now().Unix()}
	if out.Results == nil {
		out.Results = []string{}
	}
	return out, nil
}
