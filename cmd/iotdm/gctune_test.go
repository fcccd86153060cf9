package main

import "testing"

func TestGOGCFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, maxGOGC},
		{16 << 20, maxGOGC},        // small heap: capped headroom
		{128 << 20, 200},           // 256 MiB of headroom
		{256 << 20, 100},           // likewise
		{4 << 30, minGOGC},         // a large fleet: bounded collection rate
		{1<<20 + 1, maxGOGC},       // rounding stays in range
		{512<<20 + 12345, minGOGC}, // 49.99 % rounds up to the floor
	} {
		if got := gogcFor(c.live); got != c.want {
			t.Errorf("gogcFor(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}
