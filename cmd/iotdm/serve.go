package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGINT or SIGTERM.
const shutdownTimeout = 15 * time.Second

// runServe runs the server until ctx ends (SIGINT or SIGTERM in the
// process), then shuts it down gracefully. It returns nil after a clean
// shutdown. The one line for the user goes to stderr; everything else is
// logged.
func runServe(ctx context.Context, cfg Config, version string, logger *slog.Logger, stderr io.Writer) error {
	s := newServer(cfg, version, logger)
	if err := s.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "iotdm: AWS IoT endpoint %s is ready; to use it from a shell: eval \"$(iotdm env --data-dir %s)\"\n",
		s.URL(), shellQuote(s.DataDir()))

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "cause", context.Cause(ctx))
	case <-s.Done():
		runErr = s.Err()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := s.Close(sctx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}
