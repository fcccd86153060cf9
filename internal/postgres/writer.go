package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/iotdm/iotdm"
)

// maxBatch caps how many Updates one commit carries. A batch takes in every
// Update that arrived while the previous one committed, so its size follows
// the load up to this cap.
const maxBatch = 256

// errPanicked stands in as the error of an fn that panicked; the panic
// itself is re-raised in the caller's goroutine.
var errPanicked = errors.New("postgres: update fn panicked")

// request is one Update travelling to the writer and back. The writer owns
// it from the send on the queue until it closes done.
type request struct {
	ctx  context.Context
	fn   func(context.Context, iotdm.Tx) error
	done chan struct{}

	// Set by the writer before done is closed.
	err      error
	panicked bool
	panicVal any
}

// batch is the Updates committed together, and their writes.
type batch struct {
	reqs  []*request
	begun bool  // the transaction is open on the writer's connection and holds the feed head's lock
	err   error // the batch failed: every Update in it fails

	// The writes of the batch's successful fns, in order; index finds the
	// last write of an entity.
	writes []write
	index  map[entityKey]int
}

// apply takes one buffered write of a successful fn into the batch.
func (b *batch) apply(wr write) {
	if b.index == nil {
		b.index = make(map[entityKey]int, 16)
	}
	b.index[entityKey{wr.kind, wr.key}] = len(b.writes)
	b.writes = append(b.writes, wr)
}

// writer is the state of the one goroutine that writes. It owns its
// connection, outside the pool; nothing else touches it while it runs.
type writer struct {
	db    *DB
	queue <-chan *request
	cfg   *pgx.ConnConfig // for the writer's connections, see writerConfig
	bg    context.Context // for statements: never cancelled, see writeTx
	stop  context.Context // cancelled by Close: for connecting
	conn  *pgx.Conn       // nil until needed, and after it broke
	used  time.Time       // when conn was last used
}

// writerConfig returns the configuration of the writer's connections:
// cfg's, with generic plans for every prepared statement. The writer runs
// the same few statements over and over; PostgreSQL would otherwise keep
// planning the array-taking ones anew each time (a third of a one-Put
// commit's time on the benchmark machine).
func writerConfig(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	cfg = cfg.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	return cfg
}

// run executes Updates as they arrive, in batches: a batch takes the first
// Update waiting and every other one already queued, runs their fns one
// after another and commits them in one transaction (group commit), while
// the next Updates queue. When the queue is closed and drained, it returns
// its connection and closes writerDone.
func (w *writer) run() {
	defer close(w.db.writerDone)
	defer w.release()
	for r := range w.queue {
		b := &batch{}
		w.add(b, r)
	drain:
		for len(b.reqs) < maxBatch && b.err == nil {
			select {
			case r, ok := <-w.queue:
				if !ok {
					break drain
				}
				w.add(b, r)
			default:
				break drain
			}
		}
		w.finish(b)
	}
}

// add runs one Update in b.
func (w *writer) add(b *batch, r *request) {
	b.reqs = append(b.reqs, r)
	switch {
	case b.err != nil:
		r.err = b.err
		return
	case r.ctx.Err() != nil:
		r.err = r.ctx.Err()
		return
	}
	tx := &writeTx{w: w, b: b, active: true}
	err := w.call(r, tx)
	tx.active = false
	if err != nil {
		r.err = err
	}
	if tx.err != nil {
		// A statement failed: the transaction is lost, and the batch.
		w.abort(b, tx.err)
		return
	}
	if err == nil {
		for _, wr := range tx.writes {
			b.apply(wr)
		}
	}
}

// call runs r's fn, turning a panic into errPanicked and keeping its value
// for the caller.
func (w *writer) call(r *request, tx *writeTx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked, r.panicVal = true, p
			err = errPanicked
		}
	}()
	return r.fn(r.ctx, tx)
}

// begin opens b's transaction and takes the feed head's lock, unless done
// already. From then on the transaction sees every commit of every node
// before it, and no node commits a write until it ends.
func (w *writer) begin(b *batch) error {
	if b.begun {
		return nil
	}
	if err := w.acquire(); err != nil {
		return err
	}
	pb := &pgx.Batch{}
	pb.Queue("BEGIN")
	pb.Queue(sqlLock)
	if err := w.conn.SendBatch(w.bg, pb).Close(); err != nil {
		w.endTx()
		return fmt.Errorf("postgres: begin write transaction: %w", err)
	}
	b.begun = true
	return nil
}

// finish commits b, if it wrote anything and is still good, and answers
// its callers.
func (w *writer) finish(b *batch) {
	start := time.Now()
	committed := false
	switch {
	case b.err != nil:
	case len(b.writes) > 0:
		last, err := w.commit(b)
		if err != nil {
			w.abort(b, err)
			break
		}
		committed = true
		w.db.advance(last)
	case b.begun:
		// Only reads: end the transaction, releasing the lock.
		w.endTx()
		b.begun = false
	}
	w.db.batches.Add(1)
	w.db.batched.Add(int64(len(b.reqs)))
	if w.db.onCommit != nil && (committed || b.err != nil) {
		updates := 0
		for _, r := range b.reqs {
			if r.err == nil {
				updates++
			}
		}
		w.db.onCommit(time.Since(start), updates, b.err)
	}
	for _, r := range b.reqs {
		close(r.done)
	}
}

// commit writes b and commits it, all in one pipelined round trip: the
// lock (if no fn read anything), the final state of each entity it touched,
// its changes, the feed head, the notification and COMMIT. It returns the
// seq of b's last change.
func (w *writer) commit(b *batch) (uint64, error) {
	if err := w.acquire(); err != nil {
		return 0, err
	}
	pb := &pgx.Batch{}
	if !b.begun {
		pb.Queue("BEGIN")
		pb.Queue(sqlLock)
	}
	var putKinds, putKeys, delKinds, delKeys []string
	var putValues [][]byte
	for k, i := range b.index {
		if wr := b.writes[i]; wr.op == iotdm.OpDelete {
			delKinds, delKeys = append(delKinds, k.kind), append(delKeys, k.key)
		} else {
			putKinds, putKeys, putValues = append(putKinds, k.kind), append(putKeys, k.key), append(putValues, wr.value)
		}
	}
	if len(putKeys) > 0 {
		pb.Queue(sqlPut, putKinds, putKeys, putValues)
	}
	if len(delKeys) > 0 {
		pb.Queue(sqlDelete, delKinds, delKeys)
	}
	n := len(b.writes)
	ops, kinds, keys, values := make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
	for i, wr := range b.writes {
		ops[i], kinds[i], keys[i], values[i] = string(wr.op), wr.kind, wr.key, wr.value
	}
	var last int64
	pb.Queue(sqlAppend, ops, kinds, keys, values, int64(n)).QueryRow(func(row pgx.Row) error {
		return row.Scan(&last)
	})
	pb.Queue(sqlNotify)
	pb.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return fmt.Errorf("COMMIT answered %q", tag)
		}
		return nil
	})
	err := w.conn.SendBatch(w.bg, pb).Close()
	b.begun = false
	if err != nil {
		w.endTx()
		return 0, fmt.Errorf("commit: %w", err)
	}
	return uint64(last), nil
}

// abort rolls b's transaction back after cause: every Update of b that had
// not failed on its own fails, and so do those added to b later. (When
// cause is a connection lost while COMMIT was in flight, the batch may have
// committed all the same; nobody can tell until the server answers again.)
func (w *writer) abort(b *batch, cause error) {
	if b.begun {
		w.endTx()
		b.begun = false
	}
	b.writes = nil
	clear(b.index)
	err := fmt.Errorf("postgres: write batch failed: %w", cause)
	w.db.logger.Error("postgres: write batch failed", "err", err, "updates", len(b.reqs))
	b.err = err
	for _, r := range b.reqs {
		if r.err == nil {
			r.err = err
		}
	}
}

// idlePing is how long the writer's connection may sit unused before the
// writer checks it with a ping before using it, so that the first batch
// after a server restart, say, does not fail on a dead connection.
const idlePing = time.Second

// acquire makes sure the writer holds a working connection.
func (w *writer) acquire() error {
	if w.conn != nil && time.Since(w.used) > idlePing {
		ctx, cancel := context.WithTimeout(w.bg, connectTimeout)
		err := w.conn.Ping(ctx)
		cancel()
		if err != nil {
			w.db.logger.Warn("postgres: writer connection lost; reconnecting", "err", err)
			w.release()
		}
	}
	if w.conn == nil {
		if err := w.connect(w.stop); err != nil {
			return w.db.closedOr(err)
		}
	}
	w.used = time.Now()
	return nil
}

// connect opens the writer's connection.
func (w *writer) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, w.cfg.Copy())
	if err != nil {
		return fmt.Errorf("postgres: writer connection: %w", err)
	}
	w.conn, w.used = c, time.Now()
	w.db.writerPID.Store(c.PgConn().PID())
	return nil
}

// endTx ends whatever transaction the writer's connection is in, with
// ROLLBACK; a connection that cannot is given up.
func (w *writer) endTx() {
	if w.conn == nil {
		return
	}
	pc := w.conn.PgConn()
	if !pc.IsClosed() && pc.TxStatus() != 'I' {
		if _, err := w.conn.Exec(w.bg, "ROLLBACK"); err != nil {
			w.db.logger.Warn("postgres: writer rollback failed", "err", err)
		}
	}
	if pc.IsClosed() || pc.TxStatus() != 'I' {
		w.release()
	}
}

// release closes the writer's connection.
func (w *writer) release() {
	if w.conn != nil {
		closeConn(w.conn)
		w.conn = nil
	}
}
