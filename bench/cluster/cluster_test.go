package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotdm/iotdm/bench/internal/host"
	"github.com/iotdm/iotdm/internal/postgres/pgtest"
)

// TestMeasuresOnTwoNodes runs every measure briefly on a two-node cluster
// and checks that each measured something and that the report has a
// column per cluster size.
func TestMeasuresOnTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds iotdm and runs two server processes; not in -short")
	}
	server := pgtest.ServerDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	root, err := host.ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "iotdm")
	if err := host.GoBuild(ctx, root, "./cmd/iotdm", bin); err != nil {
		t.Fatal(err)
	}
	db, err := createDatabase(ctx, server, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.drop)
	cl, err := startCluster(ctx, bin, dir, db.dsn, 2)
	if cl != nil {
		t.Cleanup(cl.stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	names, err := setup(ctx, cl, 20, 4)
	if err != nil {
		t.Fatal(err)
	}

	const warm, dur = 100 * time.Millisecond, 400 * time.Millisecond
	res := &sizeResult{n: 2, api: map[string][]apiResult{}}
	for _, op := range []string{opCreateThing, opDescribeThing} {
		a, err := measureAPI(ctx, cl, apiSpec{op: op, clients: 4, warmup: warm, duration: dur, names: names, prefix: "t"})
		if err != nil {
			t.Fatalf("measureAPI(%s): %v", op, err)
		}
		if a.ok == 0 || a.failed != 0 {
			t.Errorf("measureAPI(%s): %d ok, %d failed %v; want successes only", op, a.ok, a.failed, a.errs)
		}
		t.Logf("%s: %.0f/s, p50 %v", op, a.rate(), a.lat.pct(50))
		res.api[op] = append(res.api[op], a)
	}

	m, err := measureMQTT(ctx, cl, mqttSpec{pairs: 2, payload: 64, warmup: warm, duration: dur})
	if err != nil {
		t.Fatalf("measureMQTT: %v", err)
	}
	if m.received == 0 || m.lost != 0 || m.lat.pct(50) <= 0 {
		t.Errorf("measureMQTT: %d received, %d lost, p50 %v; want deliveries across the nodes and no loss", m.received, m.lost, m.lat.pct(50))
	}
	t.Logf("MQTT: %.0f msg/s, p50 %v p99 %v", m.rate(), m.lat.pct(50), m.lat.pct(99))
	res.mqtt = append(res.mqtt, m)

	l, err := measureLag(ctx, cl, lagSpec{samples: 5, warmup: warm, timeout: 10 * time.Second, prefix: "lag"})
	if err != nil {
		t.Fatalf("measureLag: %v", err)
	}
	if len(l.lags) != 5 || l.timedOut != 0 {
		t.Errorf("measureLag: %d samples, %d timed out (%s); want 5 found", len(l.lags), l.timedOut, l.firstErr)
	}
	t.Logf("change-feed lag node1 → node2: p50 %v, max %v", l.lags.pct(50), l.lags.pct(100))
	res.lag = append(res.lag, l)

	cfg, err := parseFlags([]string{"-postgres", server, "-nodes", "2", "-rounds", "1"})
	if err != nil {
		t.Fatal(err)
	}
	rep := newReport(cfg, root)
	rep.add(res)
	md := rep.render()
	for _, want := range []string{"| API | 2 nodes |", "| CreateThing/s |", "| DescribeThing/s |", "| messages received/s |", "| lag p99 |", "CPUs (runtime.NumCPU"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Setenv(pgtest.EnvDSN, "postgres://u@127.0.0.1:1/postgres")
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.nodes) != 3 || cfg.nodes[2] != 3 || cfg.rounds != 3 || cfg.duration != 5*time.Second || cfg.clients != 16 ||
		cfg.pairs != 8 || cfg.lagSamples != 50 || cfg.postgres != "postgres://u@127.0.0.1:1/postgres" {
		t.Errorf("defaults: %+v", cfg)
	}
	for _, bad := range [][]string{{"-nodes", "0"}, {"-nodes", "x"}, {"-rounds", "0"}, {"-payload", "8"}, {"-postgres", ""}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) = nil error", bad)
		}
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	var d durations
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}} {
		if got := d.pct(c.p); got != c.want {
			t.Errorf("pct(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := (durations{}).pct(50); got != 0 {
		t.Errorf("empty pct(50) = %v, want 0", got)
	}
}

func TestRedactDSN(t *testing.T) {
	got := redactDSN("postgres://bob:secret@db:5432/postgres?sslmode=disable")
	if strings.Contains(got, "secret") || !strings.Contains(got, "bob") {
		t.Errorf("redactDSN = %q", got)
	}
	rep := newReport(config{args: []string{"-postgres", "postgres://bob:secret@db/postgres", "-postgres=postgres://bob:secret@db/x"}}, ".")
	if md := rep.render(); strings.Contains(md, "secret") {
		t.Errorf("the report shows the password:\n%s", md)
	}
}

func TestLogKeyKeepsLevelAndMessage(t *testing.T) {
	for _, c := range []struct{ line, key, attrs string }{
		{`time=2026-01-01T00:00:00Z level=WARN msg="fleet index: slow \"batch\"" changes=3 took=1s`,
			`level=WARN msg="fleet index: slow \"batch\""`, "changes=3 took=1s"},
		{`time=x level=ERROR msg=boom err=eof`, `level=ERROR msg=boom`, "err=eof"},
		{`level=WARN msg="only"`, `level=WARN msg="only"`, ""},
	} {
		if k, a := logKey(c.line); k != c.key || a != c.attrs {
			t.Errorf("logKey(%q) = %q, %q; want %q, %q", c.line, k, a, c.key, c.attrs)
		}
	}
}
