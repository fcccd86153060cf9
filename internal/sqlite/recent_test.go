package sqlite

import (
	"testing"
	"time"

	"github.com/iotdm/iotdm"
)

// TestRecentChangesWrapsAround checks the in-memory tail of the feed: reads
// inside it are served in order, reads that start before it are refused (so
// the store falls back to SQLite), and it keeps only the latest recentCap.
func TestRecentChangesWrapsAround(t *testing.T) {
	var r recentChanges
	if _, ok := r.read(0, 1, 0); ok {
		t.Fatal("read from an empty ring succeeded")
	}
	at := time.Unix(1, 0).UTC()
	seq := uint64(0)
	batch := func(n int) []write {
		ws := make([]write, n)
		for i := range ws {
			seq++
			ws[i] = write{op: iotdm.OpPut, kind: "k", key: "x", value: []byte("{}"), seq: seq}
		}
		return ws
	}
	r.add(batch(10), at)
	got, ok := r.read(3, 10, 4)
	if !ok || len(got) != 4 || got[0].Seq != 4 || got[3].Seq != 7 {
		t.Fatalf("read(3, 10, 4) = %v, %v; want seqs 4..7", got, ok)
	}
	for range 20 {
		r.add(batch(recentCap/8), at)
	}
	if _, ok := r.read(5, seq, 0); ok {
		t.Fatalf("read(5, ...) succeeded after %d changes; the ring holds only the last %d", seq, recentCap)
	}
	from := seq - recentCap
	got, ok = r.read(from, seq, 0)
	if !ok || len(got) != recentCap || got[0].Seq != from+1 || got[len(got)-1].Seq != seq {
		t.Fatalf("read(%d, %d) = %d changes, %v; want the last %d in order", from, seq, len(got), ok, recentCap)
	}
	if _, ok := r.read(from, seq+1, 0); ok {
		t.Fatal("read past the newest held change succeeded")
	}
}
