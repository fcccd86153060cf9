package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/postgres"
	"github.com/iotdm/iotdm/internal/postgres/pgtest"
)

// benchValue is a small thing, as the registry stores it.
var benchValue = []byte(`{"thingName":"sensor-0001","thingId":"7d3c1b0e","version":1,"attributes":{"site":"lab"}}`)

// BenchmarkUpdate measures Updates of one small Put each: one caller at a
// time (serial: every Update is its own commit, one round trip), and
// 8×GOMAXPROCS concurrent callers (parallel: group commit; updates/commit
// says how many Updates a commit carried on average).
func BenchmarkUpdate(b *testing.B) {
	db := openWith(b, pgtest.DSN(b), postgres.Options{}, 0)
	var n atomic.Int64
	update := func(b *testing.B) {
		key := fmt.Sprintf("t%08d", n.Add(1))
		err := db.Update(context.Background(), func(ctx context.Context, tx iotdm.Tx) error {
			return tx.Put(ctx, iotdm.KindThing, key, benchValue)
		})
		if err != nil {
			b.Error(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			update(b)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		batches0, updates0 := postgres.BatchStats(db)
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				update(b)
			}
		})
		batches, updates := postgres.BatchStats(db)
		if batches > batches0 {
			b.ReportMetric(float64(updates-updates0)/float64(batches-batches0), "updates/commit")
		}
	})
}

// BenchmarkFeedLag commits one small Put at a time on one DB and waits for
// a second DB on the same database (another node) to deliver it through
// iotdm.Follow (Wait, then Changes). ns/op is the whole round: commit plus
// propagation. lag-µs is the median time from the writer's Update returning
// to the other node delivering the change (p99-lag-µs its 99th percentile).
func BenchmarkFeedLag(b *testing.B) {
	dsn := pgtest.DSN(b)
	writer := openWith(b, dsn, postgres.Options{}, 0)
	reader := openWith(b, dsn, postgres.Options{}, 0)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	start, err := reader.LastSeq(ctx)
	if err != nil {
		b.Fatal(err)
	}
	type delivery struct {
		seq uint64
		at  time.Time
	}
	delivered := make(chan delivery, 1024)
	go func() {
		_ = iotdm.Follow(ctx, reader, start, func(c iotdm.Change) error {
			delivered <- delivery{c.Seq, time.Now()}
			return nil
		})
	}()
	var lags []time.Duration
	seq := start
	for b.Loop() {
		seq++
		key := fmt.Sprintf("t%08d", seq)
		err := writer.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
			return tx.Put(ctx, iotdm.KindThing, key, benchValue)
		})
		committed := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		select {
		case d := <-delivered:
			if d.seq != seq {
				b.Fatalf("delivered seq %d, want %d", d.seq, seq)
			}
			lags = append(lags, d.at.Sub(committed))
		case <-time.After(10 * time.Second):
			b.Fatalf("seq %d not delivered on the other node", seq)
		}
	}
	b.StopTimer()
	slices.Sort(lags)
	if len(lags) > 0 {
		b.ReportMetric(float64(lags[len(lags)/2].Nanoseconds())/1e3, "lag-µs")
		b.ReportMetric(float64(lags[len(lags)*99/100].Nanoseconds())/1e3, "p99-lag-µs")
	}
}
