package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/broker"
	"github.com/iotdm/iotdm/internal/fleetindex"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/pki/cafile"
	"github.com/iotdm/iotdm/internal/postgres"
	"github.com/iotdm/iotdm/internal/sqlite"
	"github.com/iotdm/iotdm/internal/telemetry"
)

// Files of the data directory the server owns.
const (
	storeFileName = "iotdm.db"   // the SQLite store
	lockFileName  = "iotdm.lock" // held while a server runs
)

// errDataDirLocked means another server holds the data directory.
var errDataDirLocked = errors.New("another iotdm server is using this data directory")

// server is one iotdm server: the store, the services over it and the HTTP
// endpoint in front of them. Start brings everything up in order and undoes
// what it started when a step fails; Close takes it down in reverse order.
// Tests run it in-process with HTTPAddr "127.0.0.1:0".
type server struct {
	cfg     Config
	version string
	log     *slog.Logger

	dataDir string // absolute
	lock    *os.File
	// metrics are served at /metrics; the store, the fleet index, the
	// broker and the API edge report to them.
	metrics *telemetry.Metrics
	key     AccessKey
	store   iotdm.Store
	db      *sqlite.DB   // the SQLite store, for the metric and log event stores beside it
	pg      *postgres.DB // or the PostgreSQL store several nodes share
	// cluster is this server's membership of a cluster (cluster.go); nil
	// for a server of its own.
	cluster *clusterRuntime
	// The leader's clean-up after dead nodes (startNodeWatch) runs until
	// stopWatch and is waited for (watchDone) before the services close.
	stopWatch context.CancelFunc
	watchDone sync.WaitGroup
	// monitor is fleet monitoring (monitoring.go); it stops after the broker
	// and before the store.
	monitor *monitoring
	ca      *pki.CA // the built-in CA, kept in the data directory (ca.pem, ca.key)
	// feeder keeps the fleet index and dynamic group memberships in step
	// with the store; it runs in a goroutine the server owns, stopped by
	// stopFeeder and waited for (feederDone) before the store closes.
	feeder     *fleetindex.Feeder
	stopFeeder context.CancelFunc
	feederDone chan struct{}
	feederErr  error // why Run returned, once feederDone is closed
	ln         net.Listener
	http       *http.Server
	// broker is the MQTT broker devices connect to (mqtt.go); mqtt holds
	// the device access and the follower that keeps sessions in step with
	// the store. The broker closes before the store.
	broker *broker.Broker
	mqtt   mqttRuntime
	// services own background work (stack deployments) that must end
	// before the store closes.
	services *apiServices
	// cancelRequests cancels the context of in-flight requests once graceful
	// shutdown has given up on them.
	cancelRequests context.CancelFunc
	stateWritten   bool

	ready     atomic.Bool   // /healthz answers ok
	serveDone chan struct{} // closed when http.Server.Serve returns
	serveErr  error         // why Serve returned, unless Close asked it to

	closeOnce sync.Once
	closeErr  error
}

// newServer returns a server for cfg; nothing starts before Start.
func newServer(cfg Config, version string, logger *slog.Logger) *server {
	return &server{cfg: cfg, version: version, log: logger, metrics: telemetry.New()}
}

// Start opens the data directory and the store, builds the services, listens
// on the HTTP address and writes server.json. When it returns nil the server
// answers requests; when it returns an error, everything it started is closed.
func (s *server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			// Undo what started. The shutdown context is short: nothing
			// has served a request yet.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if cerr := s.Close(cctx); cerr != nil {
				err = errors.Join(err, fmt.Errorf("undo start: %w", cerr))
			}
		}
	}()

	dir, err := filepath.Abs(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("resolve data directory: %w", err)
	}
	s.dataDir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if s.lock, err = lockDataDir(filepath.Join(dir, lockFileName)); err != nil {
		if errors.Is(err, errDataDirLocked) {
			return fmt.Errorf("%s: %w", dir, err)
		}
		return fmt.Errorf("lock data directory: %w", err)
	}
	if s.key, err = ensureCredentials(dir, s.cfg.AdminKey, s.log.With("component", "credentials")); err != nil {
		return fmt.Errorf("admin credentials: %w", err)
	}
	if err := ensureAWSConfig(dir); err != nil {
		return err
	}
	if s.cfg.Store == "" || s.cfg.Store == "sqlite" {
		if s.db, err = openStore(ctx, filepath.Join(dir, storeFileName), s.cfg.StoreCacheBytes, s.metrics, s.log.With("component", "store")); err != nil {
			return fmt.Errorf("open store: %w", err)
		}
		s.store = s.db
	} else {
		if s.pg, err = postgres.Open(ctx, s.cfg.Store, postgres.Options{Logger: s.log.With("component", "store"), OnCommit: s.metrics.ObserveCommit}); err != nil {
			return fmt.Errorf("open store: %w", err)
		}
		s.store = s.pg
		// Nodes sharing the store share the admin key and the CA.
		if s.key, err = sharedAdminKey(ctx, s.store, dir, s.key, s.cfg.AdminKey != nil, s.log); err != nil {
			return fmt.Errorf("admin credentials: %w", err)
		}
	}
	if err := s.startFeeder(ctx); err != nil {
		return err
	}
	if s.pg != nil {
		s.ca, err = sharedCA(ctx, s.store, dir, pki.CAOptions{Validity: s.cfg.CAValidity})
	} else {
		s.ca, err = cafile.LoadOrCreate(dir, pki.CAOptions{Validity: s.cfg.CAValidity})
	}
	if err != nil {
		return fmt.Errorf("certificate authority: %w", err)
	}
	if err := s.startCluster(ctx); err != nil {
		return err
	}
	s.log.Info("certificate authority ready", "caFile", filepath.Join(dir, cafile.CertFile))

	var lc net.ListenConfig
	if s.ln, err = lc.Listen(ctx, "tcp", s.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.HTTPAddr, err)
	}
	httpAddr := s.ln.Addr().String()
	if err := s.openMonitoring(ctx); err != nil {
		return err
	}
	if err := s.startBroker(ctx); err != nil {
		return err
	}
	s.startMonitoring(ctx)
	mqttAddr := s.broker.Addr().String()

	api, services, err := newAPIHandler(ctx, apiDeps{
		cfg:          s.cfg,
		store:        s.store,
		key:          s.key,
		httpEndpoint: clientHostPort(httpAddr),
		mqttEndpoint: mqttEndpoint(mqttAddr),
		logger:       s.log,
		feeder:       s.feeder,
		ca:           s.ca,
		shadows:      s.mqtt.shadows,
		connectivity: s.mqtt.connectivity,
		bus:          messageBus{b: s.broker},
		metrics:      s.metrics,
		monitor:      s.monitor,
		jobs:         s.mqtt.jobs,
		nodeID:       s.nodeID(),
	})
	if err != nil {
		return err
	}
	s.services = services
	s.startNodeWatch(s.mqtt.connectivity.ResetNodes, services.stacks.RecoverNodes)
	info := healthInfo{Version: s.version, Region: s.cfg.Region, AccountID: s.cfg.AccountID, HTTPAddr: httpAddr}
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	s.cancelRequests = cancelRequests
	s.http = &http.Server{
		Handler:           routes(healthHandler(info, &s.ready), s.metrics.Handler(), services.console, api),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.With("component", "http").Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
	}
	// Live console pages (server-sent events) end when shutdown begins.
	s.http.RegisterOnShutdown(services.stopConsole)
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = fmt.Errorf("serve http: %w", err)
		}
	}()

	st := serverState{
		PID:       os.Getpid(),
		Version:   s.version,
		HTTPAddr:  httpAddr,
		Endpoint:  "http://" + clientHostPort(httpAddr),
		MQTTAddr:  mqttAddr,
		Region:    s.cfg.Region,
		AccountID: s.cfg.AccountID,
		DataDir:   dir,
		StartedAt: time.Now().UTC().Truncate(time.Second),
	}
	if a := s.broker.WebSocketAddr(); a != nil {
		st.MQTTWebSocketAddr = a.String()
	}
	if a := s.broker.PlainAddr(); a != nil {
		st.MQTTPlainAddr = a.String()
	}
	if err := writeServerState(dir, st); err != nil {
		return err
	}
	s.stateWritten = true
	s.ready.Store(true)
	s.log.Info("iotdm started", "version", s.version, "endpoint", st.Endpoint, "mqttAddr", mqttAddr, "dataDir", dir,
		"region", s.cfg.Region, "accountId", s.cfg.AccountID, "accessKeyId", s.key)
	return nil
}

// startFeeder starts the fleet index feeder over the store and waits for
// its initial build, so that the first request already searches a complete
// index and sees every dynamic group's membership.
func (s *server) startFeeder(ctx context.Context) error {
	s.feeder = fleetindex.NewFeeder(s.store, fleetindex.FeederOptions{Logger: s.log})
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopFeeder = cancel
	s.feederDone = make(chan struct{})
	go func() {
		defer close(s.feederDone)
		s.feederErr = s.feeder.Run(fctx)
		if s.feederErr != nil && fctx.Err() == nil {
			s.log.Error("fleet index stopped", "err", s.feederErr)
		}
	}()
	select {
	case <-s.feeder.Ready():
		// The build decoded every entity once: return its garbage to the
		// system now rather than over the next minutes.
		debug.FreeOSMemory()
		s.metrics.SetIndexSource(fleetIndexSource(s.feeder, s.store))
		return nil
	case <-s.feederDone:
		return fmt.Errorf("build fleet index: %w", s.feederErr)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Addr returns the address the HTTP endpoint is bound to; nil before Start.
func (s *server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// URL returns the endpoint URL clients use (AWS_ENDPOINT_URL); only after a
// successful Start.
func (s *server) URL() string { return "http://" + clientHostPort(s.Addr().String()) }

// DataDir returns the absolute data directory; "" before Start.
func (s *server) DataDir() string { return s.dataDir }

// Done is closed when the HTTP server stops serving, on Close or on failure.
func (s *server) Done() <-chan struct{} { return s.serveDone }

// Err returns why the HTTP server stopped on its own, after Done is closed;
// nil after a Close.
func (s *server) Err() error {
	<-s.serveDone
	return s.serveErr
}

// Close shuts the server down in order: /healthz turns unready, server.json
// is removed, the listener stops accepting, in-flight requests finish (until
// ctx ends; then they are cancelled and their connections closed), the MQTT
// broker disconnects its devices, the fleet index feeder stops, the store
// closes and the data directory is unlocked.
// It is idempotent, safe after a failed Start, and returns the first error.
func (s *server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

func (s *server) close(ctx context.Context) error {
	var first error
	keep := func(err error) {
		if first == nil && err != nil {
			first = err
		}
	}
	s.ready.Store(false)
	if s.stateWritten {
		keep(removeServerState(s.dataDir, os.Getpid()))
	}
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			s.cancelRequests()
			keep(fmt.Errorf("shut down http: %w", err))
			_ = s.http.Close() // in-flight requests were given up on above
		}
		<-s.serveDone
		s.cancelRequests()
	} else if s.ln != nil {
		keep(s.ln.Close())
	}
	s.stopNodeWatch()
	keep(s.services.Close(ctx))
	keep(s.stopBroker(ctx))
	s.stopCluster()
	keep(s.stopMonitoring(ctx))
	if s.feederDone != nil {
		s.stopFeeder()
		<-s.feederDone
		if s.feederErr != nil && !errors.Is(s.feederErr, context.Canceled) {
			keep(s.feederErr)
		}
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			keep(fmt.Errorf("close store: %w", err))
		}
	}
	if s.lock != nil {
		if err := s.lock.Close(); err != nil {
			keep(fmt.Errorf("unlock data directory: %w", err))
		}
	}
	if first == nil {
		s.log.Info("iotdm stopped")
	}
	return first
}

// clientHostPort turns a listen address into one a client on this machine
// can dial: an unspecified host (0.0.0.0, ::, empty) becomes the loopback
// address of its family.
func clientHostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// mqttEndpoint is the device endpoint DescribeEndpoint answers: the host of
// the MQTT address, with the port unless it is the standard 8883.
func mqttEndpoint(addr string) string {
	hp := clientHostPort(addr)
	host, port, err := net.SplitHostPort(hp)
	if err != nil || port == "8883" {
		return host
	}
	return hp
}
