package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // bad command line or configuration
)

// app is the process seen by the commands: arguments aside, everything they
// read from or write to the outside, so tests can run them in-process.
type app struct {
	env   map[string]string
	stdin io.Reader
	// interactive is true when stdin is a terminal a question can be
	// asked on.
	interactive bool
	stdout      io.Writer
	stderr      io.Writer
	readFile    func(name string) ([]byte, error)
	version     string
	// newLogger builds the logger of serve; main chooses the handler.
	newLogger func(w io.Writer, level slog.Level) *slog.Logger
}

// run runs the command in args and returns the process exit code.
func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, mainUsage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "stack":
		return a.runStack(ctx, rest)
	case "provision":
		return a.runProvision(ctx, rest)
	case "simulate":
		return a.runSimulate(ctx, rest)
	case "serve", "env", "up":
		cfg, err := loadConfig(rest, a.env, a.readFile)
		if errors.Is(err, errHelp) {
			fmt.Fprint(a.stdout, commandUsage(cmd))
			return exitOK
		}
		if err != nil {
			fmt.Fprintf(a.stderr, "iotdm %s: %v\nRun 'iotdm help %s' for usage.\n", cmd, err, cmd)
			return exitUsage
		}
		switch cmd {
		case "env":
			err = runEnv(cfg, a.env, a.stdout, a.stderr)
		case "up":
			logger := a.newLogger(a.stderr, cfg.LogLevel)
			err = runUp(ctx, cfg, a.version, logger, a.stdout, a.stderr)
		default:
			logger := a.newLogger(a.stderr, cfg.LogLevel)
			err = runServe(ctx, cfg, a.version, logger, a.stderr)
		}
		if err != nil {
			fmt.Fprintf(a.stderr, "iotdm %s: %v\n", cmd, err)
			return exitError
		}
		return exitOK
	case "version", "-version", "--version":
		if len(rest) > 0 {
			fmt.Fprintf(a.stderr, "iotdm version: unexpected argument %q\n", rest[0])
			return exitUsage
		}
		if err := runVersion(a.version, a.stdout); err != nil {
			fmt.Fprintf(a.stderr, "iotdm version: %v\n", err)
			return exitError
		}
		return exitOK
	case "help", "-h", "-help", "--help":
		switch {
		case len(rest) == 0:
			fmt.Fprint(a.stdout, mainUsage)
		case len(rest) == 1 && commandUsage(rest[0]) != "":
			fmt.Fprint(a.stdout, commandUsage(rest[0]))
		default:
			fmt.Fprintf(a.stderr, "iotdm help: unknown command %q\n%s", strings.Join(rest, " "), mainUsage)
			return exitUsage
		}
		return exitOK
	default:
		fmt.Fprintf(a.stderr, "iotdm: unknown command %q\n%s", cmd, mainUsage)
		return exitUsage
	}
}
