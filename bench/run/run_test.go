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
		cfg.duration != 5*time.Second || cfg.things != 10000 || cfg.motoThings != 10000 {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, err = parseFlags([]string{"-servers", "ceiling,moto", "-moto-things", "500", "-ops", "ListThings"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.servers, []string{"ceiling", "moto"}) || cfg.motoThings != 500 || !slices.Equal(cfg.ops, []string{"ListThings"}) {
		t.Fatalf("subset: %+v", cfg)
	}
	if _, err := parseFlags([]string{"-servers", "localstack"}); err == nil {
		t.Fatal("unknown server accepted")
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
	add := func(srv, op string, rates ...int) {
		for _, n := range rates {
			m.rounds[key{srv, op}] = append(m.rounds[key{srv, op}], fakeResult(op, n, time.Millisecond))
		}
	}
	add(srvCeiling, load.OpCreateThing, 1000, 2000)
	add(srvIotdm, load.OpCreateThing, 600, 1200) // 60%: pass
	add(srvMoto, load.OpCreateThing, 10, 20)     // 60×: pass
	add(srvCeiling, load.OpDescribeThing, 1000, 1000)
	add(srvIotdm, load.OpDescribeThing, 700, 700) // 70%: fail
	add(srvMoto, load.OpDescribeThing, 100, 100)  // 7×: fail
	var targets []*target
	for _, s := range cfg.servers {
		targets = append(targets, &target{name: s, things: 10, fixture: &load.Fixture{}})
	}
	md := report(runInfo{cfg: cfg, targets: targets}, m)
	for _, want := range []string{
		"| CreateThing | 60% | ≥ 55% | PASS | 60.0× | ≥ 30× | PASS |",
		"| DescribeThing | 70% | ≥ 80% | FAIL | 7.0× | ≥ 30× | FAIL |",
		"| CreateThing | iotdm | 900 | 1.00ms | 1.00ms | 600 / 1200 | 0/1800 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
