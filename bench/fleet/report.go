package main

import (
	"context"
	"fmt"
	"github.com/iotdm/iotdm/bench/internal/host"
	"runtime"
	"strings"
	"time"
)

type report struct {
	cfg                   config
	started               time.Time
	loadBefore, loadAfter string
	groups                []dynGroup
	gen                   genStats
	dbBytes               int64
	emptyReady, ready     time.Duration
	logOpen, logBuild     time.Duration
	builtLine             string
	emptyRSS              int64
	rss, rssLow, rssPeak  int64
	rssAfter              int64
	checked               int
	mismatch              []string
	queries               []queryResult
	updates               []*updateResult
	warnings              []string
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func (r *report) render() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	n := r.cfg.things
	p("## Fleet indexing benchmark (bench/fleet)\n\n")
	p("- Command: `go run ./bench/fleet -things %d -groups %d -reps %d -duration %v`\n", n, r.cfg.groups, r.cfg.reps, r.cfg.duration)
	p("- Date: %s. Revision: %s. %d cores, %s, %s.\n", r.started.Format("2006-01-02 15:04"), host.Revision(context.Background(), ""), runtime.NumCPU(), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	p("- load average (1, 5, 15 min): %s at the start, %s at the end\n", r.loadBefore, r.loadAfter)
	p("- Fleet: %d things (4 thing types, 5 attributes each, a classic shadow with reported temperature and battery), "+
		"%d static groups with 2 memberships per thing, %d dynamic groups (their memberships are derived by the server's fleet index at start, not stored)\n\n",
		n, numStatic, len(r.groups))

	p("#### Generation (below the API: internal/sqlite Open + Update, 250 things ≈ 1,000–4,000 puts per Update, 4 in flight)\n\n")
	p("| things | shadows | static memberships | dynamic memberships (expected, not stored) | entities | took | entities/s | database |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	p("| %d | %d | %d | %d | %d | %s | %.0f | %s |\n\n", r.gen.things, r.gen.shadows, r.gen.staticMembers, r.gen.dynamicMembers, r.gen.entities,
		ms(r.gen.took), float64(r.gen.entities)/r.gen.took.Seconds(), mib(r.dbBytes))

	p("#### Start and memory\n\n")
	p("| | empty server | fleet server |\n| --- | ---: | ---: |\n")
	p("| process start → /healthz 200 | %s | %s |\n", ms(r.emptyReady), ms(r.ready))
	if r.logBuild > 0 {
		p("| process start → store open (log) | | %s |\n", ms(r.logOpen))
		p("| store open → \"fleet index built\" (log) | | %s |\n", ms(r.logBuild))
	}
	p("| index build at start (fleet ready − empty ready) | | %s |\n", ms(r.ready-r.emptyReady))
	p("| VmRSS after %v idle | %s | %s (lowest sample %s) |\n", r.cfg.settle, mib(r.emptyRSS), mib(r.rss), mib(r.rssLow))
	p("| VmRSS at the end / VmHWM (peak) | | %s / %s |\n", mib(r.rssAfter), mib(r.rssPeak))
	perThing := float64(r.rss) / float64(n)
	net := float64(r.rss-r.emptyRSS) / float64(n)
	p("| RSS per thing (total / things; net of the empty server) | | %.0f B; %.0f B |\n\n", perThing, net)
	p("Membership check: %d sampled things, %d with other groups than expected.\n\n", r.checked, len(r.mismatch))
	for _, m := range r.mismatch {
		p("- %s\n", m)
	}

	p("#### Queries (one client, signed raw HTTP; p50/p99 exact over the repetitions after one warm-up call)\n\n")
	p("| operation | query | answer | reps | p50 | p99 | max | failed |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, q := range r.queries {
		detail := q.detail
		if q.err != "" && len(q.lat) == 0 {
			detail = "ERROR " + q.err
		}
		p("| %s | `%s` | %s | %d | %s | %s | %s | %d |\n", q.op, q.query, detail, len(q.lat), ms(q.lat.pct(50)), ms(q.lat.pct(99)), ms(q.lat.pct(100)), q.failed)
	}
	p("\n#### Dynamic group membership (%d clients, %v per run)\n\n", r.cfg.clients, r.cfg.duration)
	p("Each client updates its own things in turn. UpdateThing moves a thing to the next location (it leaves one " +
		"`dyn-loc-*-fw-*` group and joins another); UpdateThingShadow moves reported battery across 20 (`dyn-battery-low`). " +
		"\"updates only\" is the highest rate the API sustains; \"update + poll\" polls ListThingGroupsForThing after each " +
		"update until the change shows, and \"visible\" is the time from the update's answer to the poll answer that showed it.\n\n")
	p("| operation | run | updates/s | update p50 | update p99 | visible p50 | visible p99 | visible max | polls/update | not visible in 5 s | failed |\n")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, u := range r.updates {
		run := "updates only"
		vis50, vis99, visMax, ppu := "—", "—", "—", "—"
		if u.probe {
			run = "update + poll"
			vis50, vis99, visMax = ms(u.visible.pct(50)), ms(u.visible.pct(99)), ms(u.visible.pct(100))
			if u.updates > 0 {
				ppu = fmt.Sprintf("%.2f", float64(u.polls)/float64(u.updates))
			}
		}
		p("| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %d | %d |\n", u.kind, run, u.rate(), ms(u.updLat.pct(50)), ms(u.updLat.pct(99)),
			vis50, vis99, visMax, ppu, u.timeouts, u.failed)
	}
	for _, u := range r.updates {
		if u.firstError != "" {
			p("\n- %s first error: %s\n", u.kind, u.firstError)
		}
	}

	p("\n#### Targets\n\n| target | measured | result |\n| --- | --- | --- |\n")
	p("| ≤ 1.5 KB RSS per thing | %.0f B (total / things) | %s |\n", perThing, passFail(perThing <= 1536))
	for _, q := range r.queries {
		if strings.Contains(q.op, "(term") && len(q.lat) > 0 {
			p("| selective search p99 < 10 ms: %s | %s | %s |\n", q.op, ms(q.lat.pct(99)), passFail(q.lat.pct(99) < 10*time.Millisecond))
		}
	}
	for _, q := range r.queries {
		if strings.Contains(q.op, "half the fleet") && len(q.lat) > 0 {
			note := ""
			if n/2 < 500000 {
				note = fmt.Sprintf(" (over %d things, not 500,000)", n/2)
			}
			p("| aggregation over 500,000 things < 100 ms: %s | p99 %s%s | %s |\n", q.op, ms(q.lat.pct(99)), note, passFail(q.lat.pct(99) < 100*time.Millisecond))
		}
	}
	for _, u := range r.updates {
		if u.probe {
			ok := len(u.visible) > 0 && u.timeouts == 0 && u.visible.pct(99) <= 50*time.Millisecond
			p("| membership visible within 50 ms p99: %s | p99 %s, %d not visible in 5 s | %s |\n", u.kind, ms(u.visible.pct(99)), u.timeouts, passFail(ok))
		}
	}
	if len(r.warnings) > 0 {
		p("\nServer log warnings (first %d):\n\n", len(r.warnings))
		for _, w := range r.warnings {
			p("    %s\n", w)
		}
	}
	return b.String()
}
