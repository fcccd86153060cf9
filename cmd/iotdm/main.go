// Command iotdm is a self-hosted AWS IoT Core compatible server in one
// binary.
//
//	iotdm serve [flags]    run the server
//	iotdm env [flags]      print shell exports for the AWS CLI and SDKs
//	iotdm version          print the version
//	iotdm help [command]   show help
//
// main is the composition root: it reads the configuration, chooses the log
// handler, handles signals and wires the store, the services and the wire
// adapters together. docs/configuration.md describes every option.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/google/uuid"
	"golang.org/x/term"
)

func main() {
	tuneRuntime()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	a := &app{
		env:         environMap(os.Environ()),
		stdin:       os.Stdin,
		interactive: isTerminal(os.Stdin),
		stdout:      os.Stdout,
		stderr:      os.Stderr,
		readFile:    readFileLimited,
		version:     buildVersion(),
		newLogger: func(w io.Writer, level slog.Level) *slog.Logger {
			return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
		},
	}
	code := a.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// readFileLimited reads a config file, but no more than one byte past the
// size loadConfig accepts, so --config /dev/zero cannot exhaust memory.
func readFileLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

// isTerminal reports whether f is a terminal (not /dev/null, a pipe or a
// file).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// environMap turns os.Environ into a map.
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// tuneRuntime sets process-wide knobs that only main may set. A request
// allocates a few kilobytes, so with a small live heap the default
// GOGC=100 collects very often, while with a large fleet index a fixed
// GOGC of 400 would quintuple the resident memory: gcTuner keeps the
// headroom near 256 MiB instead. GOGC in the environment still wins.
// Random UUIDs (thing ids, request ids) come from a buffered pool instead
// of a syscall each.
func tuneRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(maxGOGC)
		startGCTuner()
	}
	uuid.EnableRandPool()
}
