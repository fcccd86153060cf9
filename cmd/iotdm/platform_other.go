//go:build !unix

package main

import (
	"fmt"
	"os"
)

// lockDataDir opens the lock file; without flock it cannot keep a second
// server out of the data directory.
func lockDataDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	return f, nil
}

// processAlive reports whether a process with the id exists, as far as
// os.FindProcess can tell.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}
