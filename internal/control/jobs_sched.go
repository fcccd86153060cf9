package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// Time-driven and membership-driven work of the jobs service.
//
// Rollout (AWS "Job rollout, scheduling, and abort configurations"): a
// job's targets wait as KindJobRollout entities until their execution is
// created. Without a rollout configuration all are created at once; with
// maximumPerMinute at most that many are created in any window of one
// minute (a window opens with the first creation after the previous one
// ended); with exponentialRate the rate starts at baseRatePerMinute and is
// multiplied by incrementFactor (at most 1000 a minute, and never above
// maximumPerMinute) each time numberOfNotifiedThings more things were
// notified, or numberOfSucceededThings more things succeeded, since the
// last increase.
//
// Tick(now) does what time asks: timed-out executions, scheduled starts
// and ends, rollout windows, and unfinished cancellations and deletions
// (after a restart). Call it every second or so (RunTicker).

// rateLimit is the highest rollout rate AWS allows, per minute.
const rateLimit = 1000

// rolloutStep creates as many of the job's pending executions as its rate
// allows now, at most one batch; more reports whether another batch may
// be created at once.
func (jt *jobTx) rolloutStep(job *iotdm.JobRecord) (more bool, err error) {
	if job.Status != iotdm.JobInProgress || job.RolloutStopped || job.RolloutPending <= 0 {
		return false, nil
	}
	was := job.Rollout
	allowed := jt.allowance(job)
	n := jt.j.opts.BatchSize
	if allowed >= 0 && allowed < n {
		n = allowed
	}
	if n == 0 {
		if job.Rollout != was {
			jt.putJob(job)
		}
		return false, nil
	}
	jt.putJob(job)
	var keys []string
	err = jt.tx.Scan(jt.ctx, iotdm.KindJobRollout, job.JobID+"/", "", n, func(key string, _ []byte) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, key := range keys {
		if err := jt.tx.Delete(jt.ctx, iotdm.KindJobRollout, key); err != nil {
			return false, err
		}
		job.RolloutPending--
		created, err := jt.create(job, strings.TrimPrefix(key, job.JobID+"/"))
		if err != nil {
			return false, err
		}
		if created {
			job.Rollout.InWindow++
		}
	}
	if len(keys) < n {
		job.RolloutPending = 0 // the count was off; the entities are the truth
	}
	return job.RolloutPending > 0 && (allowed < 0 || jt.allowanceLeft(job) > 0), nil
}

// rate is the job's rollout rate per minute now, -1 for no limit.
func rate(job *iotdm.JobRecord) int {
	cfg := job.JobExecutionsRolloutConfig
	if cfg == nil {
		return -1
	}
	r := -1
	if e := cfg.ExponentialRate; e != nil {
		if job.Rollout.RatePerMinute < float64(e.BaseRatePerMinute) {
			job.Rollout.RatePerMinute = float64(e.BaseRatePerMinute)
		}
		r = min(int(job.Rollout.RatePerMinute), rateLimit)
	}
	if m := cfg.MaximumPerMinute; m != nil && (r < 0 || *m < r) {
		r = *m
	}
	return r
}

// allowance opens a new window when the current one is over (an
// exponential rate increases, when its criterion is met, as a window
// opens) and returns how many executions the rate allows in the window now
// (-1: any number).
func (jt *jobTx) allowance(job *iotdm.JobRecord) int {
	if rate(job) < 0 {
		return -1
	}
	w := &job.Rollout
	if w.WindowStart.IsZero() || !jt.now.Before(w.WindowStart.Add(time.Minute)) {
		w.WindowStart, w.InWindow = jt.ts(), 0
		raiseRate(job)
	}
	return max(0, rate(job)-w.InWindow)
}

// allowanceLeft is allowance without opening a window.
func (jt *jobTx) allowanceLeft(job *iotdm.JobRecord) int {
	r := rate(job)
	if r < 0 {
		return -1
	}
	return max(0, r-job.Rollout.InWindow)
}

// raiseRate applies an exponential rate's increase when its criterion is
// met.
func raiseRate(job *iotdm.JobRecord) {
	cfg := job.JobExecutionsRolloutConfig
	if cfg == nil || cfg.ExponentialRate == nil {
		return
	}
	e := cfg.ExponentialRate
	r := &job.Rollout
	if r.RatePerMinute < float64(e.BaseRatePerMinute) {
		r.RatePerMinute = float64(e.BaseRatePerMinute)
	}
	c := e.RateIncreaseCriteria
	succeeded := job.Counts[iotdm.ExecutionSucceeded]
	switch {
	case c.NumberOfNotifiedThings != nil && r.Notified-r.NotifiedAtRaise >= *c.NumberOfNotifiedThings:
		r.NotifiedAtRaise = r.Notified
	case c.NumberOfSucceededThings != nil && succeeded-r.SucceededAtRaise >= *c.NumberOfSucceededThings:
		r.SucceededAtRaise = succeeded
	default:
		return
	}
	r.RatePerMinute = min(r.RatePerMinute*e.IncrementFactor, rateLimit)
}

// rollout creates a job's executions, batch after batch, as far as its
// rate allows at now.
func (j *Jobs) rollout(ctx context.Context, id string, now time.Time) error {
	for more := true; more; {
		err := j.update(ctx, now, func(jt *jobTx) error {
			job, err := jt.job(id)
			if err != nil {
				return err
			}
			more, err = jt.rolloutStep(job)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Tick does the time-driven work due at now: executions whose in-progress
// or step timer expired become TIMED_OUT (and may be retried), scheduled
// jobs start and end, rollouts create the executions their rate allows,
// and cancellations and deletions a restart interrupted are finished. It
// returns the errors it met, joined; one job's failure does not stop the
// others'.
func (j *Jobs) Tick(ctx context.Context, now time.Time) error {
	j.tickMu.Lock()
	defer j.tickMu.Unlock()
	errs := []error{j.timeouts(ctx, now)}
	var jobs []*iotdm.JobRecord
	err := j.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, iotdm.KindJob, "", "", 0, func(key string, v []byte) error {
			job, err := decodeJob(key, v)
			if err == nil && job.Status != iotdm.JobCompleted {
				jobs = append(jobs, job)
			}
			return err
		})
	})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, job := range jobs {
		if err := j.tickJob(ctx, job, now); err != nil && !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
			errs = append(errs, fmt.Errorf("job %s: %w", job.JobID, err))
		}
	}
	return errors.Join(errs...)
}

// tickJob does one job's time-driven work.
func (j *Jobs) tickJob(ctx context.Context, job *iotdm.JobRecord, now time.Time) error {
	switch job.Status {
	case iotdm.JobDeletionInProgress:
		return j.finishDelete(ctx, job.JobID)
	case iotdm.JobCanceled:
		if job.RolloutPending > 0 || job.Counts[iotdm.ExecutionQueued] > 0 || job.ForceCanceled && job.Counts[iotdm.ExecutionInProgress] > 0 {
			return j.sweepCanceled(ctx, job.JobID, job.ForceCanceled)
		}
		return nil
	}
	var start, end time.Time
	behavior := iotdm.JobEndStopRollout
	if s := job.SchedulingConfig; s != nil {
		if s.StartTime != "" {
			start, _ = parseJobTime("startTime", s.StartTime)
		}
		if s.EndTime != "" {
			end, _ = parseJobTime("endTime", s.EndTime)
		}
		if s.EndBehavior != "" {
			behavior = s.EndBehavior
		}
	}
	ended := !end.IsZero() && !now.Before(end)
	if job.Status == iotdm.JobScheduled && !now.Before(start) || ended && !job.RolloutStopped {
		var force, cancel, stopped bool
		err := j.update(ctx, now, func(jt *jobTx) error {
			job, err := jt.job(job.JobID)
			if err != nil {
				return err
			}
			if job.Status == iotdm.JobScheduled && !now.Before(start) {
				job.Status = iotdm.JobInProgress
				job.LastUpdatedAt = jt.ts()
				jt.putJob(job)
			}
			if ended && !job.RolloutStopped && (job.Status == iotdm.JobInProgress || job.Status == iotdm.JobScheduled) {
				switch behavior {
				case iotdm.JobEndCancel, iotdm.JobEndForceCancel:
					cancel, force = true, behavior == iotdm.JobEndForceCancel
					jt.cancelJob(job, force, "", "The job's scheduling window ended")
				default:
					// STOP_ROLLOUT: no execution is created any more; the
					// job completes once those created are terminal.
					job.RolloutStopped, stopped = true, true
					jt.putJob(job)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if cancel {
			return nil // the cancellation swept the job
		}
		if stopped {
			return j.stopRollout(ctx, job.JobID)
		}
	}
	if job.RolloutPending > 0 {
		return j.rollout(ctx, job.JobID, now)
	}
	return nil
}

// stopRollout drops a stopped job's pending rollout and lets it complete.
func (j *Jobs) stopRollout(ctx context.Context, id string) error {
	if err := j.dropRollout(ctx, id); err != nil {
		return err
	}
	// A write of the job runs the completion check.
	return j.update(ctx, j.opts.Now(), func(jt *jobTx) error {
		job, err := jt.job(id)
		if err != nil {
			return err
		}
		jt.putJob(job)
		return nil
	})
}

// timeouts times out the executions whose timer expired at now.
func (j *Jobs) timeouts(ctx context.Context, now time.Time) error {
	due := fmt.Sprintf("%020d", now.UnixMilli()+1) // keys below are due
	for more := true; more; {
		more = false
		err := j.update(ctx, now, func(jt *jobTx) error {
			var keys []string
			err := jt.tx.Scan(jt.ctx, iotdm.KindJobTimer, "", "", j.opts.BatchSize, func(key string, _ []byte) error {
				if key >= due {
					return iotdm.ErrStopScan
				}
				keys = append(keys, key)
				return nil
			})
			if err != nil && !errors.Is(err, iotdm.ErrStopScan) {
				return err
			}
			more = len(keys) == j.opts.BatchSize
			for _, key := range keys {
				if err := jt.expireTimer(key); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// expireTimer times out the execution of a due timer; a timer its
// execution no longer has is dropped.
func (jt *jobTx) expireTimer(key string) error {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) == 3 {
		rec, ok, err := jt.execution(parts[1], parts[2])
		if err != nil {
			return err
		}
		if ok && rec.TimerKey == key && rec.Status == iotdm.ExecutionInProgress {
			return jt.transition(rec, iotdm.ExecutionTimedOut, nil, nil, false)
		}
	}
	return jt.tx.Delete(jt.ctx, iotdm.KindJobTimer, key)
}

// expireDue times out a thing's IN_PROGRESS executions whose timer expired
// at now, before a device request reads them: timeouts are exact whatever
// the Tick interval.
func (j *Jobs) expireDue(ctx context.Context, thing string, now time.Time) error {
	p, err := pendingOf(ctx, storeReader{j.store}, thing)
	if err != nil {
		return err
	}
	var due []string
	for _, e := range p {
		if d, ok := e.rec.Deadline(); ok && e.rec.Status == iotdm.ExecutionInProgress && !now.Before(d.Time) {
			due = append(due, e.rec.TimerKey)
		}
	}
	if len(due) == 0 {
		return nil
	}
	return j.update(ctx, now, func(jt *jobTx) error {
		for _, key := range due {
			if err := jt.expireTimer(key); err != nil {
				return err
			}
		}
		return nil
	})
}

// storeReader is a ReadTx over the last committed state of a store, for
// reads that need no snapshot.
type storeReader struct{ s iotdm.Store }

func (r storeReader) Get(ctx context.Context, kind, key string) ([]byte, bool, error) {
	return r.s.Get(ctx, kind, key)
}

func (r storeReader) Scan(ctx context.Context, kind, prefix, after string, limit int, fn func(key string, value []byte) error) error {
	return r.s.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, kind, prefix, after, limit, fn)
	})
}

// RunTicker calls Tick every interval until ctx ends, logging its errors;
// it returns ctx's error.
func (j *Jobs) RunTicker(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := j.Tick(ctx, j.opts.Now()); err != nil && ctx.Err() == nil {
				j.log.Warn("jobs tick", "err", err)
			}
		}
	}
}

// --- continuous jobs and group membership ---

// jobMembership is one queued dynamic group membership change.
type jobMembership struct {
	group, thing string
	added        bool
}

// OnMembership is told about dynamic thing group membership changes
// (fleetindex.Feeder.SetMembershipHook): a thing that joins a dynamic
// group a continuous job targets gets the job; one that leaves it (and is
// targeted no other way) has its pending execution REMOVED. It never
// blocks: Run applies the queued changes; beyond its queue's capacity a
// change is dropped and logged.
func (j *Jobs) OnMembership(group, thing string, added bool) {
	select {
	case j.membership <- jobMembership{group: group, thing: thing, added: added}:
	default:
		j.log.Warn("jobs: membership queue full; change dropped", "group", group, "thing", thing, "added", added)
	}
}

// Run keeps continuous jobs in step with their groups until ctx ends (it
// returns ctx's error) or the store fails: it first queues every thing a
// running continuous job targets but has not notified (things that joined
// while the server was down), then follows the change feed after seq from
// (static memberships and deleted things) and applies the dynamic
// membership changes OnMembership queues. Call it once.
func (j *Jobs) Run(ctx context.Context, from uint64) error {
	if err := j.reconcile(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		j.log.Warn("jobs: reconcile continuous jobs", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	followed := make(chan error, 1)
	go func() {
		followed <- iotdm.Follow(ctx, j.store, from, func(c iotdm.Change) error { return j.change(ctx, c) })
	}()
	for {
		select {
		case err := <-followed:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("jobs: follow changes: %w", err)
		case m := <-j.membership:
			if err := j.membershipChanged(ctx, m.group, m.thing, m.added); err != nil && ctx.Err() == nil {
				j.log.Warn("jobs: apply dynamic membership", "group", m.group, "thing", m.thing, "err", err)
			}
		}
	}
}

// change applies one change of the feed: a static membership added or
// removed, or a thing deleted (its pending executions are REMOVED).
// Failures are logged, not returned: the feed goes on.
func (j *Jobs) change(ctx context.Context, c iotdm.Change) error {
	var err error
	switch {
	case c.Kind == iotdm.KindGroupMember:
		group, thing, ok := strings.Cut(c.Key, "/")
		if ok {
			err = j.membershipChanged(ctx, group, thing, c.Op == iotdm.OpPut)
		}
	case c.Kind == iotdm.KindThing && c.Op == iotdm.OpDelete:
		err = j.thingDeleted(ctx, c.Key)
	}
	if err != nil && ctx.Err() == nil {
		j.log.Warn("jobs: apply change", "seq", c.Seq, "kind", c.Kind, "key", c.Key, "err", err)
	}
	return nil
}

// continuousJobs returns the running continuous jobs that target one of
// groups.
func continuousJobs(ctx context.Context, tx iotdm.ReadTx, groupARNs map[string]bool) ([]*iotdm.JobRecord, error) {
	var out []*iotdm.JobRecord
	err := tx.Scan(ctx, iotdm.KindJob, "", "", 0, func(key string, v []byte) error {
		job, err := decodeJob(key, v)
		if err != nil {
			return err
		}
		if job.TargetSelection != iotdm.TargetContinuous || job.RolloutStopped ||
			job.Status != iotdm.JobInProgress && job.Status != iotdm.JobScheduled {
			return nil
		}
		for _, t := range job.Targets {
			if groupARNs == nil || groupARNs[t] {
				out = append(out, job)
				break
			}
		}
		return nil
	})
	return out, err
}

// membershipChanged applies a thing joining (added) or leaving a group to
// the continuous jobs that target the group or, for a static group, one of
// its ancestors.
func (j *Jobs) membershipChanged(ctx context.Context, group, thing string, added bool) error {
	var rollouts []string
	now := j.opts.Now()
	err := j.update(ctx, now, func(jt *jobTx) error {
		arns := map[string]bool{j.arn("thinggroup", group): true}
		if g, ok, err := get[iotdm.ThingGroup](ctx, jt.tx, iotdm.KindThingGroup, group); err != nil {
			return err
		} else if ok {
			for _, a := range g.ThingGroupMetadata.RootToParentThingGroups {
				arns[a.GroupARN] = true
			}
		}
		jobs, err := continuousJobs(ctx, jt.tx, arns)
		if err != nil {
			return err
		}
		for _, job := range jobs {
			job, err := jt.job(job.JobID)
			if err != nil {
				return err
			}
			if added {
				if ok, err := jt.enqueue(job, thing); err != nil {
					return err
				} else if ok {
					rollouts = append(rollouts, job.JobID)
				}
				continue
			}
			still, err := j.targeted(ctx, jt.tx, job, thing)
			if err != nil || still {
				return err
			}
			if err := jt.untarget(job, thing); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range rollouts {
		if err := j.rollout(ctx, id, now); err != nil {
			return err
		}
	}
	return nil
}

// enqueue makes thing a pending rollout target of job unless it has an
// execution (other than a REMOVED one) or is pending already.
func (jt *jobTx) enqueue(job *iotdm.JobRecord, thing string) (bool, error) {
	if _, ok, err := jt.tx.Get(jt.ctx, iotdm.KindThing, thing); err != nil || !ok {
		return false, err
	}
	rec, ok, err := jt.execution(job.JobID, thing)
	if err != nil {
		return false, err
	}
	if ok && rec.Status != iotdm.ExecutionRemoved {
		return false, nil
	}
	key := job.JobID + "/" + thing
	if _, ok, err := jt.tx.Get(jt.ctx, iotdm.KindJobRollout, key); err != nil || ok {
		return false, err
	}
	if err := jt.tx.Put(jt.ctx, iotdm.KindJobRollout, key, []byte("{}")); err != nil {
		return false, err
	}
	job.RolloutPending++
	jt.putJob(job)
	return true, nil
}

// untarget drops thing from job: a pending rollout target is dropped, a
// pending execution becomes REMOVED.
func (jt *jobTx) untarget(job *iotdm.JobRecord, thing string) error {
	key := job.JobID + "/" + thing
	if _, ok, err := jt.tx.Get(jt.ctx, iotdm.KindJobRollout, key); err != nil {
		return err
	} else if ok {
		if err := jt.tx.Delete(jt.ctx, iotdm.KindJobRollout, key); err != nil {
			return err
		}
		job.RolloutPending--
		jt.putJob(job)
	}
	rec, ok, err := jt.execution(job.JobID, thing)
	if err != nil || !ok || iotdm.TerminalExecution(rec.Status) {
		return err
	}
	return jt.transition(rec, iotdm.ExecutionRemoved, nil, nil, false)
}

// thingDeleted removes a deleted thing from every job: its pending
// executions become REMOVED and its pending rollout targets are dropped.
func (j *Jobs) thingDeleted(ctx context.Context, thing string) error {
	return j.update(ctx, j.opts.Now(), func(jt *jobTx) error {
		var ids []string
		err := jt.tx.Scan(ctx, iotdm.KindJob, "", "", 0, func(key string, _ []byte) error {
			ids = append(ids, key)
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			job, err := jt.job(id)
			if err != nil {
				return err
			}
			if job.Status == iotdm.JobDeletionInProgress {
				continue
			}
			if err := jt.untarget(job, thing); err != nil {
				return err
			}
		}
		return nil
	})
}

// reconcile queues, for every running continuous job, the targeted things
// that have no execution and are not pending.
func (j *Jobs) reconcile(ctx context.Context) error {
	var jobs []*iotdm.JobRecord
	err := j.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		var err error
		jobs, err = continuousJobs(ctx, tx, nil)
		return err
	})
	if err != nil {
		return err
	}
	for _, job := range jobs {
		var things []string
		err := j.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
			var err error
			things, _, err = j.resolveTargets(ctx, tx, job.Targets)
			return err
		})
		if err != nil {
			j.log.Warn("jobs: resolve targets", "job", job.JobID, "err", err)
			continue
		}
		for start := 0; start < len(things); start += j.opts.BatchSize {
			batch := things[start:min(start+j.opts.BatchSize, len(things))]
			err := j.update(ctx, j.opts.Now(), func(jt *jobTx) error {
				job, err := jt.job(job.JobID)
				if err != nil {
					return err
				}
				for _, thing := range batch {
					if _, err := jt.enqueue(job, thing); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if err := j.rollout(ctx, job.JobID, j.opts.Now()); err != nil {
			return err
		}
	}
	return nil
}
