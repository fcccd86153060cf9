// Package sqlite is the embedded iotdm.Store: one SQLite database file in
// WAL mode, written by a single goroutine that commits concurrent Updates
// together (group commit) and read through a pool of read-only connections.
//
// Every commit is durable when Update returns: the WAL is synced before the
// callers of a batch are answered (by the syncer, pipelined with the next
// batch; see writer).
//
// A database file must be opened by one DB at a time; the DB's writer keeps
// the change feed's seq counter in memory.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotdm/iotdm"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// busyTimeoutMillis is how long a connection waits for a lock held by
// another connection before failing with SQLITE_BUSY. With one writer and
// WAL readers this only matters around checkpoints and recovery.
const busyTimeoutMillis = 10000

// DB is an iotdm.Store backed by one SQLite database file.
type DB struct {
	logger *slog.Logger
	path   string

	writes  *sql.DB // holds the writer's one connection
	readers *sql.DB // read-only connections for View, Changes
	read    readStmts
	maxSeq  *sql.Stmt
	changes *sql.Stmt

	onCommit func(elapsed time.Duration, updates int, err error) // Options.OnCommit

	cache  *entityCache  // recently used committed entities, bounded; see cache.go
	recent recentChanges // the latest published changes; see recent.go

	// afterMissRead, when set (by tests), runs in Get between a miss's read
	// of SQLite and its fill of the cache.
	afterMissRead func()

	w          *writer
	queue      chan *request
	syncQ      chan *syncBatch // writer to syncer, closed by the writer
	idle       chan struct{}   // syncer to writer: one token, held by the batch being synced
	wal        *os.File        // the WAL file, synced by the syncer
	writerDone chan struct{}   // closed when the syncer has answered the last batch

	brokenMu  sync.Mutex
	brokenErr error // a failed WAL sync; writes are refused after it

	// mu orders Update's enqueue against Close: Update sends while holding
	// it for reading, so once Close holds it for writing and sets closed, no
	// send is in flight and the queue can be closed.
	mu      sync.RWMutex
	closed  bool
	closing chan struct{} // closed by Close
	once    sync.Once
	err     error // Close's result

	batches  atomic.Int64  // write batches run, for Close's log and tests
	batched  atomic.Int64  // Updates those batches carried
	seq      atomic.Uint64 // last committed seq
	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after each commit
}

var _ iotdm.Store = (*DB)(nil)

// Options configure OpenOptions.
type Options struct {
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// CacheBytes bounds the entity cache (see docs/store.md): 0 means
	// DefaultCacheBytes, a negative value turns the cache off, so every
	// single read goes to SQLite.
	CacheBytes int64
	// OnCommit, when set, is called for every commit that wrote something
	// or failed, once it is durable (or known to have failed): elapsed from
	// the start of the commit to the WAL synced, the number of Updates it
	// carried, and why it failed. It runs on the syncer goroutine, before
	// the commit's callers are answered, so it must be quick; for metrics.
	OnCommit func(elapsed time.Duration, updates int, err error)
}

// Open opens (creating if needed) the database at path, brings its schema
// up to date and starts the writer, with the default Options but logger.
// logger may be nil.
func Open(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	return OpenOptions(ctx, path, Options{Logger: logger})
}

// OpenOptions is Open with every option. Nothing is read into memory at
// open: the entity cache starts empty and fills as entities are written and
// read.
func OpenOptions(ctx context.Context, path string, opts Options) (*DB, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db := &DB{
		logger:     logger,
		path:       abs,
		queue:      make(chan *request, maxBatch),
		syncQ:      make(chan *syncBatch, 1),
		idle:       make(chan struct{}, 1),
		writerDone: make(chan struct{}),
		closing:    make(chan struct{}),
		notify:     make(chan struct{}),
		cache:      newEntityCache(opts.CacheBytes),
		onCommit:   opts.OnCommit,
	}
	if err := db.open(ctx); err != nil {
		db.closeHandles()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	go db.w.run()
	go db.syncLoop(db.wal)
	logger.InfoContext(ctx, "sqlite: opened", "path", abs, "seq", db.seq.Load(), "cache_bytes", db.cache.budget)
	return db, nil
}

// open opens the connections, migrates, prepares the statements and loads
// the seq counter. On error the caller releases what was opened.
func (db *DB) open(ctx context.Context) error {
	var err error
	// The writer: one connection, kept open for the DB's life.
	db.writes, err = sql.Open("sqlite", dsn(db.path, false))
	if err != nil {
		return err
	}
	db.writes.SetMaxOpenConns(1)
	db.writes.SetMaxIdleConns(1)
	db.writes.SetConnMaxLifetime(0)
	db.writes.SetConnMaxIdleTime(0)
	conn, err := db.writes.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	db.w = &writer{db: db, conn: conn, bg: context.Background(), queue: db.queue, syncQ: db.syncQ, idle: db.idle}
	db.idle <- struct{}{}
	if err := checkPragmas(ctx, conn); err != nil {
		return err
	}
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	if err := migrate(ctx, conn, ms, db.logger); err != nil {
		return err
	}
	// A new database file is durable only once its directory entry is.
	if err := syncDir(filepath.Dir(db.path)); err != nil {
		return err
	}
	if err := db.w.st.prepare(ctx, conn); err != nil {
		return err
	}
	var last int64
	if err := conn.QueryRowContext(ctx, sqlMaxSeq).Scan(&last); err != nil {
		return fmt.Errorf("read last seq: %w", err)
	}
	db.w.last = uint64(last)
	db.seq.Store(uint64(last))
	// The syncer makes commits durable by syncing the WAL file itself; the
	// file lives as long as a connection to the database is open.
	db.wal, err = os.OpenFile(db.path+"-wal", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open WAL: %w", err)
	}

	// The readers: opened after the writer has put the file in WAL mode.
	db.readers, err = sql.Open("sqlite", dsn(db.path, true))
	if err != nil {
		return err
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	db.readers.SetMaxOpenConns(n)
	db.readers.SetMaxIdleConns(n)
	db.readers.SetConnMaxIdleTime(0)
	db.readers.SetConnMaxLifetime(0)
	db.read.prepare(ctx, db.readers, &err)
	prepare(ctx, db.readers, &db.maxSeq, sqlMaxSeq, &err)
	prepare(ctx, db.readers, &db.changes, sqlChanges, &err)
	return err
}

// dsn is the driver's name for the database at the absolute path: a file:
// URI (so any character in the path is escaped) with the connection's
// pragmas. Readers open the file read-only.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Set("mode", "rwc")
		q.Add("_pragma", "journal_mode(WAL)")
		// NORMAL: COMMIT does not sync the WAL; the syncer does, before any
		// caller of the batch is answered, so commits stay durable while
		// the writer goes on with the next batch (see writer).
		q.Add("_pragma", "synchronous(NORMAL)")
		// Cap the WAL file left behind after a checkpoint.
		q.Add("_pragma", "journal_size_limit(67108864)")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// syncDir flushes the directory dir to stable storage.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// checkPragmas verifies the writer got the durability it asked for: SQLite
// silently keeps another journal mode where WAL is unavailable.
func checkPragmas(ctx context.Context, conn *sql.Conn) error {
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	var syncMode int
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if syncMode != 1 { // NORMAL; the syncer syncs the WAL, see writer
		return fmt.Errorf("synchronous is %d, want 1 (NORMAL)", syncMode)
	}
	return nil
}

// Update implements iotdm.Store: fn is queued for the writer, which runs it
// inside the next batch (buffering its writes, so a failing fn leaves no
// trace) and answers once the batch has committed durably. fn runs on the writer goroutine; it must not call back
// into the DB's Update, and it should be quick, since the whole batch waits
// for it. A panic in fn is re-raised in the caller.
//
// Once queued, an Update is always answered by the writer: a nil error means
// fn's writes committed, an error means none of them did. If ctx is done
// before fn starts, fn is skipped and ctx's error returned.
func (db *DB) Update(ctx context.Context, fn func(ctx context.Context, tx iotdm.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan struct{})}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return iotdm.ErrClosed
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

// Wait implements iotdm.Store without polling: the writer closes the
// current notify channel after every commit that added changes.
func (db *DB) Wait(ctx context.Context, after uint64) error {
	for {
		if db.isClosed() {
			return iotdm.ErrClosed
		}
		// Take the channel before reading seq: a commit that lands after
		// the read closes this channel (or one taken later), so no wake-up
		// is lost.
		db.notifyMu.Lock()
		ch := db.notify
		db.notifyMu.Unlock()
		if db.seq.Load() > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-db.closing:
			return iotdm.ErrClosed
		}
	}
}

// publish makes seq the last committed seq and wakes every Wait.
func (db *DB) publish(seq uint64) {
	db.seq.Store(seq)
	db.notifyMu.Lock()
	close(db.notify)
	db.notify = make(chan struct{})
	db.notifyMu.Unlock()
}

// Close implements iotdm.Store. It lets the writer finish every Update
// already queued, then closes the database. It is idempotent and safe to
// call concurrently; every call returns the first call's result.
func (db *DB) Close() error {
	db.once.Do(func() {
		db.mu.Lock()
		db.closed = true
		close(db.closing)
		db.mu.Unlock()
		close(db.queue)
		<-db.writerDone
		db.err = db.closeHandles()
		if db.err != nil {
			db.err = fmt.Errorf("sqlite: close %s: %w", db.path, db.err)
		}
		db.logger.Info("sqlite: closed", "path", db.path, "seq", db.seq.Load(),
			"batches", db.batches.Load(), "updates", db.batched.Load(), "err", db.err)
	})
	return db.err
}

// closeHandles closes whatever open managed to open, readers first, so the
// writer's connection is the last one and checkpoints the WAL into the file.
func (db *DB) closeHandles() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(db.read.close())
	add(closeStmts(db.maxSeq, db.changes))
	if db.readers != nil {
		add(db.readers.Close())
	}
	if db.w != nil {
		add(db.w.st.close())
		if db.w.conn != nil {
			add(db.w.conn.Close())
		}
	}
	if db.writes != nil {
		add(db.writes.Close())
	}
	if db.wal != nil {
		add(db.wal.Close())
	}
	return errors.Join(errs...)
}

func (db *DB) isClosed() bool {
	select {
	case <-db.closing:
		return true
	default:
		return false
	}
}

// closedOr returns err, marked as iotdm.ErrClosed when Close ran meanwhile.
func (db *DB) closedOr(err error) error {
	if db.isClosed() {
		return fmt.Errorf("%w: %w", iotdm.ErrClosed, err)
	}
	return err
}
