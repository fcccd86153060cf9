package postgres

import (
	"context"
	"testing"

	"github.com/iotdm/iotdm/internal/logstoretest"
	"github.com/iotdm/iotdm/internal/postgres/pgtest"
)

// TestLogEventStore runs the suite; each store of a database has a pool of
// its own, as each node of a deployment has.
func TestLogEventStore(t *testing.T) {
	logstoretest.Run(t, func(t testing.TB) logstoretest.Opener {
		dsn := migratedDatabase(t)
		return func(t testing.TB) logstoretest.Store {
			t.Helper()
			s, err := OpenLogEventStore(context.Background(), poolOf(t, dsn))
			if err != nil {
				t.Fatalf("OpenLogEventStore: %v", err)
			}
			return s
		}
	})
}

func TestLogEventStoreNeedsItsTables(t *testing.T) {
	pool := poolOf(t, pgtest.DSN(t)) // not migrated
	if _, err := OpenLogEventStore(t.Context(), pool); err == nil {
		t.Fatal("OpenLogEventStore on a database without the log event tables succeeded")
	}
}
