package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/postgres"
	"github.com/iotdm/iotdm/internal/postgres/pgtest"
	"github.com/iotdm/iotdm/internal/storetest"
)

// testLogger logs through t, at warning level and above.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func TestStore(t *testing.T) {
	pgtest.ServerDSN(t) // skip (or fail) the whole suite without a server
	var (
		mu   sync.Mutex
		dsns = map[string]string{} // dir -> its database
	)
	storetest.Run(t, func(t *testing.T, dir string) iotdm.Store {
		mu.Lock()
		dsn, ok := dsns[dir]
		if !ok {
			dsn = pgtest.DSN(t)
			dsns[dir] = dsn
		}
		mu.Unlock()
		db, err := postgres.Open(t.Context(), dsn, postgres.Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return db
	})
}

// open opens a DB on dsn, closed when the test ends.
func open(t testing.TB, dsn string) *postgres.DB {
	t.Helper()
	return openWith(t, dsn, postgres.Options{Logger: testLogger(t)}, 0)
}

// openWith opens a DB with opts and, unless 0, the listener polling every
// poll; closed when the test ends.
func openWith(t testing.TB, dsn string, opts postgres.Options, poll time.Duration) *postgres.DB {
	t.Helper()
	var (
		db  *postgres.DB
		err error
	)
	if poll > 0 {
		db, err = postgres.OpenPolling(t.Context(), dsn, opts, poll)
	} else {
		db, err = postgres.Open(t.Context(), dsn, opts)
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func put(t testing.TB, db iotdm.Store, key, value string) {
	t.Helper()
	err := db.Update(context.Background(), func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Put(ctx, iotdm.KindThing, key, []byte(value))
	})
	if err != nil {
		t.Fatalf("Update put %s: %v", key, err)
	}
}

// waitFor runs Wait(after) on db and returns how long it took, failing t
// if it does not return within limit.
func waitFor(t *testing.T, db iotdm.Store, after uint64, limit time.Duration, commit func()) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	errc := make(chan error, 1)
	waiting := make(chan struct{})
	go func() {
		close(waiting)
		errc <- db.Wait(ctx, after)
	}()
	<-waiting
	time.Sleep(10 * time.Millisecond) // let Wait block
	start := time.Now()
	commit()
	err := <-errc
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Wait(%d): %v after %v", after, err, took)
	}
	return took
}

// TestTwoNodes runs two DBs ("nodes") on one database: Updates from both
// interleave gap-free, read-modify-write serializes across them, and each
// follows the other's writes through Wait, Changes and Follow.
func TestTwoNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	nodes := []*postgres.DB{open(t, dsn), open(t, dsn)}

	// Node 1 follows the feed from the start.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	followed := make(chan iotdm.Change, 4096)
	followErr := make(chan error, 1)
	go func() {
		followErr <- iotdm.Follow(ctx, nodes[1], 0, func(c iotdm.Change) error {
			followed <- c
			return nil
		})
	}()

	const perNode, goroutines, each = 2, 8, 25
	var wg sync.WaitGroup
	var writes atomic.Int64
	for n, db := range nodes {
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					// Each Update bumps the shared counter and writes a key
					// of its own: two changes.
					err := db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
						v, _, err := tx.Get(ctx, iotdm.KindAccount, "counter")
						if err != nil {
							return err
						}
						var c int
						if v != nil {
							if _, err := fmt.Sscan(string(v), &c); err != nil {
								return err
							}
						}
						if err := tx.Put(ctx, iotdm.KindAccount, "counter", fmt.Append(nil, c+1)); err != nil {
							return err
						}
						return tx.Put(ctx, iotdm.KindThing, fmt.Sprintf("n%d/g%02d/%03d", n, g, i), []byte(`{}`))
					})
					if err != nil {
						t.Errorf("node %d Update: %v", n, err)
						return
					}
					writes.Add(2)
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	const updates = perNode * goroutines * each
	total := uint64(2 * updates)

	for n, db := range nodes {
		v, ok, err := db.Get(t.Context(), iotdm.KindAccount, "counter")
		if err != nil || !ok || string(v) != fmt.Sprint(updates) {
			t.Errorf("node %d: counter = %s, %v, %v; want %d (read-modify-write serialized across nodes)", n, v, ok, err, updates)
		}
		seq, err := db.LastSeq(t.Context())
		if err != nil || seq != total {
			t.Errorf("node %d: LastSeq = %d, %v; want %d", n, seq, err, total)
		}
	}
	var feeds [2][]iotdm.Change
	for n, db := range nodes {
		cs, err := db.Changes(t.Context(), 0, 0)
		if err != nil {
			t.Fatalf("node %d Changes: %v", n, err)
		}
		feeds[n] = cs
		for i, c := range cs {
			if c.Seq != uint64(i+1) {
				t.Fatalf("node %d: change %d has seq %d: want gap-free", n, i, c.Seq)
			}
		}
		// Each Update's two changes are adjacent, and the counter counts up.
		for i := 0; i+1 < len(cs); i += 2 {
			if cs[i].Key != "counter" || string(cs[i].Value) != fmt.Sprint(i/2+1) || cs[i+1].Kind != iotdm.KindThing {
				t.Fatalf("node %d: changes %d,%d = %s=%s, %s: want counter %d then a thing", n, cs[i].Seq, cs[i+1].Seq, cs[i].Key, cs[i].Value, cs[i+1].Key, i/2+1)
			}
		}
	}
	if diff := cmp.Diff(feeds[0], feeds[1]); diff != "" {
		t.Errorf("the nodes' feeds differ (-node 0 +node 1):\n%s", diff)
	}
	if uint64(len(feeds[0])) != total {
		t.Fatalf("%d changes, want %d", len(feeds[0]), total)
	}

	// Node 1's Follow delivered all of it, in order.
	timeout := time.After(10 * time.Second)
	for i := range total {
		select {
		case c := <-followed:
			if c.Seq != i+1 {
				t.Fatalf("Follow delivered seq %d, want %d", c.Seq, i+1)
			}
		case err := <-followErr:
			t.Fatalf("Follow returned %v", err)
		case <-timeout:
			t.Fatalf("Follow delivered %d of %d changes", i, total)
		}
	}

	// Live: a write on either node wakes the other's Wait promptly.
	for i := range 10 {
		from, to := nodes[i%2], nodes[1-i%2]
		after := total + uint64(i)
		took := waitFor(t, to, after, 5*time.Second, func() { put(t, from, fmt.Sprintf("live%d", i), `{}`) })
		if took > time.Second {
			t.Errorf("Wait on the other node took %v", took)
		}
		select {
		case c := <-followed:
			if c.Seq != after+1 {
				t.Errorf("Follow delivered seq %d, want %d", c.Seq, after+1)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Follow did not deliver seq %d", after+1)
		}
	}
	cancel()
	if err := <-followErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Follow returned %v, want context.Canceled", err)
	}
}

// TestWaitWakesByNotification: with polling out of the way, only the
// notification of another node's commit can wake Wait, within milliseconds.
func TestWaitWakesByNotification(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn)
	b := openWith(t, dsn, postgres.Options{Logger: testLogger(t)}, time.Hour)
	var lags []time.Duration
	for i := range 20 {
		lags = append(lags, waitFor(t, b, uint64(i), 5*time.Second, func() { put(t, a, fmt.Sprint(i), `{}`) }))
	}
	slices.Sort(lags)
	t.Logf("commit on one node to Wait returning on the other: median %v, max %v", lags[len(lags)/2], lags[len(lags)-1])
	if lags[len(lags)/2] > 200*time.Millisecond {
		t.Errorf("median wake-up %v, want milliseconds", lags[len(lags)/2])
	}
}

// TestListenerReconnects: when the LISTEN connection breaks, the listener
// reconnects and Wait still wakes.
func TestListenerReconnects(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := open(t, dsn)
	b := openWith(t, dsn, postgres.Options{Logger: testLogger(t)}, time.Hour)
	put(t, a, "first", `{}`)
	if err := b.Wait(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		pid := postgres.ListenerPID(b)
		var ok bool
		if err := a.Pool().QueryRow(t.Context(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
			t.Fatalf("terminate listener %d: %v, %v", pid, ok, err)
		}
		after := uint64(round + 1)
		took := waitFor(t, b, after, 10*time.Second, func() { put(t, a, fmt.Sprint("after", round), `{}`) })
		t.Logf("round %d: woke %v after the commit", round, took)
		deadline := time.Now().Add(10 * time.Second)
		for postgres.ListenerPID(b) == pid && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if postgres.ListenerPID(b) == pid {
			t.Fatalf("listener still on terminated backend %d", pid)
		}
	}
}

// TestWriterReconnects: when the writer's connection breaks, the next
// Update fails or, once the connection has been idle long enough to be
// checked first, succeeds; either way the writer carries on with a new
// connection and the feed stays gap-free.
func TestWriterReconnects(t *testing.T) {
	dsn := pgtest.DSN(t)
	db, other := open(t, dsn), open(t, dsn)
	terminate := func() {
		t.Helper()
		pid := postgres.WriterPID(db)
		var ok bool
		if err := other.Pool().QueryRow(t.Context(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
			t.Fatalf("terminate writer %d: %v, %v", pid, ok, err)
		}
	}
	put(t, db, "a", `{}`)

	// Broken while busy: the next Update may fail, the one after succeeds.
	terminate()
	if err := db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Put(ctx, iotdm.KindThing, "maybe", []byte(`{}`))
	}); err != nil {
		t.Logf("Update on the broken connection: %v", err)
	}
	put(t, db, "b", `{}`)

	// Broken while idle: checked before use.
	terminate()
	time.Sleep(1200 * time.Millisecond)
	put(t, db, "c", `{}`)

	cs, err := other.Changes(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i, c := range cs {
		if c.Seq != uint64(i+1) {
			t.Errorf("change %d has seq %d", i, c.Seq)
		}
		keys = append(keys, c.Key)
	}
	if k := slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "maybe" }); !slices.Equal(k, []string{"a", "b", "c"}) {
		t.Errorf("feed keys %q, want a, b, c (and perhaps maybe)", keys)
	}
}

// TestPollFindsLostNotification: a commit whose notification never comes
// (written here by hand, without pg_notify) still wakes Wait, through the
// listener's poll of the feed head.
func TestPollFindsLostNotification(t *testing.T) {
	dsn := pgtest.DSN(t)
	db := openWith(t, dsn, postgres.Options{Logger: testLogger(t)}, 50*time.Millisecond)
	took := waitFor(t, db, 0, 5*time.Second, func() {
		err := pgx.BeginFunc(t.Context(), db.Pool(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(t.Context(), "SELECT seq FROM feed_head FOR UPDATE"); err != nil {
				return err
			}
			if _, err := tx.Exec(t.Context(), "INSERT INTO entities VALUES ('thing', 'quiet', '{}')"); err != nil {
				return err
			}
			if _, err := tx.Exec(t.Context(), "INSERT INTO changes VALUES (1, now(), 'put', 'thing', 'quiet', '{}')"); err != nil {
				return err
			}
			_, err := tx.Exec(t.Context(), "UPDATE feed_head SET seq = 1")
			return err
		})
		if err != nil {
			t.Fatalf("silent commit: %v", err)
		}
	})
	t.Logf("Wait found the silent commit after %v", took)
	cs, err := db.Changes(t.Context(), 0, 0)
	if err != nil || len(cs) != 1 || cs[0].Key != "quiet" {
		t.Errorf("Changes = %+v, %v", cs, err)
	}
}

// TestUpdatesSerializeAcrossNodes: while one node's Update holds the write
// lock, another node's Update waits for it and then reads its write.
func TestUpdatesSerializeAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn), open(t, dsn)
	put(t, a, "x", "0")
	inside, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- a.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
			if _, _, err := tx.Get(ctx, iotdm.KindThing, "x"); err != nil { // takes the lock
				return err
			}
			close(inside)
			<-release
			return tx.Put(ctx, iotdm.KindThing, "x", []byte("1"))
		})
	}()
	<-inside
	var seen atomic.Value
	bDone := make(chan error, 1)
	go func() {
		bDone <- b.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
			v, _, err := tx.Get(ctx, iotdm.KindThing, "x")
			if err != nil {
				return err
			}
			seen.Store(string(v))
			return tx.Put(ctx, iotdm.KindThing, "x", append(v, '+'))
		})
	}()
	select {
	case err := <-bDone:
		t.Fatalf("node b's Update returned %v while node a held the lock", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-aDone; err != nil {
		t.Fatalf("node a: %v", err)
	}
	if err := <-bDone; err != nil {
		t.Fatalf("node b: %v", err)
	}
	if got := seen.Load(); got != "1" {
		t.Errorf("node b read x = %v, want node a's 1", got)
	}
	v, _, err := a.Get(t.Context(), iotdm.KindThing, "x")
	if err != nil || string(v) != "1+" {
		t.Errorf("x = %s, %v; want 1+", v, err)
	}
}

// TestUpdatePanic: a panic in fn reaches its caller; the writer, the
// batch and the feed carry on.
func TestUpdatePanic(t *testing.T) {
	db := open(t, pgtest.DSN(t))
	put(t, db, "a", `{}`)
	func() {
		defer func() {
			if p := recover(); p != "fn panics" {
				t.Errorf("recovered %v, want the fn's panic value", p)
			}
		}()
		_ = db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
			if err := tx.Put(ctx, iotdm.KindThing, "panic", []byte(`{}`)); err != nil {
				return err
			}
			panic("fn panics")
		})
		t.Errorf("Update returned; want it to panic")
	}()
	put(t, db, "b", `{}`)
	cs, err := db.Changes(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%d %s", c.Seq, c.Key))
	}
	if diff := cmp.Diff([]string{"1 a", "2 b"}, got); diff != "" {
		t.Errorf("feed (-want +got):\n%s", diff)
	}
}

// TestTxUseAfterFn: a Tx or ReadTx kept past its fn refuses work.
func TestTxUseAfterFn(t *testing.T) {
	db := open(t, pgtest.DSN(t))
	var kept iotdm.Tx
	if err := db.Update(t.Context(), func(_ context.Context, tx iotdm.Tx) error {
		kept = tx
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := kept.Put(t.Context(), iotdm.KindThing, "late", []byte(`{}`)); err == nil {
		t.Errorf("Put on a Tx after its fn returned succeeded")
	}
	var keptRead iotdm.ReadTx
	if err := db.View(t.Context(), func(_ context.Context, tx iotdm.ReadTx, _ uint64) error {
		keptRead = tx
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := keptRead.Get(t.Context(), iotdm.KindThing, "late"); err == nil {
		t.Errorf("Get on a ReadTx after its fn returned succeeded")
	}
	if seq, _ := db.LastSeq(t.Context()); seq != 0 {
		t.Errorf("LastSeq = %d, want 0", seq)
	}
}

// TestUpdateCanceledWhileQueued: an Update whose ctx ends while it waits
// behind another is skipped, and its fn never runs.
func TestUpdateCanceledWhileQueued(t *testing.T) {
	db := open(t, pgtest.DSN(t))
	running, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
			close(running)
			<-release
			return tx.Put(ctx, iotdm.KindThing, "first", []byte(`{}`))
		})
	}()
	<-running
	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan error, 1)
	ran := make(chan struct{}, 1)
	go func() {
		second <- db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
			ran <- struct{}{}
			return tx.Put(ctx, iotdm.KindThing, "second", []byte(`{}`))
		})
	}()
	time.Sleep(20 * time.Millisecond) // let the second Update queue
	cancel()
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first Update: %v", err)
	}
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Errorf("second Update returned %v, want context.Canceled", err)
	}
	select {
	case <-ran:
		t.Errorf("the canceled Update's fn ran")
	default:
	}
	if seq, _ := db.LastSeq(t.Context()); seq != 1 {
		t.Errorf("LastSeq = %d, want 1", seq)
	}
}

// TestBatching: concurrent Updates share commits, and OnCommit sees each
// commit with the Updates it carried.
func TestBatching(t *testing.T) {
	var commits, committed atomic.Int64
	db := openWith(t, pgtest.DSN(t), postgres.Options{
		Logger: testLogger(t),
		OnCommit: func(_ time.Duration, updates int, err error) {
			if err != nil {
				t.Errorf("OnCommit: %v", err)
			}
			commits.Add(1)
			committed.Add(int64(updates))
		},
	}, 0)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				key := fmt.Sprintf("%d/%d", g, i)
				if err := db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
					return tx.Put(ctx, iotdm.KindThing, key, []byte(`{}`))
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	batches, updates := postgres.BatchStats(db)
	t.Logf("%d Updates in %d batches", updates, batches)
	if updates != 320 || batches >= updates {
		t.Errorf("%d Updates in %d batches, want 320 in fewer batches", updates, batches)
	}
	if committed.Load() != 320 || commits.Load() != batches {
		t.Errorf("OnCommit saw %d Updates in %d commits, want 320 in %d", committed.Load(), commits.Load(), batches)
	}
}

// TestTextKeys: PostgreSQL text holds valid UTF-8 without NUL. A Put of
// anything else fails alone; Get, Delete and Scan treat such keys as absent,
// and a Scan bound inside a multi-byte character still finds its keys.
func TestTextKeys(t *testing.T) {
	db := open(t, pgtest.DSN(t))
	ctx := t.Context()
	for _, key := range []string{"é", "éa", "ê", "\u00bf", "\u00c0", "z", "\U0010ffff"} {
		put(t, db, key, fmt.Sprintf("%q", key))
	}
	var wg sync.WaitGroup
	for i, bad := range []string{"a\x00b", "\xff", "é\xc3"} {
		wg.Go(func() {
			err := db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
				if err := tx.Put(ctx, iotdm.KindThing, bad, []byte(`{}`)); err == nil {
					t.Errorf("Put %q succeeded", bad)
				}
				if v, ok, err := tx.Get(ctx, iotdm.KindThing, bad); ok || err != nil {
					t.Errorf("Tx Get %q = %s, %v, %v", bad, v, ok, err)
				}
				if err := tx.Delete(ctx, iotdm.KindThing, bad); err != nil {
					t.Errorf("Delete %q: %v", bad, err)
				}
				return tx.Put(ctx, iotdm.KindThing, fmt.Sprint("good", i), []byte(`{}`))
			})
			if err != nil {
				t.Errorf("Update with a refused Put: %v", err)
			}
			if v, ok, err := db.Get(ctx, iotdm.KindThing, bad); ok || err != nil {
				t.Errorf("Get %q = %s, %v, %v", bad, v, ok, err)
			}
		})
	}
	wg.Wait()
	scan := func(prefix, after string) []string {
		var keys []string
		err := db.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
			return tx.Scan(ctx, iotdm.KindThing, prefix, after, 0, func(key string, _ []byte) error {
				keys = append(keys, key)
				return nil
			})
		})
		if err != nil {
			t.Fatalf("Scan %q after %q: %v", prefix, after, err)
		}
		return keys
	}
	for _, tc := range []struct {
		prefix, after string
		want          []string
	}{
		{"\xc3", "", []string{"\u00c0", "é", "éa", "ê"}}, // a prefix inside a character
		{"\xc3\xa9", "", []string{"é", "éa"}},
		{"\xc2", "", []string{"\u00bf"}}, // the prefix's end, c3, is not text either
		{"", "\xc3", []string{"\u00c0", "é", "éa", "ê", "\U0010ffff"}},
		{"", "é\x00", []string{"éa", "ê", "\U0010ffff"}},
		{"\xf4\x8f\xbf", "", []string{"\U0010ffff"}},
		{"a\x00", "", nil},
		{"\xff", "", nil},
	} {
		if diff := cmp.Diff(tc.want, scan(tc.prefix, tc.after)); diff != "" {
			t.Errorf("Scan prefix %q after %q (-want +got):\n%s", tc.prefix, tc.after, diff)
		}
	}
}
