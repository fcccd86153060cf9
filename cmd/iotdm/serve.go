package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/iotdm/iotdm/internal/memtrim"
	"github.com/iotdm/iotdm/stacks"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGINT or SIGTERM.
const shutdownTimeout = 15 * time.Second

// runServe runs the server until ctx ends (SIGINT or SIGTERM in the
// process), then shuts it down gracefully. It returns nil after a clean
// shutdown. The one line for the user goes to stderr; everything else is
// logged.
func runServe(ctx context.Context, cfg Config, version string, logger *slog.Logger, stderr io.Writer) error {
	return serve(ctx, cfg, version, logger, stderr, func(ctx context.Context, s *server) error {
		fmt.Fprintf(stderr, "iotdm: AWS IoT endpoint %s is ready; to use it from a shell: eval \"$(iotdm env --data-dir %s)\"\n",
			s.URL(), shellQuote(s.DataDir()))
		return nil
	})
}

// runUp is serve with the seed stack deployed: after the start it deploys
// IoTDeviceManagementStack if it is absent or differs from the embedded
// template, then prints where everything is.
func runUp(ctx context.Context, cfg Config, version string, logger *slog.Logger, stdout, stderr io.Writer) error {
	return serve(ctx, cfg, version, logger, stderr, func(ctx context.Context, s *server) error {
		if err := s.deploySeed(ctx, stdout); err != nil {
			return fmt.Errorf("deploy %s: %w", stacks.SeedName, err)
		}
		printUp(stdout, s)
		if cfg.Simulate >= 0 {
			// Simulated devices run until the server stops; their failure
			// is reported, not a reason to stop serving.
			if err := s.simulate(ctx, cfg.Simulate, stdout); err != nil {
				fmt.Fprintf(stderr, "iotdm up: simulated devices stopped: %v\n", err)
			}
		}
		return nil
	})
}

// serve starts the server, runs ready, and serves until ctx ends; a
// failing ready shuts the server down and is returned.
func serve(ctx context.Context, cfg Config, version string, logger *slog.Logger, stderr io.Writer, ready func(context.Context, *server) error) error {
	s := newServer(cfg, version, logger)
	if err := s.Start(ctx); err != nil {
		return err
	}
	// The process's spare heap goes back to the system whenever it turns
	// quiet after a burst (a fleet reconnecting, a bulk import).
	trimCtx, stopTrim := context.WithCancel(ctx)
	trimDone := make(chan struct{})
	go func() {
		defer close(trimDone)
		memtrim.New(memtrim.Options{Logger: logger.With("component", "memtrim")}).Run(trimCtx)
	}()
	defer func() {
		stopTrim()
		<-trimDone
	}()
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	readyErr := make(chan error, 1)
	go func() { readyErr <- ready(rctx, s) }()

	var runErr error
	for running := true; running; {
		select {
		case <-ctx.Done():
			logger.Info("shutting down", "cause", context.Cause(ctx))
			running = false
		case <-s.Done():
			runErr, running = s.Err(), false
		case err := <-readyErr:
			readyErr = nil // a nil channel is never selected again
			if err != nil {
				runErr, running = err, false
			}
		}
	}
	if readyErr != nil {
		rcancel()
		<-readyErr
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := s.Close(sctx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}
