// Package postgres is the iotdm.Store on PostgreSQL, for one or several
// iotdm processes ("nodes") sharing one database.
//
// Writes: each DB has one writer goroutine that runs concurrent Updates in
// one PostgreSQL transaction (group commit). fn's writes are buffered in
// memory, so a failing fn is dropped alone; the batch reaches PostgreSQL in
// one pipelined round trip at commit. Every write transaction first locks
// the one row of feed_head (SELECT ... FOR UPDATE), so write transactions of
// every node run one at a time: reads inside Update see every commit before
// them, and seqs are gap-free and in commit order. The lock is taken at the
// first read of the batch, or at commit for a batch that only puts.
//
// The feed: a commit appends its changes, advances feed_head and calls
// pg_notify('iotdm_changes', lastSeq). Each DB keeps one dedicated LISTEN
// connection that wakes Wait; it reconnects when broken and polls the feed
// head every half second, so a lost notification delays Wait, never stalls
// it.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iotdm/iotdm"
)

// Options configure Open.
type Options struct {
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// OnCommit, when set, is called for every commit that wrote something
	// or failed, once it is known to have committed or failed: elapsed from
	// the start of the commit to its end, the number of Updates it carried,
	// and why it failed. It runs on the writer goroutine, before the
	// commit's callers are answered, so it must be quick; for metrics.
	OnCommit func(elapsed time.Duration, updates int, err error)
	// MaxConns caps the connection pool (shared with the other stores of
	// this package, see DB.Pool); 0 means max(8, 2×GOMAXPROCS). The writer
	// and the change-feed listener each keep one more connection, outside
	// the pool.
	MaxConns int32

	// pollInterval, when set (by tests), replaces defaultPollInterval.
	pollInterval time.Duration
}

// defaultPollInterval is how often the listener reads the feed head when no
// notification came: the longest a lost notification can delay Wait.
const defaultPollInterval = 500 * time.Millisecond

// DB is an iotdm.Store backed by a PostgreSQL database.
type DB struct {
	logger   *slog.Logger
	pool     *pgxpool.Pool
	onCommit func(elapsed time.Duration, updates int, err error)

	queue      chan *request
	writerDone chan struct{}      // closed when the writer has answered every Update
	stopWriter context.CancelFunc // cancels the writer's connecting
	writerPID  atomic.Uint32      // the writer connection's backend, for tests

	listenCfg  *pgx.ConnConfig
	poll       time.Duration
	stopListen context.CancelFunc
	listenDone chan struct{}
	listenPID  atomic.Uint32 // the LISTEN connection's backend, for tests

	// mu orders Update's enqueue against Close: Update sends while holding
	// it for reading, so once Close holds it for writing and sets closed, no
	// send is in flight and the queue can be closed.
	mu      sync.RWMutex
	closed  bool
	closing chan struct{} // closed by Close
	once    sync.Once

	// known is the highest seq known to be committed, by this node or
	// another; notify is closed and replaced whenever known grows.
	known    atomic.Uint64
	notifyMu sync.Mutex
	notify   chan struct{}

	batches atomic.Int64 // write batches run
	batched atomic.Int64 // Updates those batches carried
}

var _ iotdm.Store = (*DB)(nil)

// Open connects to the database dsn names, brings its schema up to date
// (see migrate), and starts the writer and the change-feed listener.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = int32(max(8, 2*runtime.GOMAXPROCS(0)))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db := &DB{
		logger:     logger,
		pool:       pool,
		onCommit:   opts.OnCommit,
		queue:      make(chan *request, maxBatch),
		writerDone: make(chan struct{}),
		listenCfg:  cfg.ConnConfig.Copy(),
		poll:       opts.pollInterval,
		listenDone: make(chan struct{}),
		closing:    make(chan struct{}),
		notify:     make(chan struct{}),
	}
	if db.poll <= 0 {
		db.poll = defaultPollInterval
	}
	// Listen before anything commits through this DB, and read the head
	// after LISTEN, so that no commit goes unnoticed.
	conn, err := db.connectListener(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	bg := context.WithoutCancel(ctx)
	listenCtx, stopListen := context.WithCancel(bg)
	writerCtx, stopWriter := context.WithCancel(bg)
	db.stopListen, db.stopWriter = stopListen, stopWriter
	w := &writer{db: db, queue: db.queue, cfg: writerConfig(cfg.ConnConfig), bg: bg, stop: writerCtx}
	if err := w.connect(ctx); err != nil {
		stopListen()
		stopWriter()
		closeConn(conn)
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	go w.run()
	go db.listen(listenCtx, conn)
	logger.InfoContext(ctx, "postgres: opened", "host", cfg.ConnConfig.Host, "database", cfg.ConnConfig.Database,
		"seq", db.known.Load(), "max_conns", cfg.MaxConns)
	return db, nil
}

// Pool returns the DB's connection pool, for the other stores of this
// package to share. It is closed by Close.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Update implements iotdm.Store: fn is queued for the writer, which runs it
// inside the next batch (buffering its writes, so a failing fn leaves no
// trace) and answers once the batch has committed. fn runs on the writer
// goroutine; it must not call back into the DB's Update, and it should be
// quick, since the whole batch (and, holding the feed head's lock, every
// node's writes) waits for it. A panic in fn is re-raised in the caller.
//
// Once queued, an Update is always answered by the writer: a nil error means
// fn's writes committed, an error means none of them did (or, if the
// connection broke while COMMIT was in flight, that the outcome is unknown).
// If ctx is done before fn starts, fn is skipped and ctx's error returned.
func (db *DB) Update(ctx context.Context, fn func(ctx context.Context, tx iotdm.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan struct{})}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return errClosed("update")
	}
	select {
	case db.queue <- r:
	case <-ctx.Done():
		db.mu.RUnlock()
		return ctx.Err()
	}
	db.mu.RUnlock()
	<-r.done
	if r.panicked {
		panic(r.panicVal)
	}
	return r.err
}

// Get implements iotdm.Store: one query on the pool, which sees every
// committed Update.
func (db *DB) Get(ctx context.Context, kind, key string) ([]byte, bool, error) {
	if db.isClosed() {
		return nil, false, errClosed("get")
	}
	v, ok, err := getValue(ctx, db.pool, kind, key)
	if err != nil {
		return nil, false, db.closedOr(fmt.Errorf("postgres: %w", err))
	}
	return v, ok, nil
}

// View implements iotdm.Store. fn runs in a REPEATABLE READ READ ONLY
// transaction on one pool connection; seq is read from the feed head as the
// transaction's first statement, which takes its snapshot, so seq names
// exactly the last Change visible to fn.
func (db *DB) View(ctx context.Context, fn func(ctx context.Context, tx iotdm.ReadTx, seq uint64) error) error {
	if db.isClosed() {
		return errClosed("view")
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return db.closedOr(fmt.Errorf("postgres: view: %w", err))
	}
	// A connection left inside the transaction (the ROLLBACK failed) is
	// destroyed by Release, not reused.
	defer conn.Release()
	var seq int64
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	b.Queue(sqlHead).QueryRow(func(row pgx.Row) error { return row.Scan(&seq) })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return db.closedOr(fmt.Errorf("postgres: view: begin: %w", err))
	}
	db.advance(uint64(seq))
	tx := &readTx{conn: conn}
	defer tx.end() // before Release, should fn panic
	err = fn(ctx, tx, uint64(seq))
	tx.end()
	if _, rerr := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
		db.logger.DebugContext(ctx, "postgres: view: rollback", "err", rerr)
	}
	return err
}

// Changes implements iotdm.Store: committed changes, read from the changes
// table. A limit <= 0 means no limit.
func (db *DB) Changes(ctx context.Context, after uint64, limit int) ([]iotdm.Change, error) {
	if db.isClosed() {
		return nil, errClosed("changes")
	}
	if after >= math.MaxInt64 {
		return nil, nil
	}
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	rows, err := db.pool.Query(ctx, sqlChanges, int64(after), lim)
	if err != nil {
		return nil, db.closedOr(fmt.Errorf("postgres: changes after %d: %w", after, err))
	}
	defer rows.Close()
	var out []iotdm.Change
	if limit > 0 {
		out = make([]iotdm.Change, 0, min(limit, 1024))
	}
	for rows.Next() {
		var (
			c     iotdm.Change
			seq   int64
			t     time.Time
			op    string
			value []byte
		)
		if err := rows.Scan(&seq, &t, &op, &c.Kind, &c.Key, &value); err != nil {
			return nil, fmt.Errorf("postgres: changes after %d: %w", after, err)
		}
		c.Seq, c.Time, c.Op = uint64(seq), t.UTC(), iotdm.Op(op)
		if value != nil {
			c.Value = value
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, db.closedOr(fmt.Errorf("postgres: changes after %d: %w", after, err))
	}
	if len(out) > 0 {
		db.advance(out[len(out)-1].Seq)
	}
	return out, nil
}

// LastSeq implements iotdm.Store: the committed feed head.
func (db *DB) LastSeq(ctx context.Context) (uint64, error) {
	if db.isClosed() {
		return 0, errClosed("last seq")
	}
	var seq int64
	if err := db.pool.QueryRow(ctx, sqlHead).Scan(&seq); err != nil {
		return 0, db.closedOr(fmt.Errorf("postgres: last seq: %w", err))
	}
	db.advance(uint64(seq))
	return uint64(seq), nil
}

// Close implements iotdm.Store. It lets the writer finish every Update
// already queued, stops the listener and closes the pool, which waits for
// the connections in use (by a View, say) to come back. It is idempotent
// and safe to call concurrently.
func (db *DB) Close() error {
	db.once.Do(func() {
		db.mu.Lock()
		db.closed = true
		close(db.closing)
		db.mu.Unlock()
		db.stopWriter()
		close(db.queue)
		<-db.writerDone
		db.stopListen()
		<-db.listenDone
		db.pool.Close()
		db.logger.Info("postgres: closed", "seq", db.known.Load(),
			"batches", db.batches.Load(), "updates", db.batched.Load())
	})
	return nil
}

func (db *DB) isClosed() bool {
	select {
	case <-db.closing:
		return true
	default:
		return false
	}
}

// errClosed is the error of op on a closed DB.
func errClosed(op string) error {
	return fmt.Errorf("postgres: %s: %w", op, iotdm.ErrClosed)
}

// closedOr returns err, marked as iotdm.ErrClosed when Close ran meanwhile.
func (db *DB) closedOr(err error) error {
	if db.isClosed() && !errors.Is(err, iotdm.ErrClosed) {
		return fmt.Errorf("%w: %w", iotdm.ErrClosed, err)
	}
	return err
}
