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
	return openBenchCache(b, 0)
}

// openBenchCache opens a fresh database with an entity cache of cacheBytes
// (0: the default, < 0: none).
func openBenchCache(b *testing.B, cacheBytes int64) *sqlite.DB {
	b.Helper()
	db, err := sqlite.OpenOptions(b.Context(), filepath.Join(b.TempDir(), "iotdm.db"),
		sqlite.Options{Logger: testLogger(b), CacheBytes: cacheBytes})
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
// entity cache (the 10,000 things fit the default budget); compare
// BenchmarkGet, which reads SQLite through View.
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

// BenchmarkGetHit measures Store.Get from concurrent readers when every
// entity is in the entity cache (10,000 things of ~300 bytes, well within
// the default budget, cached by the writes' write-through).
func BenchmarkGetHit(b *testing.B) {
	benchStoreGetParallel(b, 0)
}

// BenchmarkGetMiss measures Store.Get from concurrent readers with the
// cache off, so every Get reads SQLite through the read pool: the cost of
// a miss.
func BenchmarkGetMiss(b *testing.B) {
	benchStoreGetParallel(b, -1)
}

func benchStoreGetParallel(b *testing.B, cacheBytes int64) {
	db := openBenchCache(b, cacheBytes)
	loadThings(b, db, benchThings)
	keys := make([]string, benchThings)
	for i := range keys {
		keys[i] = fmt.Sprintf("thing-%06d", i)
	}
	before := db.CacheStats()
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			key := keys[n.Add(7919)%benchThings]
			if _, ok, err := db.Get(ctx, iotdm.KindThing, key); err != nil || !ok {
				b.Errorf("Get(%s) = %v, %v", key, ok, err)
				return
			}
		}
	})
	b.StopTimer()
	st := db.CacheStats()
	if gets := float64((st.Hits - before.Hits) + (st.Misses - before.Misses)); gets > 0 {
		b.ReportMetric(float64(st.Hits-before.Hits)/gets, "hit-ratio")
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

// BenchmarkCreateParallel is BenchmarkUpdateParallel with the existence
// check of a create: each Update first Gets the new key, which is in no
// overlay and not cached, so the writer reads SQLite for it.
func BenchmarkCreateParallel(b *testing.B) {
	db := openBench(b)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			key := "thing-" + strconv.FormatInt(n.Add(1), 10)
			err := db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
				if _, ok, err := tx.Get(ctx, iotdm.KindThing, key); err != nil || ok {
					return fmt.Errorf("existence check of %s: %v, %v", key, ok, err)
				}
				return tx.Put(ctx, iotdm.KindThing, key, benchValue)
			})
			if err != nil {
				b.Errorf("Update: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
