package main

import (
	"cmp"
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/awsapi"
	"github.com/iotdm/iotdm/internal/console"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/fleetindex"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/sqlite"
	"github.com/iotdm/iotdm/internal/stack"
	"github.com/iotdm/iotdm/internal/telemetry"
)

// openStore opens the SQLite store at path, reporting its commits to
// metrics.
func openStore(ctx context.Context, path string, cacheBytes int64, metrics *telemetry.Metrics, logger *slog.Logger) (*sqlite.DB, error) {
	if cacheBytes == 0 {
		cacheBytes = -1 // sqlite: 0 is its default budget, negative no cache
	}
	db, err := sqlite.OpenOptions(ctx, path, sqlite.Options{Logger: logger, CacheBytes: cacheBytes, OnCommit: metrics.ObserveCommit})
	if err != nil {
		return nil, err
	}
	return db, nil
}

// apiDeps is what the AWS API edge is built from.
type apiDeps struct {
	cfg          Config
	store        iotdm.Store
	key          AccessKey // the one admin key requests are signed with
	httpEndpoint string    // host:port clients reach the HTTP endpoint at
	mqttEndpoint string    // device endpoint DescribeEndpoint answers
	logger       *slog.Logger
	feeder       *fleetindex.Feeder // the fleet indices (AWS_Things, AWS_ThingGroups), already built
	ca           *pki.CA            // the built-in CA that issues device certificates
	// The services the MQTT side shares with the API.
	shadows      *control.Shadows
	connectivity *control.Connectivity
	bus          control.MessageBus // the broker, for iot-data Publish and retained messages
	monitor      *monitoring        // metric and log event stores, alarm actions
	jobs         *control.Jobs      // AWS IoT Jobs, whose device side runs on the broker
	metrics      *telemetry.Metrics // counts every request
	nodeID       string             // this node of a cluster, "" without one
}

// apiServices are the services behind the API edge that own background
// work and must be closed before the store.
type apiServices struct {
	stacks *stack.Service
	// console is the web console at /console/; stopConsole ends its live
	// streams.
	console     http.Handler
	stopConsole func()
}

// Close waits for (or, when ctx ends, cancels) stack operations in flight.
func (s *apiServices) Close(ctx context.Context) error {
	if s == nil || s.stacks == nil {
		return nil
	}
	return s.stacks.Close(ctx)
}

// newAPIHandler builds the services over the store and the SigV4 edge in
// front of them, routed by signing name.
func newAPIHandler(ctx context.Context, d apiDeps) (http.Handler, *apiServices, error) {
	registry := control.NewRegistry(d.store, control.RegistryOptions{
		Region:       d.cfg.Region,
		AccountID:    d.cfg.AccountID,
		MQTTEndpoint: d.mqttEndpoint,
		HTTPEndpoint: d.httpEndpoint,
		// The registry takes 0 as "AWS's default" and a negative wait as none.
		ThingTypeDeleteDelay: cmp.Or(d.cfg.ThingTypeDeleteWait, -1),
		Dynamic:              d.feeder,
		Logger:               d.logger, // the registry names its own component
	})
	edge := awsapi.New(awsapi.Config{
		Keys:      adminKeyLookup(d.key),
		Logger:    d.logger.With("component", "awsapi"),
		OnRequest: d.metrics.ObserveRequest,
	})
	indexing := control.NewIndexing(d.store, control.IndexingOptions{Logger: d.logger})
	search := control.NewSearch(d.store, d.feeder, control.SearchOptions{Logger: d.logger})
	certs := control.NewCertificates(d.store, d.ca, control.CertificatesOptions{Region: d.cfg.Region, AccountID: d.cfg.AccountID, Logger: d.logger})
	pols := control.NewPolicies(d.store, control.PoliciesOptions{Region: d.cfg.Region, AccountID: d.cfg.AccountID, Logger: d.logger})
	fleetMetrics := control.NewFleetMetrics(d.store, control.FleetMetricsOptions{Region: d.cfg.Region, AccountID: d.cfg.AccountID,
		MinPeriod: d.cfg.FleetMetricMinPeriod, Logger: d.logger})
	edge.Handle("iot", awsapi.NewIoT(registry, awsapi.IndexingRoutes(indexing, registry), awsapi.SearchRoutes(search),
		awsapi.SecurityRoutes(certs, pols), awsapi.ConnectivityRoutes(d.connectivity, d.connectivity),
		awsapi.FleetMetricsRoutes(fleetMetrics),
		awsapi.JobsRoutes(d.jobs),
		awsapi.ProvisioningRoutes(control.NewFleetProvisioning(d.store, d.ca, control.ProvisioningOptions{Region: d.cfg.Region,
			AccountID: d.cfg.AccountID, Logger: d.logger})),
		awsapi.LoggingRoutes(control.NewIoTLogging(d.store, control.IoTLoggingOptions{Logger: d.logger}))))
	// CloudWatch Logs: log groups, their streams and events.
	logGroups := d.monitor.logEvents.Groups(control.NewLogGroups(d.store, control.LogGroupsOptions{Region: d.cfg.Region,
		AccountID: d.cfg.AccountID, Logger: d.logger}))
	edge.Handle("logs", awsapi.NewLogsWithEvents(logGroups, d.monitor.logEvents))
	// CloudWatch: metrics over the metric store, alarms with their history
	// and actions, dashboards.
	alarms := control.NewAlarmOps(control.NewAlarms(d.store, control.AlarmsOptions{Region: d.cfg.Region, AccountID: d.cfg.AccountID,
		Logger: d.logger}), d.monitor.actions)
	dashboards := control.NewDashboards(d.store, control.DashboardsOptions{Region: d.cfg.Region, AccountID: d.cfg.AccountID, Logger: d.logger})
	cloudWatch := control.NewMetrics(d.monitor.metrics, control.MetricsOptions{Logger: d.logger})
	edge.Handle("monitoring", awsapi.NewCloudWatch(cloudWatch, alarms, dashboards))

	iot := &stack.IoT{Registry: registry, Dynamic: registry, Policies: pols, Certificates: certs, FleetMetrics: fleetMetrics,
		ThingTypeDeleteRetry: d.cfg.ThingTypeDeleteWait + time.Minute}
	mon := &stack.Monitoring{LogGroups: logGroups, Alarms: alarms, Dashboards: dashboards}
	catalog := stack.NewCatalog(append(iot.Types(), mon.Types()...)...)
	stacks, err := stack.NewService(ctx, d.store, catalog, stack.ServiceOptions{Region: d.cfg.Region, AccountID: d.cfg.AccountID,
		Node: d.nodeID, Logger: d.logger})
	if err != nil {
		return nil, nil, fmt.Errorf("stacks: %w", err)
	}
	edge.Handle("cloudformation", awsapi.NewCloudFormation(stacks))
	// The SDK models sign iot-data requests as iotdata; the developer guide
	// tells hand-written clients to sign as iotdevicegateway. Both reach the
	// same shadows.
	data := awsapi.NewIoTData(d.shadows, awsapi.MessagingRoutes(control.NewMessaging(d.bus, d.shadows, d.logger)))
	edge.Handle("iotdata", data)
	edge.Handle("iotdevicegateway", data)
	edge.Handle(awsapi.JobsDataSigningName, awsapi.NewIoTJobsData(d.jobs.Data()))
	stop := make(chan struct{})
	web := console.New(console.Deps{
		Keys: adminKeyLookup(d.key), Store: d.store, Registry: registry, Search: search, Indexing: indexing,
		Shadows: d.shadows, Connectivity: d.connectivity, Certificates: certs, Policies: pols,
		FleetMetrics: fleetMetrics, Alarms: alarms, Dashboards: dashboards, LogGroups: logGroups, Stacks: stacks, Jobs: d.jobs,
		Metrics: d.monitor.metrics, LogEvents: thingLogEvents(d.monitor.logEvents), Logger: d.logger,
	}, console.Options{Region: d.cfg.Region, AccountID: d.cfg.AccountID, Shutdown: stop})
	return edge, &apiServices{stacks: stacks, console: web, stopConsole: sync.OnceFunc(func() { close(stop) })}, nil
}

// adminKeyLookup authenticates requests against the admin key only.
func adminKeyLookup(key AccessKey) awsapi.KeyLookup {
	return func(accessKeyID string) (string, bool) {
		if subtle.ConstantTimeCompare([]byte(accessKeyID), []byte(key.ID)) != 1 {
			return "", false
		}
		return key.Secret, true
	}
}

// thingLogEvents reads a thing's recent AWS IoT log events (the last day of
// AWSIotLogsV2, where its client id or thing name appears), newest first,
// for the console's thing page.
func thingLogEvents(logs *control.LogEvents) func(ctx context.Context, thing string, limit int) ([]console.LogEvent, error) {
	return func(ctx context.Context, thing string, limit int) ([]console.LogEvent, error) {
		start := time.Now().Add(-24 * time.Hour).UnixMilli()
		in := &iotdm.FilterLogEventsInput{LogGroupName: iotdm.IoTLogGroupName, StartTime: &start,
			FilterPattern: fmt.Sprintf(`{ $.clientId = %q || $.thingName = %q }`, thing, thing)}
		var all []console.LogEvent
		for page := 0; page < 20; page++ {
			out, err := logs.FilterLogEvents(ctx, in)
			if iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
				return nil, nil // logging has never written anything
			}
			if err != nil {
				return nil, err
			}
			for _, e := range out.Events {
				all = append(all, console.LogEvent{Time: time.UnixMilli(e.Timestamp), LogGroup: iotdm.IoTLogGroupName,
					LogStream: e.LogStreamName, Message: e.Message})
			}
			if out.NextToken == "" {
				break
			}
			in.NextToken = out.NextToken
		}
		if len(all) > limit {
			all = all[len(all)-limit:]
		}
		slices.Reverse(all)
		return all, nil
	}
}
