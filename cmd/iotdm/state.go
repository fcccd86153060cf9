package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// stateFileName is the file a running server describes itself in.
const stateFileName = "server.json"

// serverState is the content of DATA-DIR/server.json: what a running server
// actually bound, for iotdm env and for scripts. It exists only while the
// server runs.
type serverState struct {
	PID      int    `json:"pid"`
	Version  string `json:"version"`
	HTTPAddr string `json:"httpAddr"`           // bound address, e.g. 127.0.0.1:4580
	Endpoint string `json:"endpoint"`           // URL for AWS_ENDPOINT_URL, e.g. http://127.0.0.1:4580
	MQTTAddr string `json:"mqttAddr,omitempty"` // bound MQTT over TLS address, e.g. 127.0.0.1:8883
	// The bound addresses of the MQTT over WebSocket and plain TCP
	// listeners, when they are on.
	MQTTWebSocketAddr string    `json:"mqttWebSocketAddr,omitempty"`
	MQTTPlainAddr     string    `json:"mqttPlainAddr,omitempty"`
	Region            string    `json:"region"`
	AccountID         string    `json:"accountId"`
	DataDir           string    `json:"dataDir"` // absolute
	StartedAt         time.Time `json:"startedAt"`
}

// writeServerState writes DIR/server.json atomically.
func writeServerState(dir string, st serverState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode server state: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, stateFileName), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write server state: %w", err)
	}
	return nil
}

// readServerState reads DIR/server.json; the error wraps fs.ErrNotExist when
// there is none.
func readServerState(dir string) (serverState, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFileName))
	if err != nil {
		return serverState{}, fmt.Errorf("read server state: %w", err)
	}
	var st serverState
	if err := json.Unmarshal(b, &st); err != nil {
		return serverState{}, fmt.Errorf("decode %s: %w", filepath.Join(dir, stateFileName), err)
	}
	return st, nil
}

// removeServerState removes DIR/server.json if it still describes the
// process pid; another server may have replaced it.
func removeServerState(dir string, pid int) error {
	st, err := readServerState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && st.PID != pid {
		return nil
	}
	if err := os.Remove(filepath.Join(dir, stateFileName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove server state: %w", err)
	}
	return nil
}
