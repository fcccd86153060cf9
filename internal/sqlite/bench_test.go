package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// benchValue is a thing of about 300 bytes, as the registry stores them.
var benchValue = []byte(`{"thingName":"sensor-000042","thingId":"6f1c2b9e-8c41-4a7e-9d0b-3f2a1e5c7d88",` +
	`"thingArn":"arn:aws:iot:eu-west-1:123456789012:thing/sensor-000042","thingTypeName":"temperature-sensor",` +
	`"attributes":{"building":"north","floor":"3","room":"3.14","vendor":"acme"},"version":7,` +
	`"createdAt":"2026-11-29T14:32:00Z"}`)

func openBench(b *testing.B) *sqlite.DB {
	b.Helper()
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "iotdm.db"), testLogger(b))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	return db
}

// BenchmarkUpdateParallel measures durable Updates of one ~300-byte Put
// each from 8×GOMAXPROCS concurrent callers; the writer commits them in
// groups, one WAL sync per group.
func BenchmarkUpdateParallel(b *testing.B) {
	db := openBench(b)
	var n atomic.Int64
	b.SetParallelism(8)
	b.SetBytes(int64(len(benchValue)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			key := "thing-" + strconv.FormatInt(n.Add(1), 10)
			err := db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
				return tx.Put(ctx, iotdm.KindThing, key, benchValue)
			})
			if err != nil {
				b.Errorf("Update: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	if batches, updates := sqlite.BatchStats(db); batches > 0 {
		b.ReportMetric(float64(updates)/float64(batches), "updates/batch")
	}
}

// BenchmarkUpdateSerial measures one caller's durable Updates: every one
// waits for its own WAL sync, so this is the sync latency.
func BenchmarkUpdateSerial(b *testing.B) {
	db := openBench(b)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		key := "thing-" + strconv.Itoa(i)
		err := db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
			return tx.Put(ctx, iotdm.KindThing, key, benchValue)
		})
		if err != nil {
			b.Fatalf("Update: %v", err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// loadThings stores n things in one Update.
func loadThings(b *testing.B, db *sqlite.DB, n int) {
	b.Helper()
	err := db.Update(b.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		for i := range n {
			if err := tx.Put(ctx, iotdm.KindThing, fmt.Sprintf("thing-%06d", i), benchValue); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("load: %v", err)
	}
}

const benchThings = 10000

// BenchmarkGet measures a View that reads one entity out of 10,000.
func BenchmarkGet(b *testing.B) {
	db := openBench(b)
	loadThings(b, db, benchThings)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		key := fmt.Sprintf("thing-%06d", i%benchThings)
		err := db.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
			_, ok, err := tx.Get(ctx, iotdm.KindThing, key)
			if err == nil && !ok {
				err = fmt.Errorf("%s not found", key)
			}
			return err
		})
		if err != nil {
			b.Fatalf("View: %v", err)
		}
	}
}

// BenchmarkStoreGet reads one entity with Store.Get, which answers from the
// entity cache; compare BenchmarkGet, which reads SQLite through View.
func BenchmarkStoreGet(b *testing.B) {
	db := openBench(b)
	loadThings(b, db, benchThings)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		key := fmt.Sprintf("thing-%06d", i%benchThings)
		if _, ok, err := db.Get(ctx, iotdm.KindThing, key); err != nil || !ok {
			b.Fatalf("Get(%s) = %v, %v", key, ok, err)
		}
	}
}

// BenchmarkGetParallel is BenchmarkGet from concurrent readers.
func BenchmarkGetParallel(b *testing.B) {
	db := openBench(b)
	loadThings(b, db, benchThings)
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			key := fmt.Sprintf("thing-%06d", n.Add(1)%benchThings)
			err := db.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
				_, _, err := tx.Get(ctx, iotdm.KindThing, key)
				return err
			})
			if err != nil {
				b.Errorf("View: %v", err)
				return
			}
		}
	})
}

// BenchmarkScan measures a View that scans a page of 100 entities.
func BenchmarkScan(b *testing.B) {
	db := openBench(b)
	loadThings(b, db, benchThings)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		after := fmt.Sprintf("thing-%06d", (i*100)%(benchThings-100))
		err := db.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
			return tx.Scan(ctx, iotdm.KindThing, "thing-", after, 100, func(string, []byte) error { return nil })
		})
		if err != nil {
			b.Fatalf("View: %v", err)
		}
	}
}
