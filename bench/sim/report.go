package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

func (r *result) render() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	c := r.cfg
	p("### Simulated fleet: %d devices\n\n", c.devices)
	p("`go run ./bench/sim %s` — revision %s, %s, %d CPUs, %.1f GiB, RLIMIT_NOFILE %d, load %s → %s.\n\n",
		strings.Join(c.args, " "), r.revision, r.cpuModel, runtime.NumCPU(), float64(r.memTotal)/(1<<30), r.nofile, r.loadBefore, r.loadAfter)
	p("iotdm serve (child process, SQLite, seed stack deployed) and the simulator (this process: internal/sim, one MQTT 5 "+
		"connection over mutual TLS per device with paho.golang) share the machine. Each device publishes telemetry at %g msg/s "+
		"(QoS %d), reports its whole shadow every %s (QoS 1) and at connect, disconnects with probability %g per minute "+
		"(back after ~5 s), and installs a desired firmware after %s ±50%%.\n\n",
		c.rate, c.qos, c.shadowInterval, c.churn, c.firmwareDelay)

	if pr := r.prov; pr != nil {
		p("##### Provisioning (%s, %d at once)\n\n", keyMethod(c.csr), c.concurrency)
		p("| devices | created | failed | elapsed | rate | server CPU | bench CPU |\n|---|---|---|---|---|---|---|\n")
		p("| %d | %d | %d | %s | **%.1f devices/s** | %.2f cores | %.2f cores |\n\n", pr.Total, pr.Created, len(pr.Failed),
			pr.Elapsed.Round(10*time.Millisecond), pr.Rate(), r.provServerCPU, r.provCPU)
		p("Each device: CreateThing, %s, AttachPolicy, AttachThingPrincipal, AddThingToThingGroup, and its folder written.\n\n",
			map[bool]string{false: "CreateKeysAndCertificate", true: "CreateCertificateFromCsr"}[c.csr])
	}
	if r.rampTime > 0 {
		p("##### Connect ramp (%d connects at once)\n\n", c.connectConc)
		p("| devices connected once | time | connects/s | connect failures | server CPU |\n|---|---|---|---|---|\n")
		p("| %d of %d | %s | %.0f | %d | %.2f cores |\n\n", r.rampConnected, c.devices, r.rampTime.Round(10*time.Millisecond),
			float64(r.rampStats.Connects)/r.rampTime.Seconds(), r.rampStats.ConnectFailures, r.rampServerCPU)
	}
	if w := r.window; len(w) >= 2 {
		first, last := w[0], w[len(w)-1]
		d := last.at.Sub(first.at).Seconds()
		rate := func(a, b int64) float64 { return float64(b-a) / d }
		minC, maxC, sumC := w[0].stats.Connected, w[0].stats.Connected, 0
		for _, s := range w {
			minC, maxC = min(minC, s.stats.Connected), max(maxC, s.stats.Connected)
			sumC += s.stats.Connected
		}
		fs, ls := first.stats, last.stats
		n := float64(c.devices)
		p("##### Steady state (%.0f s window, rates over the window)\n\n", d)
		p("| measure | value |\n|---|---|\n")
		p("| devices connected (min / mean / max) | %d / %.0f / %d |\n", minC, float64(sumC)/float64(len(w)), maxC)
		p("| telemetry sent | **%.0f msg/s** (offered %.0f) |\n", rate(fs.Telemetry, ls.Telemetry), n*c.rate)
		p("| shadow updates sent | **%.1f /s** |\n", rate(fs.ShadowUpdates, ls.ShadowUpdates))
		p("| messages the broker received (`iotdm_mqtt_messages_received_total`) | %.0f msg/s |\n",
			(last.serverMsgsReceived-first.serverMsgsReceived)/d)
		p("| random disconnects / reconnects / drops | %d / %d / %d |\n", ls.Disconnects-fs.Disconnects, ls.Connects-fs.Connects, ls.Drops-fs.Drops)
		p("| errors (connect failures, drops, rejected shadow requests, publish errors) | %d |\n", ls.Errors()-fs.Errors())
		p("| server CPU | %.2f cores |\n", (last.serverCPU-first.serverCPU)/d)
		p("| server RSS (end) | %s (%s before provisioning; %.1f KiB per device above it) |\n", mib(last.serverRSS), mib(r.serverBaseRSS),
			float64(last.serverRSS-r.serverBaseRSS)/n/1024)
		p("| simulator CPU (this process) | %.2f cores |\n", (last.simCPU-first.simCPU)/d)
		p("| simulator RSS (end) | %s (%s before; %.1f KiB per device above it; Go heap in use %s) |\n", mib(last.simRSS), mib(r.simBaseRSS),
			float64(last.simRSS-r.simBaseRSS)/n/1024, mib(int64(last.simHeap)))
		p("| simulator goroutines | %d (%.1f per device above the %d before: the MQTT client's reader, router and pinger) |\n\n",
			last.goroutines, float64(last.goroutines-r.baseGoroutines)/n, r.baseGoroutines)
	}
	if r.rollout > 0 {
		p("##### Freshness (firmware %s set as desired on %d devices during the window)\n\n", newFirmware, r.rollout)
		p("| path | samples | p50 | p95 | max | missing |\n|---|---|---|---|---|---|\n")
		row := func(name string, d durations, miss int) {
			p("| %s | %d | %s | %s | %s | %d |\n", name, len(d), ms(d.pct(50)), ms(d.pct(95)), ms(d.pct(100)), miss)
		}
		row("UpdateThingShadow (desired) answered", r.setLat, 0)
		row(fmt.Sprintf("desired set → device reports the firmware (includes the %s ±50%% install)", c.firmwareDelay), r.toReport, r.rollout-len(r.toReport))
		row("firmware report → member of the shadow-based dynamic group (`shadow.reported.firmware`)", r.toShadowGrp, r.shadowMiss)
		row("firmware report → member of the attribute-based dynamic group (`attributes.firmware`, after the simulator's UpdateThing)", r.toAttrGrp, r.attrMiss)
		p("\nMembership is polled (ListThingsInThingGroup) every %s; a poll took %s on average (%d polls), which bounds the resolution.\n\n",
			pollInterval, ms(r.pollTime), r.polls)
		if r.metricFound {
			p("Fleet metric `%s` (count of `shadow.reported.firmware:%s`, period %s): a datapoint counting all %.0f was visible through "+
				"GetMetricStatistics **%s after the last firmware report** and %s after its period boundary (polled every %s).\n\n",
				freshnessMetric, newFirmware, c.metricPeriod, r.metricValue, r.metricAfterLast.Round(10*time.Millisecond), r.metricAfterTS.Round(10*time.Millisecond), metricPoll)
		} else {
			p("Fleet metric `%s` (period %s): no datapoint counting every reported device appeared in time.\n\n", freshnessMetric, c.metricPeriod)
		}
	}
	if r.stopTime > 0 {
		fs := r.finalStats
		p("Stopping the simulator (DISCONNECT to every device) took %s. Totals: %d connects (%d failed), %d telemetry messages, "+
			"%d shadow updates, %d firmware updates, %d attribute syncs, %d errors.\n\n", r.stopTime.Round(10*time.Millisecond),
			fs.Connects, fs.ConnectFailures, fs.Telemetry, fs.ShadowUpdates, fs.FirmwareApplied, fs.AttributeSyncs, fs.Errors())
		if fs.LastError != "" {
			p("Last simulator error: `%s`\n\n", fs.LastError)
		}
	}
	for _, n := range r.notes {
		p("- NOTE: %s\n", n)
	}
	if r.serverLog != "" {
		p("\nServer log warnings and errors:\n\n```\n%s\n```\n", r.serverLog)
	}
	return b.String()
}

func ms(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
