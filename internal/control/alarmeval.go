package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/alarm"
)

// The alarm evaluator brings CloudWatch metric alarms to life. Every
// evaluation tick (aligned to multiples of Interval since the Unix epoch,
// plus Offset so the period just ended has its datapoints) it loads every
// alarm, asks the metric store for the statistic of each alarm's metric
// over its evaluation range (internal/alarm's Range), and computes the new
// state with internal/alarm. A change of state writes the alarm
// (StateValue, StateReason, StateReasonData, StateUpdatedTimestamp,
// StateTransitionedTimestamp) and a StateUpdate history item in one
// transaction, then hands the change to the alarm actions.
//
// An alarm changed by someone else between its load and its write (a
// PutMetricAlarm, a SetAlarmState) is left alone until the next tick.
//
// Not evaluated, with the reason in StateReason and EvaluationState
// EVALUATION_ERROR (AWS's state for "configuration errors in alarm setup"),
// the state left as it is: metric math alarms (Metrics), PromQL alarms
// (EvaluationCriteria), anomaly detection comparisons, and extended
// statistics other than percentiles (tm90, IQM...), which the metric store
// does not compute. The evaluator clears EvaluationState when such an
// alarm is redefined into one it evaluates.
//
// History items older than 30 days are deleted, as AWS keeps alarm history
// for 30 days, at most once an hour.

// EvaluationStateError is AWS's EvaluationState for an alarm whose
// configuration cannot be evaluated.
const EvaluationStateError = "EVALUATION_ERROR"

const (
	// DefaultAlarmInterval is how often alarms are evaluated.
	DefaultAlarmInterval = time.Minute
	// DefaultAlarmOffset is how long after each aligned tick alarms are
	// evaluated, for datapoints of the period just ended to arrive.
	DefaultAlarmOffset     = 5 * time.Second
	alarmHistoryRetention  = 30 * 24 * time.Hour
	alarmHistoryPruneEvery = time.Hour
)

// AlarmEvaluatorOptions configures an AlarmEvaluator.
type AlarmEvaluatorOptions struct {
	// Interval between evaluations; 0 means DefaultAlarmInterval.
	Interval time.Duration
	// Offset after each aligned tick; 0 means DefaultAlarmOffset, a
	// negative value none.
	Offset time.Duration
	// Actions is told about every state change (an *AlarmActions runs
	// their actions); nil tells no one.
	Actions AlarmStateNotifier
	Logger  *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// AlarmEvaluator evaluates every metric alarm of a store against a metric
// store. Run is its loop; EvaluateAt one evaluation.
type AlarmEvaluator struct {
	store     iotdm.Store
	metrics   iotdm.MetricStore
	opts      AlarmEvaluatorOptions
	log       *slog.Logger
	lastPrune time.Time // only Run's goroutine (or the caller of EvaluateAt) touches it
}

// NewAlarmEvaluator returns an evaluator of the alarms of store over the
// metrics of metrics.
func NewAlarmEvaluator(store iotdm.Store, metrics iotdm.MetricStore, opts AlarmEvaluatorOptions) *AlarmEvaluator {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultAlarmInterval
	}
	if opts.Offset == 0 {
		opts.Offset = DefaultAlarmOffset
	}
	opts.Offset = max(opts.Offset, 0)
	return &AlarmEvaluator{store: store, metrics: metrics, opts: opts, log: opts.Logger.With("component", "alarm-evaluator")}
}

// Run evaluates the alarms on every tick until ctx ends, and returns ctx's
// error. A failed evaluation is logged and retried on the next tick. Call
// it once.
func (e *AlarmEvaluator) Run(ctx context.Context) error {
	timer := time.NewTimer(e.untilNextTick())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		if err := e.EvaluateAt(ctx, e.opts.Now()); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.log.Warn("alarm evaluation failed", "err", err)
		}
		timer.Reset(e.untilNextTick())
	}
}

// untilNextTick is the time to the next multiple of Interval plus Offset.
func (e *AlarmEvaluator) untilNextTick() time.Duration {
	now := e.opts.Now()
	next := now.Truncate(e.opts.Interval).Add(e.opts.Offset)
	for !next.After(now) {
		next = next.Add(e.opts.Interval)
	}
	return next.Sub(now)
}

// EvaluateAt evaluates every alarm as of now. It returns the errors of the
// alarms it could not evaluate (reading metrics, writing the store),
// joined; the other alarms are evaluated all the same.
func (e *AlarmEvaluator) EvaluateAt(ctx context.Context, now time.Time) error {
	var alarms []*iotdm.StoredAlarm
	err := e.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return scanDecode(ctx, tx, iotdm.KindAlarm, "", func(_ string, a *iotdm.StoredAlarm) error {
			alarms = append(alarms, a)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("load alarms: %w", err)
	}
	var errs []error
	for _, a := range alarms {
		if err := e.evaluate(ctx, a, now); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("evaluate alarm %s: %w", a.AlarmName, err))
		}
	}
	if now.Sub(e.lastPrune) >= alarmHistoryPruneEvery {
		if err := pruneAlarmHistory(ctx, e.store, now.Add(-alarmHistoryRetention)); err != nil {
			errs = append(errs, err)
		} else {
			e.lastPrune = now
		}
	}
	return errors.Join(errs...)
}

// alarmDefinition is what internal/alarm needs of an alarm.
func alarmDefinition(a *iotdm.MetricAlarm) alarm.Definition {
	d := alarm.Definition{
		Period:             a.Period,
		EvaluationPeriods:  a.EvaluationPeriods,
		DatapointsToAlarm:  a.DatapointsToAlarm,
		ComparisonOperator: a.ComparisonOperator,
		Statistic:          a.Statistic,
		ExtendedStatistic:  a.ExtendedStatistic,
		TreatMissingData:   a.TreatMissingData,
	}
	if a.Threshold != nil {
		d.Threshold = *a.Threshold
	}
	return d
}

// unevaluable returns why the evaluator cannot evaluate a, or "".
func unevaluable(a *iotdm.MetricAlarm) string {
	switch {
	case len(a.Metrics) > 0:
		return "iotdm does not evaluate metric math alarms (Metrics); the alarm keeps its state."
	case a.EvaluationCriteria != nil:
		return "iotdm does not evaluate PromQL alarms (EvaluationCriteria); the alarm keeps its state."
	case a.ExtendedStatistic != "":
		if _, ok := alarm.Percentile(a.ExtendedStatistic); !ok {
			return fmt.Sprintf("iotdm evaluates percentile extended statistics (pNN.NN) only, not %s; the alarm keeps its state.", a.ExtendedStatistic)
		}
	}
	if err := alarmDefinition(a).Validate(); err != nil {
		return fmt.Sprintf("iotdm cannot evaluate this alarm: %v; the alarm keeps its state.", err)
	}
	return ""
}

// evaluate evaluates one alarm and writes a change of state.
func (e *AlarmEvaluator) evaluate(ctx context.Context, a *iotdm.StoredAlarm, now time.Time) error {
	if why := unevaluable(&a.MetricAlarm); why != "" {
		if a.EvaluationState == EvaluationStateError && a.StateReason == why {
			return nil
		}
		return e.write(ctx, a, now, func(s *iotdm.StoredAlarm, ts iotdm.Timestamp) *iotdm.AlarmHistoryItem {
			s.EvaluationState, s.StateReason, s.StateReasonData, s.StateUpdatedTimestamp = EvaluationStateError, why, "", ts
			return nil
		})
	}
	def := alarmDefinition(&a.MetricAlarm)
	points, err := e.datapoints(ctx, a, def, now)
	if err != nil {
		return err
	}
	res, err := alarm.Evaluate(def, a.StateValue, points, now)
	if err != nil {
		return err
	}
	if !res.Changed && a.EvaluationState == "" {
		return nil
	}
	var change *AlarmStateChange
	err = e.write(ctx, a, now, func(s *iotdm.StoredAlarm, ts iotdm.Timestamp) *iotdm.AlarmHistoryItem {
		s.EvaluationState = ""
		if !res.Changed {
			s.StateUpdatedTimestamp = ts // EvaluationState changed
			return nil
		}
		old := *s
		s.StateValue, s.StateReason, s.StateReasonData = res.State, res.Reason, res.ReasonData
		s.StateUpdatedTimestamp, s.StateTransitionedTimestamp = ts, ts
		change = &AlarmStateChange{Alarm: s.MetricAlarm, OldState: old.StateValue}
		item := stateUpdateHistory(&old.MetricAlarm, &s.MetricAlarm, ts)
		return &item
	})
	if err != nil {
		return err
	}
	if change != nil && e.opts.Actions != nil {
		e.opts.Actions.Enqueue(*change)
	}
	return nil
}

// write re-reads the alarm in a transaction and, unless someone changed it
// since it was loaded (or deleted it), applies update and records the
// history item update returns.
func (e *AlarmEvaluator) write(ctx context.Context, loaded *iotdm.StoredAlarm, now time.Time,
	update func(*iotdm.StoredAlarm, iotdm.Timestamp) *iotdm.AlarmHistoryItem) error {
	ts := iotdm.Timestamp{Time: now.UTC().Truncate(time.Millisecond)}
	return e.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		s, ok, err := get[iotdm.StoredAlarm](ctx, tx, iotdm.KindAlarm, loaded.AlarmName)
		if err != nil || !ok {
			return err
		}
		if !s.AlarmConfigurationUpdatedTimestamp.Equal(loaded.AlarmConfigurationUpdatedTimestamp.Time) ||
			!s.StateUpdatedTimestamp.Equal(loaded.StateUpdatedTimestamp.Time) || s.StateValue != loaded.StateValue {
			return nil // changed meanwhile: the next tick sees the new alarm
		}
		item := update(s, ts)
		if err := put(ctx, tx, iotdm.KindAlarm, s.AlarmName, s); err != nil {
			return err
		}
		if item == nil {
			return nil
		}
		return putAlarmHistory(ctx, tx, *item)
	})
}

// datapoints reads the alarm's statistic for each period of its
// evaluation range.
func (e *AlarmEvaluator) datapoints(ctx context.Context, a *iotdm.StoredAlarm, def alarm.Definition, now time.Time) ([]alarm.Point, error) {
	starts := alarm.Range(def, now)
	period := time.Duration(a.Period) * time.Second
	r := iotdm.MetricRange{
		Metric: iotdm.Metric{Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions},
		Start:  starts[0],
		End:    starts[len(starts)-1].Add(period),
		Period: period,
		Unit:   a.Unit,
	}
	if p, ok := alarm.Percentile(a.ExtendedStatistic); ok {
		r.Percentiles = []float64{p}
	}
	buckets, err := e.metrics.MetricStatistics(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("read metric %s/%s: %w", a.Namespace, a.MetricName, err)
	}
	byStart := make(map[int64]iotdm.MetricBucket, len(buckets))
	for _, b := range buckets {
		byStart[b.Timestamp.Unix()] = b
	}
	points := make([]alarm.Point, len(starts))
	for i, start := range starts {
		points[i] = alarm.Point{Timestamp: start, Missing: true}
		b, ok := byStart[start.Unix()]
		if !ok || b.SampleCount == 0 {
			continue
		}
		v, ok := def.Value(alarm.Stats{SampleCount: b.SampleCount, Sum: b.Sum, Minimum: b.Minimum, Maximum: b.Maximum, Percentiles: b.Percentiles})
		if ok {
			points[i] = alarm.Point{Timestamp: start, Value: v, SampleCount: b.SampleCount}
		}
	}
	return points, nil
}
