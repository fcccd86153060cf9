package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/iotdm/iotdm/bench/internal/child"
	"github.com/iotdm/iotdm/bench/internal/host"
	"github.com/iotdm/iotdm/bench/load"
)

// Server names, in the order each operation visits them.
const (
	srvCeiling = "ceiling"
	srvIotdm   = "iotdm"
	srvMoto    = "moto"
)

// target is one running server under test.
type target struct {
	name    string
	base    string // http://127.0.0.1:PORT
	proc    *child.Process
	raw     *load.RawClient           // the setup phase's client; also clients[raw]
	clients map[load.Kind]load.Client // one per -client kind
	things  int                       // things its setup phase registers
	created int64                     // things CreateThing runs (warm-ups included) added since
	fixture *load.Fixture
}

// fleet owns the child processes; stopAll ends every one of them.
type fleet struct{ procs []*child.Process }

func (f *fleet) stopAll() {
	for _, p := range f.procs {
		p.Stop(3 * time.Second)
	}
}

// buildBinaries compiles the Go servers that names needs into dir and returns
// their paths by server name.
func buildBinaries(ctx context.Context, cfg config, root, dir string) (map[string]string, error) {
	bins := map[string]string{}
	for _, name := range cfg.servers {
		var pkg string
		switch name {
		case srvCeiling:
			pkg = "./bench/ceiling"
		case srvIotdm:
			if _, err := os.Stat(filepath.Join(root, "cmd", "iotdm")); err != nil {
				return nil, fmt.Errorf("server iotdm: no ./cmd/iotdm in %s yet (use -servers ceiling,moto): %w", root, err)
			}
			pkg = "./cmd/iotdm"
		default:
			continue
		}
		out := filepath.Join(dir, name)
		fmt.Fprintf(os.Stderr, "building %s ...\n", pkg)
		if err := host.GoBuild(ctx, root, pkg, out); err != nil {
			return nil, err
		}
		bins[name] = out
	}
	return bins, nil
}

// startTarget starts the named server on a free loopback port and waits
// until it is ready.
func startTarget(ctx context.Context, cfg config, f *fleet, bins map[string]string, dir, name string) (*target, error) {
	port, err := child.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	t := &target{name: name, base: "http://" + addr, things: cfg.things}
	logPath := filepath.Join(dir, name+".log")
	var readyPath string
	switch name {
	case srvCeiling:
		t.proc, err = child.Start(name, logPath, nil, bins[name], "-addr", addr)
		readyPath = "/healthz"
	case srvIotdm:
		data := filepath.Join(dir, "iotdm-data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, fmt.Errorf("iotdm data dir: %w", err)
		}
		env := []string{"IOTDM_ACCESS_KEY_ID=" + cfg.accessKey, "IOTDM_SECRET_ACCESS_KEY=" + cfg.secretKey}
		t.proc, err = child.Start(name, logPath, env, bins[name], "serve", "--data-dir", data, "--http-addr", addr, "--mqtt-addr", "127.0.0.1:0")
		readyPath = "/healthz"
	case srvMoto:
		bin, lerr := exec.LookPath(cfg.motoBin)
		if lerr != nil {
			return nil, fmt.Errorf("server moto: %w", lerr)
		}
		t.proc, err = child.Start(name, logPath, nil, bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		readyPath = "/moto-api/data.json"
		t.things = cfg.motoThings
	default:
		return nil, fmt.Errorf("unknown server %q", name)
	}
	if err != nil {
		return nil, err
	}
	f.procs = append(f.procs, t.proc)
	if err := waitReady(ctx, t.proc, t.base+readyPath, cfg.readyTimeout); err != nil {
		return nil, err
	}
	cc := load.ClientConfig{
		BaseURL: t.base, AccessKeyID: cfg.accessKey, SecretKey: cfg.secretKey,
		Region: cfg.region, MaxConns: cfg.clients,
	}
	if t.raw, err = load.NewRawClient(cc); err != nil {
		return nil, err
	}
	t.clients = map[load.Kind]load.Client{load.KindRaw: t.raw}
	for _, k := range cfg.kinds {
		if t.clients[k] == nil {
			if t.clients[k], err = load.NewClient(k, cc); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}
