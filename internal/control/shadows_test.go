package control_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newShadows(t testing.TB) (*control.Shadows, iotdm.Store, *clock) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return control.NewShadows(db, control.ShadowsOptions{Now: clk.Now}), db, clk
}

func version(t *testing.T, payload []byte) int64 {
	t.Helper()
	var d struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(payload, &d); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	return d.Version
}

// Concurrent updates of one shadow serialise: every accepted update gets its
// own version, and the feed holds one put per update.
func TestShadowsConcurrentUpdates(t *testing.T) {
	s, db, _ := newShadows(t)
	ctx := context.Background()
	const n = 32
	versions := make(chan int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out, err := s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "t", ShadowName: "s",
				Payload: fmt.Appendf(nil, `{"state":{"reported":{"w%d":%d}}}`, i, i)})
			if err != nil {
				t.Error(err)
				return
			}
			versions <- version(t, out.Payload)
		})
	}
	wg.Wait()
	close(versions)
	seen := map[int64]bool{}
	for v := range versions {
		if seen[v] || v < 1 || v > n {
			t.Errorf("version %d duplicated or out of range", v)
		}
		seen[v] = true
	}
	got, err := s.GetThingShadow(ctx, &iotdm.GetThingShadowInput{ThingName: "t", ShadowName: "s"})
	if err != nil || version(t, got.Payload) != n {
		t.Fatalf("GetThingShadow = %s, %v; want version %d", got.Payload, err, n)
	}
	changes, err := db.Changes(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	puts := 0
	for _, c := range changes {
		if c.Kind == iotdm.KindShadow && c.Op == iotdm.OpPut && c.Key == "t/s" {
			puts++
		}
	}
	if puts != n {
		t.Errorf("%d KindShadow puts in the feed, want %d", puts, n)
	}
}

// AWS §6.3 item 8: a shadow recreated within 48 hours continues its version;
// later, numbering restarts.
func TestShadowsVersionMemory(t *testing.T) {
	s, db, clk := newShadows(t)
	ctx := context.Background()
	update := func() int64 {
		t.Helper()
		out, err := s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "t", Payload: []byte(`{"state":{"desired":{"a":1}}}`)})
		if err != nil {
			t.Fatal(err)
		}
		return version(t, out.Payload)
	}
	del := func() {
		t.Helper()
		if _, err := s.DeleteThingShadow(ctx, &iotdm.DeleteThingShadowInput{ThingName: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	update()
	update()
	del()
	clk.advance(47 * time.Hour)
	if v := update(); v != 3 {
		t.Errorf("recreated after 47h: version %d, want 3", v)
	}
	if _, ok, _ := db.Get(ctx, iotdm.KindShadowTombstone, "t/"); ok {
		t.Error("tombstone kept after the shadow was recreated")
	}
	del()
	clk.advance(48 * time.Hour)
	if v := update(); v != 1 {
		t.Errorf("recreated after 48h: version %d, want 1", v)
	}
}

func TestShadowsErrors(t *testing.T) {
	s, _, _ := newShadows(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		err  error
		code iotdm.ErrorCode
	}{
		"get missing": {err: func() error {
			_, err := s.GetThingShadow(ctx, &iotdm.GetThingShadowInput{ThingName: "t"})
			return err
		}(), code: iotdm.ErrResourceNotFound},
		"empty thing name": {err: func() error {
			_, err := s.GetThingShadow(ctx, &iotdm.GetThingShadowInput{})
			return err
		}(), code: iotdm.ErrInvalidRequest},
		"not UTF-8": {err: func() error {
			_, err := s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "t", Payload: []byte("{\"state\":\"\xff\"}")})
			return err
		}(), code: iotdm.ErrUnsupportedDocumentEncoding},
		"empty payload": {err: func() error {
			_, err := s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "t"})
			return err
		}(), code: iotdm.ErrInvalidRequest},
		"page size 0 is the default, -1 is refused": {err: func() error {
			_, err := s.ListNamedShadowsForThing(ctx, &iotdm.ListNamedShadowsForThingInput{ThingName: "t", PageSize: -1})
			return err
		}(), code: iotdm.ErrInvalidRequest},
		"token of another thing": {err: func() error {
			s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "a", ShadowName: "x", Payload: []byte(`{"state":{"desired":{"a":1}}}`)})
			s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "a", ShadowName: "y", Payload: []byte(`{"state":{"desired":{"a":1}}}`)})
			out, err := s.ListNamedShadowsForThing(ctx, &iotdm.ListNamedShadowsForThingInput{ThingName: "a", PageSize: 1})
			if err != nil || out.NextToken == "" {
				return fmt.Errorf("list a: %+v %v", out, err)
			}
			_, err = s.ListNamedShadowsForThing(ctx, &iotdm.ListNamedShadowsForThingInput{ThingName: "b", NextToken: out.NextToken})
			return err
		}(), code: iotdm.ErrInvalidRequest},
	} {
		if !iotdm.IsCode(tc.err, tc.code) {
			t.Errorf("%s: err = %v, want %s", name, tc.err, tc.code)
		}
	}
}
