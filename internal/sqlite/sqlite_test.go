package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/sqlite"
	"github.com/iotdm/iotdm/internal/storetest"
)

// testLogger logs through t, at warning level and above.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string) iotdm.Store {
		db, err := sqlite.Open(t.Context(), filepath.Join(dir, "iotdm.db"), testLogger(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return db
	})
}

// TestStoreTinyCache runs the suite with a 4 KiB entity cache: a few dozen
// small entities fit, so most single reads miss and read SQLite, and
// evictions are constant.
func TestStoreTinyCache(t *testing.T) {
	storetest.Run(t, opener(4<<10))
}

// TestStoreNoCache runs the suite with the entity cache off: every single
// read, in Get and inside Updates, reads SQLite.
func TestStoreNoCache(t *testing.T) {
	storetest.Run(t, opener(-1))
}

func opener(cacheBytes int64) storetest.Opener {
	return func(t *testing.T, dir string) iotdm.Store {
		db, err := sqlite.OpenOptions(t.Context(), filepath.Join(dir, "iotdm.db"),
			sqlite.Options{Logger: testLogger(t), CacheBytes: cacheBytes})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return db
	}
}

// TestOpenPathNeedsNoEscaping opens a database whose path holds characters
// that mean something in a URI.
func TestOpenPathNeedsNoEscaping(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?x=1#frag%20")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "my db.sqlite")
	db, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at its path: %v", err)
	}
}

func openTest(t *testing.T) *sqlite.DB {
	t.Helper()
	return openTestAt(t, filepath.Join(t.TempDir(), "iotdm.db"), 0)
}

// openTestAt opens the database at path with a cache of cacheBytes (0: the
// default), closed when the test ends.
func openTestAt(t *testing.T, path string, cacheBytes int64) *sqlite.DB {
	t.Helper()
	db, err := sqlite.OpenOptions(t.Context(), path, sqlite.Options{Logger: testLogger(t), CacheBytes: cacheBytes})
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

// TestUpdatePanic: a panic in fn reaches its caller; the writer, the
// batch and the feed carry on.
func TestUpdatePanic(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	put := func(key string) error {
		return db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
			return tx.Put(ctx, iotdm.KindThing, key, []byte(`{}`))
		})
	}
	if err := put("a"); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if p := recover(); p != "fn panics" {
				t.Errorf("recovered %v, want the fn's panic value", p)
			}
		}()
		_ = db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
			if err := tx.Put(ctx, iotdm.KindThing, "panic", []byte(`{}`)); err != nil {
				return err
			}
			panic("fn panics")
		})
		t.Errorf("Update returned; want it to panic")
	}()
	if err := put("b"); err != nil {
		t.Fatal(err)
	}
	cs, err := db.Changes(ctx, 0, 0)
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

// TestTxUseAfterFn: a Tx kept past its fn refuses work.
func TestTxUseAfterFn(t *testing.T) {
	db := openTest(t)
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
	if seq, _ := db.LastSeq(t.Context()); seq != 0 {
		t.Errorf("LastSeq = %d, want 0", seq)
	}
}

// TestUpdateCanceledWhileQueued: an Update whose ctx ends while it waits
// behind another is skipped, and its fn never runs.
func TestUpdateCanceledWhileQueued(t *testing.T) {
	db := openTest(t)
	running, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
			close(running)
			<-release
			return tx.Put(ctx, iotdm.KindThing, "first", []byte(`{}`))
		})
	}()
	<-running // the writer is busy with the first Update

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

// TestBatching: concurrent Updates share commits.
func TestBatching(t *testing.T) {
	db := openTest(t)
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
	batches, updates := sqlite.BatchStats(db)
	t.Logf("%d Updates in %d batches", updates, batches)
	if updates != 320 || batches >= updates {
		t.Errorf("%d Updates in %d batches, want 320 in fewer batches", updates, batches)
	}
}
