// Package overlay lays the writes an Update has buffered over the committed
// entities its Tx scans, so that a Scan inside an Update sees the Update's
// own writes in key order. The stores (internal/sqlite, internal/postgres)
// buffer writes differently; the merge is the same.
package overlay

import (
	"errors"

	"github.com/iotdm/iotdm"
)

// Write is the latest buffered write of one entity in a scan's range.
type Write struct {
	Key    string
	Delete bool
	Value  []byte // the new value of a put
}

// errStopped ends the stored scan once the merge is done with it.
var errStopped = errors.New("overlay: scan stopped")

// Scan calls fn for each entity of a scan, in key order and at most limit
// times (0: no limit): the committed entities that stored yields, in key
// order, with pending laid over them. pending is sorted by key, one write
// per key; a put replaces or adds its entity, a delete hides it.
//
// fn returning iotdm.ErrStopScan ends the scan with nil; any other error of
// fn ends it with that error, and fn is not called again either way. stored
// must pass its yield function's errors back as they are; its own errors
// (the database's) are returned as they are too. Pending values reach fn as
// copies, so fn may keep or change them without touching the buffered
// writes.
func Scan(pending []Write, limit int, fn func(key string, value []byte) error,
	stored func(yield func(key string, value []byte) error) error) error {
	emitted := 0
	var fnErr error // fn's error or errStopped, once the merge is over
	emit := func(key string, value []byte) error {
		if fnErr == nil && limit > 0 && emitted >= limit {
			fnErr = errStopped
		}
		if fnErr != nil {
			return fnErr
		}
		emitted++
		if err := fn(key, value); err != nil {
			fnErr = err
			if errors.Is(err, iotdm.ErrStopScan) {
				fnErr = errStopped
			}
			return fnErr
		}
		return nil
	}
	i := 0
	// emitPending emits the pending puts before key (all of them: last).
	emitPending := func(key string, last bool) error {
		for ; i < len(pending) && (last || pending[i].Key < key); i++ {
			if p := pending[i]; !p.Delete {
				if err := emit(p.Key, append([]byte{}, p.Value...)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := stored(func(key string, value []byte) error {
		if err := emitPending(key, false); err != nil {
			return err
		}
		if i < len(pending) && pending[i].Key == key {
			p := pending[i]
			i++
			if p.Delete {
				return nil
			}
			value = append([]byte{}, p.Value...)
		}
		return emit(key, value)
	})
	if err == nil && fnErr == nil {
		err = emitPending("", true)
	}
	switch {
	case fnErr == errStopped:
		return nil
	case fnErr != nil:
		return fnErr
	}
	return err
}
