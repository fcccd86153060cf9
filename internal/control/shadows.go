package control

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
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
//
// The same operations serve the MQTT shadow topics (HandleMQTT), and, once
// SetPublisher gave the service a publisher, every accepted update and
// delete is published on the shadow's topics whichever API made it.
type Shadows struct {
	store iotdm.Store
	opts  ShadowsOptions
	log   *slog.Logger
	pub   publisherSlot
	// rejected, when set, is told about every request over MQTT the
	// service refused (for AWS IoT logging).
	rejected atomic.Pointer[ShadowRejectionHook]
	// order keeps the publications of one shadow in commit order.
	order keyLocks
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
	st, err := s.state(ctx, in.ThingName, in.ShadowName)
	if err != nil {
		return nil, shadowError(err)
	}
	return &iotdm.GetThingShadowOutput{Payload: shadow.Get(st)}, nil
}

// UpdateThingShadow merges the request document into the shadow, creating
// it on first update (AWS §6.3), and publishes the update on MQTT (see
// update).
func (s *Shadows) UpdateThingShadow(ctx context.Context, in *iotdm.UpdateThingShadowInput) (*iotdm.UpdateThingShadowOutput, error) {
	res, pubErr, err := s.update(ctx, in.ThingName, in.ShadowName, in.Payload)
	if err != nil {
		return nil, shadowError(err)
	}
	if pubErr != nil {
		// The update is committed; a device misses its messages.
		s.log.Warn("publish shadow update", "thing", in.ThingName, "shadow", in.ShadowName, "err", pubErr)
	}
	return &iotdm.UpdateThingShadowOutput{Payload: res.Accepted}, nil
}

// DeleteThingShadow deletes the shadow and answers {"version","timestamp"}
// (AWS §6.1), and publishes …/delete/accepted on MQTT (see delete).
func (s *Shadows) DeleteThingShadow(ctx context.Context, in *iotdm.DeleteThingShadowInput) (*iotdm.DeleteThingShadowOutput, error) {
	resp, pubErr, err := s.delete(ctx, in.ThingName, in.ShadowName, "")
	if err != nil {
		return nil, shadowError(err)
	}
	if pubErr != nil {
		s.log.Warn("publish shadow delete", "thing", in.ThingName, "shadow", in.ShadowName, "err", pubErr)
	}
	return &iotdm.DeleteThingShadowOutput{Payload: resp}, nil
}

// The operations below are shared by the REST API (above) and the MQTT
// topics (shadowtopics.go). Their errors are *shadow.Error, *iotdm.Error
// (names) or store failures; each edge maps them once: shadowError for
// REST, rejection for MQTT.

// state returns the live shadow thingName/shadowName; a missing one is the
// NotFoundError of the names.
func (s *Shadows) state(ctx context.Context, thingName, shadowName string) (*shadow.State, error) {
	if err := validateShadowNames(thingName, shadowName); err != nil {
		return nil, err
	}
	st, ok, err := get[shadow.State](ctx, s.store, iotdm.KindShadow, iotdm.ShadowKey(thingName, shadowName))
	if err != nil {
		return nil, err
	}
	if !ok || !shadow.Exists(st) {
		return nil, shadow.NotFoundError(thingName, shadowName)
	}
	return st, nil
}

// update merges the request document into the shadow, creating it on first
// update (AWS §6.3). The read, the merge and the write run in one
// Store.Update, so concurrent updates serialise and every accepted update is
// one KindShadow put in the change feed; a refused update writes nothing.
// The accepted update is then published on …/update/accepted,
// …/update/delta (when the delta is not empty) and …/update/documents,
// whichever API it came from (AWS §6.1; see write).
func (s *Shadows) update(ctx context.Context, thingName, shadowName string, payload []byte) (res *shadow.Result, pubErr, err error) {
	pubErr, err = s.write(ctx, thingName, shadowName, func(ctx context.Context, tx iotdm.Tx, key string) error {
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
		r, err := shadow.Update(cur, payload, s.opts.Now())
		if err != nil {
			return err
		}
		if err := put(ctx, tx, iotdm.KindShadow, key, r.State); err != nil {
			return err
		}
		if tombstone {
			if err := tx.Delete(ctx, iotdm.KindShadowTombstone, key); err != nil {
				return err
			}
		}
		res = r
		return nil
	}, func(ctx context.Context, pub MessagePublisher, topic string) error {
		return publishUpdate(ctx, pub, topic, res)
	})
	if err != nil {
		return nil, nil, err
	}
	return res, pubErr, nil
}

// delete deletes the shadow and returns the DeleteThingShadow response,
// {"version","timestamp"} (AWS §6.1). The version is remembered in a
// tombstone so that a recreation within 48 hours continues the numbering
// (AWS §6.3 item 8). …/delete/accepted is then published with clientToken
// (see write).
func (s *Shadows) delete(ctx context.Context, thingName, shadowName, clientToken string) (resp []byte, pubErr, err error) {
	var deleted *shadow.State
	pubErr, err = s.write(ctx, thingName, shadowName, func(ctx context.Context, tx iotdm.Tx, key string) error {
		cur, ok, err := get[shadow.State](ctx, tx, iotdm.KindShadow, key)
		if err != nil {
			return err
		}
		if !ok || !shadow.Exists(cur) {
			return shadow.NotFoundError(thingName, shadowName)
		}
		tomb, body, err := shadow.Delete(cur, s.opts.Now())
		if err != nil {
			return err
		}
		if err := tx.Delete(ctx, iotdm.KindShadow, key); err != nil {
			return err
		}
		if err := put(ctx, tx, iotdm.KindShadowTombstone, key, tomb); err != nil {
			return err
		}
		deleted, resp = tomb, body
		return nil
	}, func(ctx context.Context, pub MessagePublisher, topic string) error {
		return publishDelete(ctx, pub, topic, deleted, clientToken)
	})
	if err != nil {
		return nil, nil, err
	}
	return resp, pubErr, nil
}

// write validates the names and runs fn on the shadow's key in one
// Store.Update; after the commit, when a publisher is set, publish
// publishes the outcome under the shadow's topic prefix. The publications
// of one shadow go out in commit order: the shadow's lock is held from
// before the transaction until they are out. They are published whatever
// happens to ctx after the commit. pubErr reports a failed publication; the
// write stands.
func (s *Shadows) write(ctx context.Context, thingName, shadowName string,
	fn func(ctx context.Context, tx iotdm.Tx, key string) error,
	publish func(ctx context.Context, pub MessagePublisher, topic string) error,
) (pubErr, err error) {
	if err := validateShadowNames(thingName, shadowName); err != nil {
		return nil, err
	}
	key := iotdm.ShadowKey(thingName, shadowName)
	pub := s.pub.get()
	if pub != nil {
		defer s.order.lock(key)()
	}
	err = s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error { return fn(ctx, tx, key) })
	if err != nil || pub == nil {
		return nil, err
	}
	return publish(context.WithoutCancel(ctx), pub, shadowTopic(thingName, shadowName)), nil
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
