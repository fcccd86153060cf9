package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/iotdm/iotdm"
)

// maxBatch caps how many Updates one commit carries. Under load the writer
// commits whatever queued while the previous commit was syncing, so the
// batch size follows the number of concurrent callers up to this cap.
const maxBatch = 256

// maxLinger bounds how long the writer waits for callers already inside
// Update to join a batch; see fill.
const maxLinger = 200 * time.Microsecond

// errPanicked stands in as the error of an fn that panicked; the panic
// itself is re-raised in the caller's goroutine.
var errPanicked = errors.New("sqlite: update fn panicked")

// request is one Update travelling to the writer and back. The writer owns
// it from the send on the queue until it closes done.
type request struct {
	ctx  context.Context
	fn   func(context.Context, iotdm.Tx) error
	tx   writeTx
	done chan struct{}

	// Set by the writer before done is closed.
	err      error
	panicked bool
	panicVal any
}

// writer is the state of the one goroutine that writes. It owns the write
// connection, its prepared statements and the seq counter; nothing else
// touches them while it runs.
type writer struct {
	db    *DB
	conn  *sql.Conn
	st    writeStmts
	bg    context.Context // statements on conn are never interrupted, see writeTx
	queue <-chan *request
	last  uint64 // seq of the last Change written, committed or in the open batch
	now   int64  // Change.Time of the open batch, Unix nanoseconds

	// The writes of the open batch, in order, applied to the entity cache
	// once the batch commits; index finds the last write of an entity.
	batch []write
	index map[entityKey]int
}

// lookup returns an entity's value as the open batch sees it: the batch's
// own last write of it, else the committed value in the cache.
func (w *writer) lookup(k entityKey) ([]byte, bool) {
	if i, ok := w.index[k]; ok {
		wr := w.batch[i]
		return wr.value, wr.op == iotdm.OpPut
	}
	return w.db.cache.get(k.kind, k.key)
}

// run commits batches until the queue is closed and drained.
func (w *writer) run() {
	defer close(w.db.writerDone)
	batch := make([]*request, 0, maxBatch)
	for {
		r, ok := <-w.queue
		if !ok {
			return
		}
		batch = w.fill(append(batch[:0], r))
		w.commit(batch)
		w.db.batches.Add(1)
		w.db.batched.Add(int64(len(batch)))
		for i, r := range batch {
			close(r.done)
			batch[i] = nil
		}
	}
}

// fill adds queued requests to batch. When fewer requests are queued than
// callers are inside Update, the missing ones are on their way (typically
// the callers of the batch just answered, about to send their next Update),
// so fill yields to let them run, for at most maxLinger: a commit costs a
// sync whatever its size, and without this the callers split into two
// batches committing in turn at half the throughput.
func (w *writer) fill(batch []*request) []*request {
	var deadline time.Time
	for len(batch) < maxBatch {
		select {
		case r, ok := <-w.queue:
			if !ok {
				return batch // the next receive in run sees the close too
			}
			batch = append(batch, r)
			continue
		default:
		}
		if int64(len(batch)) >= w.db.inflight.Load() {
			return batch
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(maxLinger)
		} else if now.After(deadline) {
			return batch
		}
		runtime.Gosched()
	}
	return batch
}

// commit runs batch in one transaction and sets every request's outcome.
func (w *writer) commit(batch []*request) {
	start := w.last
	w.now = time.Now().UnixNano()
	w.batch = w.batch[:0]
	clear(w.index)
	if _, err := w.st.begin.ExecContext(w.bg); err != nil {
		err = fmt.Errorf("sqlite: begin: %w", err)
		w.db.logger.Error("sqlite: cannot begin write transaction", "err", err, "updates", len(batch))
		for _, r := range batch {
			r.err = err
		}
		return
	}
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if err := w.runOne(r); err != nil {
			w.abort(batch, start, err)
			return
		}
	}
	if _, err := w.st.commit.ExecContext(w.bg); err != nil {
		w.abort(batch, start, fmt.Errorf("commit: %w", err))
		return
	}
	w.db.cache.apply(w.batch)
	if w.last != start {
		w.db.publish(w.last)
	}
}

// runOne runs r's fn and, if it succeeds, writes what it buffered. It
// returns an error only when the transaction itself is in doubt and the
// whole batch must go; fn's own failure is r's alone and touched nothing.
func (w *writer) runOne(r *request) error {
	r.tx = writeTx{w: w, active: true}
	err := w.call(r)
	r.tx.active = false
	if err == nil {
		err = r.tx.err
	}
	if err != nil {
		r.err = err
		return nil
	}
	for _, wr := range r.tx.writes {
		if err := w.apply(wr); err != nil {
			r.err = err
			return err
		}
	}
	return nil
}

// apply writes one buffered write and its Change into the open transaction.
func (w *writer) apply(wr write) error {
	var err error
	if wr.op == iotdm.OpDelete {
		_, err = w.st.del.ExecContext(w.bg, wr.kind, wr.key)
	} else {
		_, err = w.st.put.ExecContext(w.bg, wr.kind, wr.key, wr.value)
	}
	if err != nil {
		return fmt.Errorf("%s %s/%s: %w", wr.op, wr.kind, wr.key, err)
	}
	if err := w.record(wr.op, wr.kind, wr.key, wr.value); err != nil {
		return fmt.Errorf("%s %s/%s: %w", wr.op, wr.kind, wr.key, err)
	}
	if w.index == nil {
		w.index = make(map[entityKey]int, maxBatch)
	}
	w.index[entityKey{wr.kind, wr.key}] = len(w.batch)
	w.batch = append(w.batch, wr)
	return nil
}

// call runs r's fn, turning a panic into errPanicked and keeping its value
// for the caller.
func (w *writer) call(r *request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked, r.panicVal = true, p
			err = errPanicked
		}
	}()
	return r.fn(r.ctx, &r.tx)
}

// abort rolls the whole batch back after cause and fails every request that
// had not failed on its own.
func (w *writer) abort(batch []*request, start uint64, cause error) {
	if _, err := w.st.rollback.ExecContext(w.bg); err != nil {
		// SQLite may have rolled back already, leaving nothing to roll back.
		w.db.logger.Debug("sqlite: rollback after failed batch", "err", err)
	}
	w.last = start
	w.batch = w.batch[:0]
	clear(w.index)
	err := fmt.Errorf("sqlite: write batch rolled back: %w", cause)
	w.db.logger.Error("sqlite: write batch failed", "err", err, "updates", len(batch))
	for _, r := range batch {
		if r.err == nil {
			r.err = err
		}
	}
}

// record appends the Change for a write of the current fn.
func (w *writer) record(op iotdm.Op, kind, key string, value []byte) error {
	seq := w.last + 1
	if _, err := w.st.change.ExecContext(w.bg, int64(seq), w.now, string(op), kind, key, value); err != nil {
		return fmt.Errorf("record change %d: %w", seq, err)
	}
	w.last = seq
	return nil
}
