package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/iotdm/iotdm"
)

// maxBatch caps how many Updates one commit carries. Under load a batch
// takes in every Update that arrives while the previous batch is syncing,
// so its size follows the load up to this cap.
const maxBatch = 256

// batchAvgScale is the fixed-point scale of writer.avgBatch.
const batchAvgScale = 16

// errPanicked stands in as the error of an fn that panicked; the panic
// itself is re-raised in the caller's goroutine.
var errPanicked = errors.New("sqlite: update fn panicked")

// request is one Update travelling to the writer and back. The writer owns
// it from the send on the queue until it hands it to the syncer, which
// closes done.
type request struct {
	ctx  context.Context
	fn   func(context.Context, iotdm.Tx) error
	tx   writeTx
	done chan struct{}

	// Set by the writer (or the syncer) before done is closed.
	err      error
	panicked bool
	panicVal any
}

// writer is the state of the one goroutine that writes. It owns the write
// connection, its prepared statements and the seq counter; nothing else
// touches them while it runs.
//
// Commits are pipelined with their fsync: the writer commits a batch into
// the WAL (synchronous=NORMAL: no sync at COMMIT) and hands it to the
// syncer, which syncs the WAL and only then answers the batch's callers,
// while the writer already runs the next batch. Writes that are committed
// but not yet synced stay in the writer's unsynced overlay, so later
// batches read them; the entity cache receives them after the sync.
type writer struct {
	db    *DB
	conn  *sql.Conn
	st    writeStmts
	bg    context.Context // statements on conn are never interrupted, see writeTx
	queue <-chan *request
	syncQ chan<- *syncBatch
	idle  <-chan struct{} // a token: the syncer has no batch in hand
	start uint64          // seq before the open batch
	last  uint64          // seq of the last Change written, committed or in the open batch
	now   int64           // Change.Time of the open batch, Unix nanoseconds

	// avgBatch is a moving average of the Updates per batch, times
	// batchAvgScale: how concurrent the load is.
	avgBatch int

	// The writes of the open batch, in order; index finds the last write of
	// an entity.
	batch []write
	index map[entityKey]int

	// Committed writes the syncer has not yet made durable and cached, by
	// entity (the newest), and in commit order for pruning.
	unsynced       map[entityKey]unsyncedWrite
	unsyncedOrder  []unsyncedWrite
	unsyncedPruned uint64 // seq up to which unsynced was pruned
}

// unsyncedWrite is a committed write waiting for the WAL sync.
type unsyncedWrite struct {
	write
	seq uint64
}

// lookup returns an entity's value as the open batch sees it: the batch's
// own last write of it, else a committed write still being synced, else the
// cached value, else the value in SQLite, read on the writer's connection
// inside the open transaction.
//
// The order makes the answer the batch's view: the open batch's writes are
// only buffered (flush writes them into the transaction just before COMMIT),
// so SQLite on this connection holds exactly the committed state, every
// committed batch included, the one being synced too; the cache holds only
// latest committed values (see entityCache), and the overlays checked first
// are newer than both. The value read from SQLite is not cached: the cache
// fills from DB.Get and from the syncer's write-through.
func (w *writer) lookup(k entityKey) ([]byte, bool, error) {
	if i, ok := w.index[k]; ok {
		wr := w.batch[i]
		return wr.value, wr.op == iotdm.OpPut, nil
	}
	if u, ok := w.unsynced[k]; ok {
		return u.value, u.op == iotdm.OpPut, nil
	}
	if v, ok := w.db.cache.get(k); ok {
		return v, true, nil
	}
	return getValue(w.bg, w.st.get, k.kind, k.key)
}

// pruneUnsynced drops the unsynced writes the syncer has cached by now.
func (w *writer) pruneUnsynced() {
	synced := w.db.seq.Load()
	if synced <= w.unsyncedPruned {
		return
	}
	i := 0
	for ; i < len(w.unsyncedOrder) && w.unsyncedOrder[i].seq <= synced; i++ {
		u := w.unsyncedOrder[i]
		k := entityKey{u.kind, u.key}
		if cur, ok := w.unsynced[k]; ok && cur.seq <= synced {
			delete(w.unsynced, k)
		}
	}
	w.unsyncedOrder = append(w.unsyncedOrder[:0], w.unsyncedOrder[i:]...)
	w.unsyncedPruned = synced
}

// run executes Updates as they arrive inside an open transaction and
// commits it whenever the syncer is idle (group commit): while one batch is
// being synced, the next one grows. When the queue is closed and drained,
// it commits what is open and closes the sync queue.
func (w *writer) run() {
	defer close(w.syncQ)
	queue := w.queue
	var open *syncBatch // the open transaction's batch; nil when none is open
	for queue != nil || open != nil {
		if open == nil {
			r, ok := <-queue
			if !ok {
				return
			}
			open = w.begin()
			w.add(open, r)
			continue
		}
		// Take in everything already queued before deciding to commit.
	drain:
		for queue != nil && len(open.reqs) < maxBatch {
			select {
			case r, ok := <-queue:
				if !ok {
					queue = nil
					break drain
				}
				w.add(open, r)
			default:
				break drain
			}
		}
		if queue == nil || len(open.reqs) >= maxBatch {
			<-w.idle
			w.finish(open)
			open = nil
			continue
		}
		select {
		case <-w.idle:
			queue = w.linger(open, queue)
			w.finish(open)
			open = nil
		case r, ok := <-queue:
			if !ok {
				queue = nil
				continue
			}
			w.add(open, r)
		}
	}
}

// Lingering: once the syncer is free, a batch smaller than lingerMin waits
// up to lingerMax for more Updates, but only under concurrent load (recent
// batches carried more than one Update), so a lone caller never waits. A
// commit and its sync cost about as much for one Update as for many; on the
// 2-core benchmark machine this raised durable CreateThing throughput by
// 4-7 % at 16 clients (bench/RESULTS.md).
const (
	lingerMin = 8
	lingerMax = 100 * time.Microsecond
)

// linger lets open wait for more Updates, as above, and returns the queue
// (nil once it is closed).
func (w *writer) linger(open *syncBatch, queue <-chan *request) <-chan *request {
	if len(open.reqs) >= lingerMin || queue == nil || w.avgBatch < 2*batchAvgScale {
		return queue
	}
	t := time.NewTimer(lingerMax)
	defer t.Stop()
	for len(open.reqs) < lingerMin {
		select {
		case r, ok := <-queue:
			if !ok {
				return nil
			}
			w.add(open, r)
		case <-t.C:
			return queue
		}
	}
	return queue
}

// begin opens a write transaction for a new batch.
func (w *writer) begin() *syncBatch {
	w.pruneUnsynced()
	w.start = w.last
	w.now = time.Now().UnixNano()
	w.batch = make([]write, 0, 16)
	clear(w.index)
	b := &syncBatch{reqs: make([]*request, 0, 16)}
	if err := w.db.broken(); err != nil {
		b.err = err
		return b
	}
	if _, err := w.st.begin.ExecContext(w.bg); err != nil {
		b.err = fmt.Errorf("sqlite: begin: %w", err)
		w.db.logger.Error("sqlite: cannot begin write transaction", "err", b.err)
	}
	return b
}

// add runs one Update inside the open transaction of b.
func (w *writer) add(b *syncBatch, r *request) {
	b.reqs = append(b.reqs, r)
	switch {
	case b.err != nil:
		r.err = b.err
	case r.ctx.Err() != nil:
		r.err = r.ctx.Err()
	default:
		if err := w.runOne(r); err != nil {
			w.abort(b, err)
		}
	}
}

// finish commits b's transaction, if it is still good, and hands b to the
// syncer, which answers its callers once the commit is durable.
func (w *writer) finish(b *syncBatch) {
	b.start = time.Now()
	if b.err == nil {
		if err := w.flush(); err != nil {
			w.abort(b, err)
		} else if err := w.commit(); err != nil {
			w.abort(b, fmt.Errorf("commit: %w", err))
		} else {
			b.writes, b.last, b.time = w.batch, w.last, time.Unix(0, w.now).UTC()
			w.keepUnsynced()
		}
	}
	w.db.batches.Add(1)
	w.db.batched.Add(int64(len(b.reqs)))
	w.avgBatch += (len(b.reqs)*batchAvgScale - w.avgBatch) / 8
	w.syncQ <- b
}

// commit commits the open transaction. While COMMIT runs, the entity cache
// holds none of the batch's entities and fills nothing (see
// entityCache.beginCommit).
func (w *writer) commit() error {
	if len(w.batch) == 0 {
		_, err := w.st.commit.ExecContext(w.bg) // changes nothing readers see
		return err
	}
	w.db.cache.beginCommit(w.index)
	defer w.db.cache.endCommit()
	_, err := w.st.commit.ExecContext(w.bg)
	return err
}

// keepUnsynced moves the committed batch's writes to the unsynced overlay,
// where later batches read them until the syncer has cached them.
func (w *writer) keepUnsynced() {
	if w.unsynced == nil {
		w.unsynced = make(map[entityKey]unsyncedWrite, maxBatch)
	}
	for _, wr := range w.batch {
		u := unsyncedWrite{write: wr, seq: wr.seq}
		w.unsynced[entityKey{wr.kind, wr.key}] = u
		w.unsyncedOrder = append(w.unsyncedOrder, u)
	}
}

// runOne runs r's fn and, if it succeeds, takes what it buffered into the
// batch. It returns an error only when the transaction itself is in doubt
// and the whole batch must go; fn's own failure is r's alone and touched
// nothing.
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
		w.apply(wr)
	}
	return nil
}

// apply takes one buffered write of a successful fn into the batch and
// gives it the next seq; flush writes the batch to SQLite.
func (w *writer) apply(wr write) {
	w.last++
	wr.seq = w.last
	if w.index == nil {
		w.index = make(map[entityKey]int, maxBatch)
	}
	k := entityKey{wr.kind, wr.key}
	if i, ok := w.index[k]; ok {
		w.batch[i].replaced = true
	}
	w.index[k] = len(w.batch)
	w.batch = append(w.batch, wr)
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

// abort rolls the open transaction back after cause: every Update of b
// that had not failed on its own fails, and so do those added to b later.
func (w *writer) abort(b *syncBatch, cause error) {
	if _, err := w.st.rollback.ExecContext(w.bg); err != nil {
		// SQLite may have rolled back already, leaving nothing to roll back.
		w.db.logger.Debug("sqlite: rollback after failed batch", "err", err)
	}
	w.last = w.start
	w.batch = nil
	clear(w.index)
	err := fmt.Errorf("sqlite: write batch rolled back: %w", cause)
	w.db.logger.Error("sqlite: write batch failed", "err", err, "updates", len(b.reqs))
	b.err = err
	for _, r := range b.reqs {
		if r.err == nil {
			r.err = err
		}
	}
}

// rowsPerStatement is how many rows one multi-row statement of flush
// carries at most.
const rowsPerStatement = 32

// flush writes the open batch into the transaction: its Changes, in order,
// and the final state of every entity it touched.
func (w *writer) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	for rows := range slices.Chunk(w.batch, rowsPerStatement) {
		args := make([]any, 0, 6*len(rows))
		for _, wr := range rows {
			args = append(args, int64(wr.seq), w.now, string(wr.op), wr.kind, wr.key, wr.value)
		}
		if err := w.exec(stmtChanges, len(rows), args); err != nil {
			return fmt.Errorf("record changes: %w", err)
		}
	}
	var puts, dels []any
	nPuts, nDels := 0, 0
	for k, i := range w.index {
		wr := w.batch[i]
		if wr.op == iotdm.OpDelete {
			dels = append(dels, k.kind, k.key)
			nDels++
		} else {
			puts = append(puts, k.kind, k.key, wr.value)
			nPuts++
		}
	}
	for n, args := range chunkRows(puts, nPuts, 3) {
		if err := w.exec(stmtPuts, n, args); err != nil {
			return fmt.Errorf("put entities: %w", err)
		}
	}
	for n, args := range chunkRows(dels, nDels, 2) {
		if err := w.exec(stmtDeletes, n, args); err != nil {
			return fmt.Errorf("delete entities: %w", err)
		}
	}
	return nil
}

// chunkRows yields the rows of args (width values each) in chunks of at most
// rowsPerStatement rows, with each chunk's row count.
func chunkRows(args []any, rows, width int) iter.Seq2[int, []any] {
	return func(yield func(int, []any) bool) {
		for start := 0; start < rows; start += rowsPerStatement {
			n := min(rowsPerStatement, rows-start)
			if !yield(n, args[start*width:(start+n)*width]) {
				return
			}
		}
	}
}

// exec runs the multi-row statement of shape for n rows, preparing it on
// first use.
func (w *writer) exec(shape stmtShape, n int, args []any) error {
	key := stmtKey{shape, n}
	st, ok := w.st.multi[key]
	if !ok {
		var err error
		st, err = w.conn.PrepareContext(w.bg, shape.sql(n))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		if w.st.multi == nil {
			w.st.multi = map[stmtKey]*sql.Stmt{}
		}
		w.st.multi[key] = st
	}
	_, err := st.ExecContext(w.bg, args...)
	return err
}
