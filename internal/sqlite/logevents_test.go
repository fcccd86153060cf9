package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/logstoretest"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// TestLogEventStore runs the suite. A deployment has one log event store
// per database file (the store writes through a connection of its own, and
// SQLite's busy wait is not fair between two such writers: one appending
// in a loop can starve the other), so the suite's stores of one database
// are that one store.
func TestLogEventStore(t *testing.T) {
	logstoretest.Run(t, func(t testing.TB) logstoretest.Opener {
		db := openTestDB(t)
		s, err := sqlite.OpenLogEventStore(context.Background(), db)
		if err != nil {
			t.Fatalf("OpenLogEventStore: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close log events: %v", err)
			}
		})
		return func(testing.TB) logstoretest.Store { return sharedLogEvents{s} }
	})
}

// sharedLogEvents is a LogEventStore that its opener closes.
type sharedLogEvents struct{ *sqlite.LogEventStore }

func (sharedLogEvents) Close() error { return nil }

// openLogEvents opens a DB and its log event store in a fresh directory.
func openLogEvents(t *testing.T) (*sqlite.DB, *sqlite.LogEventStore) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "iotdm.db"), testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s, err := sqlite.OpenLogEventStore(t.Context(), db)
	if err != nil {
		t.Fatalf("OpenLogEventStore: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close log events: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db, s
}

// TestLogEventStoreBesideWriter appends events while the DB's writer
// commits Updates: the two writers of the file take turns.
func TestLogEventStoreBesideWriter(t *testing.T) {
	db, s := openLogEvents(t)
	ctx := t.Context()
	g := iotdm.LogGroupRef{Name: "g", Created: 1}
	if err := s.CreateStream(ctx, g, iotdm.StoredLogStream{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if w%2 == 0 {
					err := db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
						return tx.Put(ctx, "thing", fmt.Sprintf("t%d-%d", w, i), []byte(`{}`))
					})
					if err != nil {
						errs <- err
						return
					}
					continue
				}
				if _, err := s.Append(ctx, g, "s", 1, []iotdm.NewLogEvent{{Timestamp: int64(i), Message: strings.Repeat("m", 10)}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, _, _ := s.Stream(ctx, g, "s")
	if st.Events != 100 || st.StoredBytes != 1000 {
		t.Errorf("stream = %+v, want 100 events of 1000 bytes", st)
	}
}
