package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotdm/iotdm/bench/load"
)

func TestParseFlagsDefaultsAndSubsets(t *testing.T) {
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.servers, []string{"ceiling", "iotdm", "moto"}) || cfg.clients != 16 ||
		cfg.duration != 5*time.Second || cfg.things != 10000 || cfg.motoThings != 10000 ||
		!slices.Equal(cfg.kinds, []load.Kind{load.KindRaw, load.KindSDK}) {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, err = parseFlags([]string{"-servers", "ceiling,moto", "-moto-things", "500", "-ops", "ListThings", "-client", "sdk"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.servers, []string{"ceiling", "moto"}) || cfg.motoThings != 500 || !slices.Equal(cfg.ops, []string{"ListThings"}) ||
		!slices.Equal(cfg.kinds, []load.Kind{load.KindSDK}) {
		t.Fatalf("subset: %+v", cfg)
	}
	if _, err := parseFlags([]string{"-servers", "localstack"}); err == nil {
		t.Fatal("unknown server accepted")
	}
	if _, err := parseFlags([]string{"-client", "raw,boto"}); err == nil {
		t.Fatal("unknown client kind accepted")
	}
}

func TestRunOrderPutsCreateThingLast(t *testing.T) {
	got := runOrder(load.AllOps())
	want := []string{load.OpDescribeThing, load.OpListThings, load.OpAddThingToThingGroup, load.OpCreateThing}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("odd: %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("even: %v", m)
	}
}

// fakeResult is a run of n successes in one second, all of latency lat.
func fakeResult(op string, n int, lat time.Duration) *load.Result {
	r := &load.Result{Op: op, Elapsed: time.Second, OK: int64(n), Non2xx: map[int]int64{}}
	for range n {
		r.Latencies = append(r.Latencies, lat)
	}
	return r
}

func TestReportJudgesTargetsOnPairedRatios(t *testing.T) {
	cfg, err := parseFlags([]string{"-rounds", "2", "-ops", "CreateThing,DescribeThing"})
	if err != nil {
		t.Fatal(err)
	}
	m := &measurements{rounds: map[key][]*load.Result{}}
	add := func(kind load.Kind, srv, op string, rates ...int) {
		k := key{kind, srv, op}
		for _, n := range rates {
			m.rounds[k] = append(m.rounds[k], fakeResult(op, n, time.Millisecond))
		}
	}
	add(load.KindRaw, srvCeiling, load.OpCreateThing, 1000, 2000)
	add(load.KindRaw, srvIotdm, load.OpCreateThing, 600, 1200) // 60%: pass
	add(load.KindRaw, srvMoto, load.OpCreateThing, 10, 20)     // 60×: pass
	add(load.KindRaw, srvCeiling, load.OpDescribeThing, 1000, 1000)
	add(load.KindRaw, srvIotdm, load.OpDescribeThing, 700, 700) // 70%: fail
	add(load.KindRaw, srvMoto, load.OpDescribeThing, 100, 100)  // 7×: fail
	add(load.KindSDK, srvCeiling, load.OpCreateThing, 500, 500)
	add(load.KindSDK, srvIotdm, load.OpCreateThing, 450, 450) // 90%: pass
	add(load.KindSDK, srvMoto, load.OpCreateThing, 10, 10)    // 45×: pass
	add(load.KindSDK, srvCeiling, load.OpDescribeThing, 500, 500)
	add(load.KindSDK, srvIotdm, load.OpDescribeThing, 400, 400) // 80%: pass
	add(load.KindSDK, srvMoto, load.OpDescribeThing, 20, 20)    // 20×: fail
	var targets []*target
	for _, s := range cfg.servers {
		targets = append(targets, &target{name: s, things: 10, fixture: &load.Fixture{}})
	}
	md := report(runInfo{cfg: cfg, targets: targets}, m)
	sections := []struct{ heading, rows string }{
		{"## Throughput and latency: raw signed HTTP client (`-client raw`)",
			"| CreateThing | iotdm | 900 | 1.00ms | 1.00ms | 600 / 1200 | 0/1800 |"},
		{"## Targets: raw signed HTTP client (`-client raw`)",
			"| CreateThing | 60% | ≥ 55% | PASS | 60.0× | ≥ 30× | PASS |\n" +
				"| DescribeThing | 70% | ≥ 80% | FAIL | 7.0× | ≥ 30× | FAIL |"},
		{"## Throughput and latency: AWS SDK for Go v2 client (`-client sdk`)",
			"| CreateThing | iotdm | 450 | 1.00ms | 1.00ms | 450 / 450 | 0/900 |"},
		{"## Targets: AWS SDK for Go v2 client (`-client sdk`)",
			"| CreateThing | 90% | ≥ 55% | PASS | 45.0× | ≥ 30× | PASS |\n" +
				"| DescribeThing | 80% | ≥ 80% | PASS | 20.0× | ≥ 30× | FAIL |"},
	}
	rest := md
	for _, sec := range sections {
		i := strings.Index(rest, sec.heading)
		if i < 0 {
			t.Fatalf("report lacks %q after the previous section:\n%s", sec.heading, md)
		}
		rest = rest[i+len(sec.heading):]
		body := rest
		if j := strings.Index(body, "\n## "); j >= 0 {
			body = body[:j]
		}
		if !strings.Contains(body, sec.rows) {
			t.Errorf("section %q lacks %q:\n%s", sec.heading, sec.rows, body)
		}
	}
	if !strings.Contains(md, "depends on how heavy the load program is") || !strings.Contains(md, "Both are shown") {
		t.Errorf("report does not explain the two client kinds:\n%s", md)
	}
}
