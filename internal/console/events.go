package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iotdm/iotdm"
)

// liveEvent is one change of the store told for people: the overview's
// recent events and the live stream show these.
type liveEvent struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Category string    `json:"category"` // lifecycle, registry, security, monitoring, shadow
	Text     string    `json:"text"`
	Href     string    `json:"href,omitempty"`
}

// describeChange tells what a change means, or ok false for changes people
// need not see (the second side of a relation, tombstones, internal state).
func (c *console) describeChange(ch iotdm.Change) (ev liveEvent, ok bool) {
	ev = liveEvent{Seq: ch.Seq, Time: ch.Time}
	del := ch.Op == iotdm.OpDelete
	verb := func(created bool) string {
		switch {
		case del:
			return "deleted"
		case created:
			return "created"
		}
		return "updated"
	}
	switch ch.Kind {
	case iotdm.KindConnectivity:
		var st iotdm.ConnectivityState
		if del || json.Unmarshal(ch.Value, &st) != nil {
			return ev, false
		}
		ev.Category, ev.Href = "lifecycle", c.path("things/"+pathSeg(ch.Key))
		if st.Connected {
			ev.Text = ch.Key + " connected"
		} else {
			ev.Text = ch.Key + " disconnected"
			if st.DisconnectReason != "" {
				ev.Text += " (" + st.DisconnectReason + ")"
			}
		}
	case iotdm.KindThing:
		var t iotdm.Thing
		_ = json.Unmarshal(ch.Value, &t)
		ev.Category = "registry"
		if !del {
			ev.Href = c.path("things/" + pathSeg(ch.Key))
		}
		ev.Text = "Thing " + ch.Key + " " + verb(t.Version <= 1)
		if !del && t.Version > 1 {
			ev.Text += " (version " + strconv.FormatInt(t.Version, 10) + ")"
		}
	case iotdm.KindThingType:
		var t iotdm.ThingType
		_ = json.Unmarshal(ch.Value, &t)
		ev.Category, ev.Text = "registry", "Thing type "+ch.Key+" "+verb(t.Version <= 1)
	case iotdm.KindThingGroup:
		var g iotdm.ThingGroup
		_ = json.Unmarshal(ch.Value, &g)
		kind := "Thing group "
		if g.Dynamic() {
			kind = "Dynamic thing group "
		}
		ev.Category, ev.Text = "registry", kind+ch.Key+" "+verb(g.Version <= 1)
		if !del {
			ev.Href = c.path("groups/" + pathSeg(ch.Key))
		}
	case iotdm.KindGroupMember:
		group, thing, found := strings.Cut(ch.Key, "/")
		if !found {
			return ev, false
		}
		ev.Category, ev.Href = "registry", c.path("things/"+pathSeg(thing))
		if del {
			ev.Text = thing + " left group " + group
		} else {
			ev.Text = thing + " joined group " + group
		}
	case iotdm.KindCertificate:
		var cert iotdm.StoredCertificate
		_ = json.Unmarshal(ch.Value, &cert)
		id := shorten(ch.Key, 12)
		ev.Category = "security"
		if del {
			ev.Text = "Certificate " + id + " deleted"
		} else {
			ev.Text = "Certificate " + id + " is " + cert.Status
			ev.Href = c.path("security/certificates/" + pathSeg(ch.Key))
		}
	case iotdm.KindCACertificate:
		var ca iotdm.StoredCACertificate
		_ = json.Unmarshal(ch.Value, &ca)
		ev.Category = "security"
		if del {
			ev.Text = "CA certificate " + shorten(ch.Key, 12) + " deleted"
		} else {
			ev.Text = "CA certificate " + shorten(ch.Key, 12) + " is " + ca.Status
		}
	case iotdm.KindPolicy:
		var p iotdm.StoredPolicy
		_ = json.Unmarshal(ch.Value, &p)
		ev.Category = "security"
		switch {
		case del:
			ev.Text = "Policy " + ch.Key + " deleted"
		case p.DefaultVersionID != "":
			ev.Text = "Policy " + ch.Key + " uses version " + p.DefaultVersionID
			ev.Href = c.path("security/policies/" + pathSeg(ch.Key))
		default:
			return ev, false
		}
	case iotdm.KindPolicyTarget:
		policy, target, found := strings.Cut(ch.Key, "/")
		if !found {
			return ev, false
		}
		ev.Category = "security"
		if del {
			ev.Text = "Policy " + policy + " detached from " + shortTarget(target)
		} else {
			ev.Text = "Policy " + policy + " attached to " + shortTarget(target)
		}
	case iotdm.KindThingPrincipal:
		thing, principal, found := strings.Cut(ch.Key, "/")
		if !found {
			return ev, false
		}
		ev.Category, ev.Href = "security", c.path("things/"+pathSeg(thing))
		if del {
			ev.Text = shortTarget(principal) + " detached from " + thing
		} else {
			ev.Text = shortTarget(principal) + " attached to " + thing
		}
	case iotdm.KindShadow:
		thing, name, _ := strings.Cut(ch.Key, "/")
		var st struct {
			Version int64 `json:"version"`
		}
		_ = json.Unmarshal(ch.Value, &st)
		which := "Shadow of " + thing
		if name != "" {
			which = "Shadow " + name + " of " + thing
		}
		ev.Category, ev.Href = "shadow", c.path("things/"+pathSeg(thing))
		if del {
			ev.Text = which + " deleted"
		} else {
			ev.Text = which + " updated (version " + strconv.FormatInt(st.Version, 10) + ")"
		}
	case iotdm.KindAlarm:
		var a iotdm.StoredAlarm
		_ = json.Unmarshal(ch.Value, &a)
		ev.Category = "monitoring"
		if del {
			ev.Text = "Alarm " + ch.Key + " deleted"
		} else {
			ev.Text = "Alarm " + ch.Key + " is " + a.StateValue
			ev.Href = c.path("monitoring/alarms/" + pathSeg(ch.Key))
		}
	case iotdm.KindFleetMetric:
		var m iotdm.StoredFleetMetric
		_ = json.Unmarshal(ch.Value, &m)
		ev.Category, ev.Text = "monitoring", "Fleet metric "+ch.Key+" "+verb(m.Version <= 1)
	case iotdm.KindDashboard:
		ev.Category, ev.Text = "monitoring", "Dashboard "+ch.Key+" "+verb(false)
	case iotdm.KindLogGroup:
		ev.Category, ev.Text = "monitoring", "Log group "+ch.Key+" "+verb(true)
	default:
		return ev, false
	}
	return ev, true
}

// pathSeg escapes one path segment for a console URL.
func pathSeg(s string) string { return url.PathEscape(s) }

// shortTarget names a principal or policy target briefly: a certificate by
// a prefix of its id, a group by its name.
func shortTarget(t string) string {
	if id := certificateIDOf(t); id != "" {
		return "certificate " + shorten(id, 12)
	}
	if i := strings.LastIndex(t, ":thinggroup/"); i >= 0 {
		return "group " + t[i+len(":thinggroup/"):]
	}
	return t
}

// recentEvents returns up to n of the latest events people see, newest
// first, and the sequence number they were read at (where a live stream
// picks up).
func (c *console) recentEvents(ctx context.Context, n int) ([]liveEvent, uint64, error) {
	if c.deps.Store == nil {
		return nil, 0, nil
	}
	last, err := c.deps.Store.LastSeq(ctx)
	if err != nil {
		return nil, 0, err
	}
	const window = 2000 // changes looked at: most are relations' second sides or shadows
	after := uint64(0)
	if last > window {
		after = last - window
	}
	changes, err := c.deps.Store.Changes(ctx, after, window)
	if err != nil {
		return nil, 0, err
	}
	var evs []liveEvent
	for i := len(changes) - 1; i >= 0 && len(evs) < n; i-- {
		if ev, ok := c.describeChange(changes[i]); ok {
			evs = append(evs, ev)
		}
	}
	return evs, last, nil
}

// liveCounts is the payload of the stream's counts message.
type liveCounts struct {
	Things    *int           `json:"things,omitempty"`
	Connected *int           `json:"connected,omitempty"`
	Alarms    map[string]int `json:"alarms,omitempty"`
	Groups    map[string]int `json:"groups,omitempty"`
	Time      time.Time      `json:"time"`
}

// events streams live updates as server-sent events (text/event-stream):
//
//	event: change   a liveEvent, for each change people see
//	event: counts   liveCounts, at most once per LiveInterval after changes
//	event: skipped  {"n":N} when a burst of changes was too fast to tell one by one
//
// The query parameter since is the sequence number the page was rendered
// at, so nothing between the render and the stream is lost; groups=1 adds
// the member counts of the given dynamic groups (group=NAME, repeated).
// The stream follows the store's change feed with iotdm.Follow in a
// goroutine owned by this request.
func (c *console) events(w http.ResponseWriter, r *http.Request, _ *session) {
	if c.deps.Store == nil {
		http.Error(w, "live updates need the store", http.StatusNotImplemented)
		return
	}
	// ResponseController finds the Flusher through wrapping writers
	// (middleware that implements Unwrap).
	rc := http.NewResponseController(w)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	last, err := c.deps.Store.LastSeq(ctx)
	if err != nil {
		http.Error(w, "read the change feed", http.StatusInternalServerError)
		return
	}
	since := last
	if s, err := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64); err == nil && s <= last && last-s < 5000 {
		since = s
	}
	if id, err := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64); err == nil && id <= last && last-id < 5000 {
		since = id
	}
	groups := r.URL.Query()["group"]
	if len(groups) > 200 {
		groups = groups[:200]
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 3000\n\n")
	if err := rc.Flush(); err != nil {
		c.log.Warn("console live updates: the response cannot be flushed", "err", err)
		return
	}

	changes := make(chan iotdm.Change, 256)
	var wg sync.WaitGroup
	wg.Add(1)
	var followErr error
	go func() {
		defer wg.Done()
		defer close(changes)
		followErr = iotdm.Follow(ctx, c.deps.Store, since, func(ch iotdm.Change) error {
			select {
			case changes <- ch:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	defer func() {
		cancel()
		wg.Wait()
		if followErr != nil && !errors.Is(followErr, context.Canceled) {
			c.log.Warn("console live updates stopped", "err", followErr)
		}
	}()

	send := func(event string, id uint64, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if id > 0 {
			fmt.Fprintf(w, "id: %d\n", id)
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return true
	}
	// The first counts right away: the page may be a while old.
	dirty := true
	var lastCounts time.Time
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	tick := time.NewTicker(c.opts.LiveInterval)
	defer tick.Stop()
	// At most burst change events per interval; the rest are counted.
	const burst = 50
	sent, skipped := 0, 0
	var lastSeq uint64
	// A stream ends after a while; the browser reconnects where it left
	// off (Last-Event-ID), so no goroutine lives forever.
	maxAge := time.NewTimer(maxStreamAge)
	defer maxAge.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.opts.Shutdown:
			return
		case <-maxAge.C:
			return
		case ch, ok := <-changes:
			if !ok {
				return
			}
			lastSeq = ch.Seq
			if countsChange(ch.Kind) {
				dirty = true
			}
			ev, ok := c.describeChange(ch)
			if !ok {
				continue
			}
			if sent >= burst {
				skipped++
				continue
			}
			sent++
			if !send("change", ch.Seq, ev) {
				return
			}
			_ = rc.Flush()
		case <-tick.C:
			if skipped > 0 {
				if !send("skipped", lastSeq, map[string]int{"n": skipped}) {
					return
				}
			}
			sent, skipped = 0, 0
			if dirty && c.opts.Now().Sub(lastCounts) >= c.opts.LiveInterval {
				dirty, lastCounts = false, c.opts.Now()
				if !send("counts", 0, c.liveCounts(ctx, groups)) {
					return
				}
			}
			_ = rc.Flush()
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			_ = rc.Flush()
		}
	}
}

// maxStreamAge is how long one event stream lasts before the browser is
// made to reconnect.
const maxStreamAge = 30 * time.Minute

// countsChange reports whether a change of kind may move the live counts.
func countsChange(kind string) bool {
	switch kind {
	case iotdm.KindThing, iotdm.KindConnectivity, iotdm.KindAlarm, iotdm.KindGroupMember, iotdm.KindThingGroup,
		iotdm.KindShadow, iotdm.KindIndexingConfig:
		return true
	}
	return false
}

// liveCounts computes the numbers the live pages keep current; a count
// that cannot be had is left out.
func (c *console) liveCounts(ctx context.Context, groups []string) liveCounts {
	lc := liveCounts{Time: c.opts.Now().UTC()}
	if c.deps.Search != nil {
		if n, err := c.countThings(ctx, "*"); err == nil {
			lc.Things = &n
		}
		if n, err := c.countThings(ctx, "connectivity.connected:true"); err == nil {
			lc.Connected = &n
		}
	}
	if c.deps.Alarms != nil {
		if states, _, err := c.alarmStates(ctx); err == nil {
			lc.Alarms = states
		}
	}
	if len(groups) > 0 && c.deps.Registry != nil {
		lc.Groups = map[string]int{}
		for _, g := range groups {
			if n, err := c.groupMemberCount(ctx, g); err == nil {
				lc.Groups[g] = n
			}
		}
	}
	return lc
}
