package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/fleetindex"
	"github.com/iotdm/iotdm/internal/postgres"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// monitoring is the fleet monitoring of a server: the metric and log event
// stores beside the entity store, and the loops that feed and watch them —
// the fleet metric scheduler, the alarm evaluator and its actions, log
// retention and the AWS IoT logger. open builds it before the broker (which
// logs through the IoT logger), start runs its loops once the broker can
// carry alarm actions, and stop ends them before the stores close.
type monitoring struct {
	metrics   closingMetricStore
	events    closingLogEventStore
	logEvents *control.LogEvents
	iotLog    *control.IoTLogger
	actions   *control.AlarmActions
	sched     *control.FleetMetricScheduler
	eval      *control.AlarmEvaluator

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// closingMetricStore and closingLogEventStore are the stores beside the
// entity store, on SQLite or PostgreSQL like it.
type (
	closingMetricStore interface {
		iotdm.MetricStore
		Close() error
	}
	closingLogEventStore interface {
		iotdm.LogEventStore
		Close() error
	}
)

// openMonitoring opens the metric and log event stores and builds the
// services over them.
func (s *server) openMonitoring(ctx context.Context) error {
	m := &monitoring{}
	s.monitor = m
	metricsLog := s.log.With("component", "metrics")
	if s.pg != nil {
		metrics, err := postgres.OpenMetricStore(ctx, s.pg.Pool(), postgres.MetricOptions{Logger: metricsLog})
		if err != nil {
			return fmt.Errorf("open metric store: %w", err)
		}
		m.metrics = metrics
		events, err := postgres.OpenLogEventStore(ctx, s.pg.Pool())
		if err != nil {
			return fmt.Errorf("open log event store: %w", err)
		}
		m.events = events
	} else {
		metrics, err := sqlite.OpenMetricStore(ctx, s.db, sqlite.MetricOptions{Logger: metricsLog})
		if err != nil {
			return fmt.Errorf("open metric store: %w", err)
		}
		m.metrics = metrics
		events, err := sqlite.OpenLogEventStore(ctx, s.db)
		if err != nil {
			return fmt.Errorf("open log event store: %w", err)
		}
		m.events = events
	}
	m.logEvents = control.NewLogEvents(s.store, m.events, control.LogEventsOptions{Region: s.cfg.Region, AccountID: s.cfg.AccountID,
		Logger: s.log.With("component", "logs")})
	m.iotLog = control.NewIoTLogger(s.store, m.logEvents, control.IoTLoggerOptions{AccountID: s.cfg.AccountID,
		Logger: s.log.With("component", "iotlogging")})
	return nil
}

// startMonitoring starts the loops; the broker carries the alarm actions
// published over MQTT.
func (s *server) startMonitoring(ctx context.Context) {
	m := s.monitor
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	// Custom fields the fleet index cannot index for their type are logged
	// as AWS IoT does (IndexingCustomFieldFailed).
	if s.feeder != nil {
		s.feeder.SetCustomFieldHook(func(thing string, failures []fleetindex.CustomFieldFailure) {
			fields := make([]control.FailedCustomField, len(failures))
			for i, f := range failures {
				fields[i] = control.FailedCustomField{Name: f.Name, Value: f.Value, ExpectedType: f.ExpectedType}
			}
			if s.leading() { // every node's index sees it; one logs it
				m.iotLog.IndexingCustomFieldFailed(thing, fields)
			}
		})
	}
	m.actions = control.NewAlarmActions(s.store, control.AlarmActionsOptions{Region: s.cfg.Region, AccountID: s.cfg.AccountID,
		Bus: messageBus{b: s.broker}, Logs: m.logEvents, PublishStateChanges: true, Logger: s.log.With("component", "alarms")})
	m.eval = control.NewAlarmEvaluator(s.store, m.metrics, control.AlarmEvaluatorOptions{Interval: s.cfg.AlarmEvaluationInterval,
		Offset: alarmOffset(s.cfg), Actions: m.actions, Logger: s.log.With("component", "alarms")})
	m.sched = control.NewFleetMetricScheduler(s.store, s.feeder, m.metrics, control.FleetMetricSchedulerOptions{
		Logger: s.log.With("component", "fleetmetrics")})
	// Evaluation, fleet metrics and retention follow the clock: in a
	// cluster the leader alone runs them.
	lead := func(run func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error { return s.lead(ctx, run) }
	}
	for name, run := range map[string]func(context.Context) error{
		"alarm actions":          m.actions.Run,
		"alarm evaluation":       lead(m.eval.Run),
		"fleet metric scheduler": lead(m.sched.Run),
		"log retention":          lead(m.logEvents.Run),
		"iot logging":            m.iotLog.Run,
	} {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if err := run(lctx); err != nil && lctx.Err() == nil {
				s.log.Error(name+" stopped", "err", err)
			}
		}()
	}
}

// alarmOffset is how long after each aligned tick alarms are evaluated:
// AWS's few seconds for minute ticks, none for development intervals.
func alarmOffset(cfg Config) time.Duration {
	if cfg.AlarmEvaluationInterval > 0 && cfg.AlarmEvaluationInterval < 60e9 {
		return -1
	}
	return 0
}

// stopMonitoring writes the queued IoT log entries, stops the loops and
// closes the stores. It is safe when open failed halfway.
func (s *server) stopMonitoring(ctx context.Context) error {
	m := s.monitor
	if m == nil {
		return nil
	}
	var errs []error
	if m.cancel != nil {
		if s.feeder != nil {
			s.feeder.SetCustomFieldHook(nil)
		}
		if err := m.iotLog.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("write iot logs: %w", err))
		}
		m.cancel()
		m.wg.Wait()
	}
	if m.metrics != nil {
		if err := m.metrics.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close metric store: %w", err))
		}
	}
	if m.events != nil {
		if err := m.events.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close log event store: %w", err))
		}
	}
	return errors.Join(errs...)
}
