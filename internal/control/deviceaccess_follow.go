package control

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// Sessions the broker has not registered yet. The broker registers a
// session right after Authenticate returns it, so a change the follower
// applies in between would miss it (a revoked certificate would stay
// connected). Two records close that gap, both under da.mu:
//
//   - Authenticate notes the last change known committed when it starts
//     (its basis: every read it makes sees it). While any Authenticate runs,
//     the follower journals each batch's invalidations; at its end
//     Authenticate checks the entries after its basis and starts over (or,
//     after maxAuthAttempts, marks the session stale).
//   - Sessions handed out stay in recent until the broker shows them to a
//     filter (seen) or recentWindow passes; after each batch the follower
//     marks the recent ones built before it that it touches stale.
//
// The sweeper looks for stale sessions in the broker and reauthorizes them
// (ends them, when revoked).

// InvalidationSink is where DeviceAccess.Follow sends what a change means
// for the sessions it handed out; the broker, adapted in cmd/iotdm.
type InvalidationSink interface {
	// Disconnect ends every live connection of the certificate now.
	Disconnect(certificateID string)
	// Reauthorize calls filter with the session of every connection and
	// offline persistent session (SessionOf of its authorization; sessions
	// without one are skipped) and authenticates again those it returns
	// true for: they get a new session, or are ended when they may no
	// longer connect.
	Reauthorize(ctx context.Context, filter func(s *DeviceSession) bool)
}

const (
	// followBatch is how many changes the follower reads at once; the
	// sessions are visited once per batch.
	followBatch = 1024
	// recentWindow is how long a session handed out by Authenticate is
	// watched for invalidations the broker could not have applied to it
	// because it had not registered it yet. Registration follows
	// Authenticate at once, so this is generous.
	recentWindow = 10 * time.Second
	// sweepDelay is how long the sweeper waits for the broker to register
	// a stale session before it looks for it.
	sweepDelay = 20 * time.Millisecond
	// maxAuthAttempts bounds how often Authenticate starts over because a
	// change it may have missed touched the session it built.
	maxAuthAttempts = 3
)

// Follow follows the store's change feed from the change after from and
// keeps the sessions in step with it, within a second of each commit:
//
//   - a certificate that leaves ACTIVE or is deleted, or whose registered CA
//     does, revokes its sessions (they allow nothing from then on, offline
//     persistent ones included) and its connections are ended
//     (sink.Disconnect);
//   - a change of a policy or its versions, of a policy attachment to the
//     certificate or to one of the thing's static groups (or their
//     ancestors), of a thing–principal attachment, of the thing the client
//     id names or of its group memberships reauthorizes the sessions that
//     depend on it (sink.Reauthorize).
//
// It returns when ctx ends (ctx's error) or the store is closed; other
// store errors are logged and retried. Run one
// Follow per DeviceAccess, with from the store's last sequence number
// before the broker starts.
func (da *DeviceAccess) Follow(ctx context.Context, from uint64, sink InvalidationSink) error {
	da.fetched(from)

	sctx, cancel := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		da.sweep(sctx, sink)
	}()
	defer func() {
		cancel()
		<-swept
	}()

	after := from
	backoff := time.Duration(0)
	for {
		changes, err := da.store.Changes(ctx, after, followBatch)
		if err == nil && len(changes) > 0 {
			da.fetched(changes[len(changes)-1].Seq)
			iv := da.invalidationsOf(changes)
			da.apply(ctx, sink, iv)
			after = changes[len(changes)-1].Seq
			da.settle(after, iv)
		}
		if err == nil && len(changes) < followBatch {
			err = da.store.Wait(ctx, after)
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, iotdm.ErrClosed):
			return err
		case err != nil:
			// Sessions must not outlive a revocation: keep trying.
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			da.log.Error("reading the change feed failed; retrying", "after", after, "retryIn", backoff, "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
		default:
			backoff = 0
		}
	}
}

// invalidations is what a batch of changes invalidates, by dependency.
type invalidations struct {
	all bool // the batch could not be read: everything
	// Revocations: the sessions of these certificates, or of certificates
	// registered under these CAs, end.
	certs, cas map[string]struct{}
	// Reauthorizations, by what sessions depend on.
	principals, policies, things, groups map[string]struct{}
}

func addKey(m *map[string]struct{}, key string) {
	if *m == nil {
		*m = map[string]struct{}{}
	}
	(*m)[key] = struct{}{}
}

func hasKey(m map[string]struct{}, key string) bool {
	_, ok := m[key]
	return ok
}

func (iv *invalidations) revokes() bool { return len(iv.certs)+len(iv.cas) > 0 }

func (iv *invalidations) reauthorizes() bool {
	return iv.all || len(iv.principals)+len(iv.policies)+len(iv.things)+len(iv.groups) > 0
}

func (iv *invalidations) empty() bool { return !iv.revokes() && !iv.reauthorizes() }

// revoking reports whether iv ends s.
func (iv *invalidations) revoking(s *DeviceSession) bool {
	if s.opaque {
		return false // it allows nothing already
	}
	return hasKey(iv.certs, s.certificateID) || s.caCertificateID != "" && hasKey(iv.cas, s.caCertificateID)
}

// reauthorizing reports whether s must be authenticated again.
func (iv *invalidations) reauthorizing(s *DeviceSession) bool {
	switch {
	case iv.all, hasKey(iv.principals, s.principal):
		return true
	case s.opaque: // its policies and groups are unknown
		return len(iv.policies) > 0 || len(iv.groups) > 0
	case hasKey(iv.things, s.clientID):
		return true
	}
	for _, p := range s.policies {
		if hasKey(iv.policies, p) {
			return true
		}
	}
	for _, g := range s.groups {
		if hasKey(iv.groups, g) {
			return true
		}
	}
	return false
}

func (iv *invalidations) affects(s *DeviceSession) bool { return iv.revoking(s) || iv.reauthorizing(s) }

// invalidationsOf reads what a batch of changes invalidates. Each
// attachment is stored twice; one side of it is enough.
func (da *DeviceAccess) invalidationsOf(changes []iotdm.Change) *invalidations {
	iv := &invalidations{}
	groupPrefix := da.prefix + "thinggroup/"
	for _, c := range changes {
		switch c.Kind {
		case iotdm.KindCertificate:
			var v struct {
				Status string `json:"status"`
				ARN    string `json:"certificateArn"`
			}
			switch {
			case c.Op == iotdm.OpDelete:
				addKey(&iv.certs, c.Key)
			case json.Unmarshal(c.Value, &v) != nil:
				da.log.Warn("certificate change does not decode; revoking its sessions", "certificateId", c.Key, "seq", c.Seq)
				addKey(&iv.certs, c.Key)
			case v.Status != iotdm.CertificateActive:
				addKey(&iv.certs, c.Key)
			default:
				// ACTIVE again: offline sessions refused meanwhile may
				// be allowed again.
				addKey(&iv.principals, v.ARN)
			}
		case iotdm.KindCACertificate:
			var v struct {
				Status string `json:"status"`
			}
			if c.Op == iotdm.OpDelete || json.Unmarshal(c.Value, &v) != nil || v.Status != iotdm.CACertificateActive {
				addKey(&iv.cas, c.Key)
			}
		case iotdm.KindPolicy:
			addKey(&iv.policies, c.Key)
		case iotdm.KindPolicyVersion:
			name, _, _ := strings.Cut(c.Key, "/")
			addKey(&iv.policies, name)
		case iotdm.KindTargetPolicy: // "{target}/{policy}"; policy names have no "/"
			i := strings.LastIndexByte(c.Key, '/')
			if i < 0 {
				iv.all = true
				continue
			}
			target := c.Key[:i]
			if group, ok := strings.CutPrefix(target, groupPrefix); ok {
				addKey(&iv.groups, group)
			} else {
				addKey(&iv.principals, target)
			}
		case iotdm.KindThingPrincipal: // "{thing}/{principal}"; thing names have no "/"
			thing, principal, _ := strings.Cut(c.Key, "/")
			addKey(&iv.things, thing)
			addKey(&iv.principals, principal)
		case iotdm.KindThing:
			addKey(&iv.things, c.Key)
		case iotdm.KindThingMembership: // "{thing}/{group}"
			thing, _, _ := strings.Cut(c.Key, "/")
			addKey(&iv.things, thing)
		case iotdm.KindThingGroup:
			addKey(&iv.groups, c.Key)
		}
	}
	return iv
}

// apply hands a batch's invalidations to the sink: revoked sessions are
// marked first (so that they allow nothing at once, offline ones included)
// and their connections ended, then the sessions that depend on what
// changed are reauthorized.
func (da *DeviceAccess) apply(ctx context.Context, sink InvalidationSink, iv *invalidations) {
	if iv.revokes() {
		kick := map[string]struct{}{}
		for id := range iv.certs {
			kick[id] = struct{}{}
		}
		sink.Reauthorize(ctx, func(s *DeviceSession) bool {
			s.seen.Store(true)
			if iv.revoking(s) {
				s.revoked.Store(true)
				kick[s.certificateID] = struct{}{}
			}
			return false
		})
		for id := range kick {
			sink.Disconnect(id)
		}
		if n := len(iv.certs) + len(iv.cas); n > 0 {
			da.log.Debug("sessions revoked", "certificates", len(iv.certs), "caCertificates", len(iv.cas), "connectionsEnded", len(kick))
		}
	}
	if iv.reauthorizes() {
		sink.Reauthorize(ctx, func(s *DeviceSession) bool {
			s.seen.Store(true)
			if s.revoked.Load() {
				return false
			}
			// A stale session reaches the sink here: this pass covers it.
			return s.stale.Swap(false) || iv.reauthorizing(s)
		})
	}
}

// journalEntry is one batch's invalidations, kept while Authenticate calls
// that started before it run.
type journalEntry struct {
	seq uint64
	iv  *invalidations
}

// fetched records that the changes up to seq are committed: an
// Authenticate that starts from now on reads them.
func (da *DeviceAccess) fetched(seq uint64) {
	da.mu.Lock()
	da.committed = max(da.committed, seq)
	da.mu.Unlock()
}

// settle records that the follower acted on the changes up to seq. The
// sessions handed out recently that were built before those changes and
// that iv touches may have been registered by the broker after apply
// looked: they are marked stale for the sweeper (and revoked when iv
// revokes them). Authenticate calls still running see iv in the journal.
func (da *DeviceAccess) settle(seq uint64, iv *invalidations) {
	da.mu.Lock()
	defer da.mu.Unlock()
	if iv.empty() {
		return
	}
	if len(da.inflight) > 0 {
		da.journal = append(da.journal, journalEntry{seq: seq, iv: iv})
	}
	da.pruneRecentLocked()
	for _, s := range da.recent {
		if s.basis < seq && iv.affects(s) {
			da.markStaleLocked(s, iv)
		}
	}
}

// begin registers a running Authenticate.
func (da *DeviceAccess) begin() *authToken {
	tok := &authToken{}
	da.mu.Lock()
	da.inflight[tok] = da.committed
	da.mu.Unlock()
	return tok
}

// end unregisters a running Authenticate that built s (nil when it
// failed). It reports whether the follower invalidated something s
// depends on while s was built; unless retry, s is then marked stale for
// the sweeper instead.
func (da *DeviceAccess) end(tok *authToken, s *DeviceSession, retry bool) (missed bool) {
	da.mu.Lock()
	defer da.mu.Unlock()
	basis := da.inflight[tok]
	delete(da.inflight, tok)
	if s != nil {
		s.basis = basis
		for _, e := range da.journal {
			if e.seq > basis && e.iv.affects(s) {
				missed = true
				if !retry {
					da.markStaleLocked(s, e.iv)
				}
			}
		}
		if !missed || !retry {
			da.recent = append(da.recent, s)
		}
	}
	// Keep the journal entries a running Authenticate may still need.
	oldest := da.committed
	for _, seq := range da.inflight {
		oldest = min(oldest, seq)
	}
	i := 0
	for i < len(da.journal) && (len(da.inflight) == 0 || da.journal[i].seq <= oldest) {
		i++
	}
	da.journal = append(da.journal[:0], da.journal[i:]...)
	da.pruneRecentLocked()
	return missed
}

// markStaleLocked marks a session an invalidation may have missed.
func (da *DeviceAccess) markStaleLocked(s *DeviceSession, iv *invalidations) {
	if iv.revoking(s) {
		s.revoked.Store(true)
	}
	if !s.stale.Swap(true) {
		da.stale = append(da.stale, s)
		select {
		case da.wake <- struct{}{}:
		default:
		}
	}
}

// pruneRecentLocked drops the recent sessions the broker has shown to a
// filter (it has registered them) and those older than recentWindow.
func (da *DeviceAccess) pruneRecentLocked() {
	keep := da.recent[:0]
	for _, s := range da.recent {
		if !s.seen.Load() && time.Since(s.created) < recentWindow {
			keep = append(keep, s)
		}
	}
	clear(da.recent[len(keep):])
	da.recent = keep
}

// sweep reauthorizes the stale sessions once the broker has registered
// them (a revoked one is ended instead), until none is left or they are
// older than recentWindow (their connection never came to be).
func (da *DeviceAccess) sweep(ctx context.Context, sink InvalidationSink) {
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-ctx.Done():
			return
		case <-da.wake:
		}
		for da.pendingStale() {
			t.Reset(sweepDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			kick := map[string]struct{}{}
			sink.Reauthorize(ctx, func(s *DeviceSession) bool {
				s.seen.Store(true)
				if !s.stale.Swap(false) {
					return false
				}
				if s.revoked.Load() {
					kick[s.certificateID] = struct{}{}
					return false
				}
				return true
			})
			for id := range kick {
				sink.Disconnect(id)
			}
		}
	}
}

// pendingStale drops the stale sessions dealt with or too old and reports
// whether any is left.
func (da *DeviceAccess) pendingStale() bool {
	da.mu.Lock()
	defer da.mu.Unlock()
	keep := da.stale[:0]
	for _, s := range da.stale {
		if s.stale.Load() && time.Since(s.created) < recentWindow {
			keep = append(keep, s)
		}
	}
	clear(da.stale[len(keep):])
	da.stale = keep
	return len(keep) > 0
}
