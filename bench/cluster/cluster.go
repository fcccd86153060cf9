package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/jackc/pgx/v5"

	"github.com/iotdm/iotdm/bench/internal/child"
)

// The admin key every node gets (IOTDM_ACCESS_KEY_ID,
// IOTDM_SECRET_ACCESS_KEY): the API clients sign with it and the MQTT
// clients give it as user name and password on the plain listener.
const (
	benchAccessKey = "AKIABENCHCLUSTER0001"
	benchSecretKey = "bench-cluster-secret-bench-cluster-0001"
	benchRegion    = "us-east-1"
)

// stopGrace is how long a node has to stop after SIGTERM before SIGKILL.
const stopGrace = 10 * time.Second

// startTimeout bounds the start of one node.
const startTimeout = 2 * time.Minute

// database is a PostgreSQL database of one cluster size.
type database struct {
	server string // the server's DSN, to drop the database through
	name   string
	dsn    string // the database's DSN, for --store
}

// createDatabase creates a fresh database on the server (iotdm_bench_
// and a random suffix, so that one left behind by a killed bench is
// recognizable).
func createDatabase(ctx context.Context, server, label string) (*database, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	name := "iotdm_bench_" + label + "_" + hex.EncodeToString(b[:])
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("PostgreSQL DSN: want a postgres:// URL")
	}
	if err := pgExec(ctx, server, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return &database{server: server, name: name, dsn: u.String()}, nil
}

// drop drops the database, whatever the state of the caller's context.
func (d *database) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pgExec(ctx, d.server, "DROP DATABASE IF EXISTS "+d.name+" WITH (FORCE)"); err != nil {
		logf("drop database %s: %v", d.name, err)
	}
}

func pgExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// serverVersion is the PostgreSQL server's version string, or why it is
// not known.
func serverVersion(ctx context.Context, dsn string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return v
}

// node is one `iotdm serve` process of a cluster.
type node struct {
	id        string
	dir       string
	proc      *child.Process
	endpoint  string // the API's base URL, from server.json
	plainAddr string // the MQTT over plain TCP listener
	// hc is the keep-alive HTTP client of every SDK client of this node.
	hc *http.Client
}

// iot is a new AWS SDK IoT client of the node: the admin key, no retries.
func (n *node) iot() *iot.Client {
	return iot.New(iot.Options{Region: benchRegion, BaseEndpoint: aws.String(n.endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(benchAccessKey, benchSecretKey, ""),
		Retryer:     aws.NopRetryer{}, HTTPClient: n.hc})
}

// cluster is the nodes of one cluster size, node 1 first.
type cluster struct {
	nodes []*node
}

// startCluster starts n nodes on the database dsn, one after another (the
// first creates the shared admin key and CA), each routed to every node's
// cluster address, and waits until each answers /healthz and accepts
// connections on its plain MQTT listener. On error it returns the nodes
// started so far, for the caller to stop.
func startCluster(ctx context.Context, bin, dir, dsn string, n int) (*cluster, error) {
	routes := make([]string, n)
	plain := make([]string, n)
	for i := range n {
		var err error
		if routes[i], err = freeAddr(); err != nil {
			return nil, err
		}
		if plain[i], err = freeAddr(); err != nil {
			return nil, err
		}
	}
	cl := &cluster{}
	for i := range n {
		id := fmt.Sprintf("node%d", i+1)
		nd := &node{id: id, dir: filepath.Join(dir, id), plainAddr: plain[i]}
		if err := os.MkdirAll(nd.dir, 0o700); err != nil {
			return cl, err
		}
		p, err := child.Start(id, filepath.Join(dir, id+".log"),
			[]string{"IOTDM_ACCESS_KEY_ID=" + benchAccessKey, "IOTDM_SECRET_ACCESS_KEY=" + benchSecretKey},
			bin, "serve", "--data-dir", nd.dir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0",
			"--mqtt-plain-addr", plain[i], "--store", dsn, "--node-id", id,
			"--cluster-listen", routes[i], "--cluster-routes", strings.Join(routes, ","))
		if err != nil {
			return cl, err
		}
		nd.proc = p
		cl.nodes = append(cl.nodes, nd)
		if nd.endpoint, err = waitReady(ctx, p, nd.dir, startTimeout); err != nil {
			return cl, err
		}
		if err := waitTCP(ctx, p, nd.plainAddr, 30*time.Second); err != nil {
			return cl, err
		}
		nd.hc = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 256,
			IdleConnTimeout: 90 * time.Second}}
	}
	return cl, nil
}

// stop stops every node at once: SIGTERM, SIGKILL after stopGrace.
func (c *cluster) stop() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(func() {
			n.proc.Stop(stopGrace)
			if n.hc != nil {
				n.hc.CloseIdleConnections()
			}
		})
	}
	wg.Wait()
}

// alive fails when a node has exited.
func (c *cluster) alive() error {
	for _, n := range c.nodes {
		if n.proc.Exited() {
			return fmt.Errorf("%s exited (%v); log tail:\n%s", n.id, n.proc.WaitErr(), n.proc.LogTail(2000))
		}
	}
	return nil
}

// first and last are the cluster's first and last nodes (the same with
// one node).
func (c *cluster) first() *node { return c.nodes[0] }
func (c *cluster) last() *node  { return c.nodes[len(c.nodes)-1] }

// serverState is what the bench reads of DATA-DIR/server.json.
type serverState struct {
	PID      int    `json:"pid"`
	Endpoint string `json:"endpoint"`
}

// waitReady waits until DATA-DIR/server.json describes the process and
// its /healthz answers 200, and returns the API endpoint.
func waitReady(ctx context.Context, p *child.Process, dataDir string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for {
		if p.Exited() {
			return "", fmt.Errorf("%s exited during start (%v); log tail:\n%s", p.Name, p.WaitErr(), p.LogTail(2000))
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s not ready after %v; log tail:\n%s", p.Name, timeout, p.LogTail(2000))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		var st serverState
		b, err := os.ReadFile(filepath.Join(dataDir, "server.json"))
		if err != nil || json.Unmarshal(b, &st) != nil || st.PID != p.Pid() || st.Endpoint == "" {
			continue
		}
		resp, err := hc.Get(st.Endpoint + "/healthz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return st.Endpoint, nil
		}
	}
}

// waitTCP waits until addr accepts TCP connections, the process exits, ctx
// ends or timeout passes.
func waitTCP(ctx context.Context, p *child.Process, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited during start (%v); log tail:\n%s", p.Name, p.WaitErr(), p.LogTail(2000))
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept connections on %s after %v: %v; log tail:\n%s", p.Name, addr, timeout, err, p.LogTail(2000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freeAddr is a loopback address whose port was free a moment ago: the
// cluster route listeners and the plain MQTT listeners are given one, as
// server.json names neither.
func freeAddr() (string, error) {
	port, err := child.FreePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}

// setup turns the fleet index on (registry mode, through node 1) and
// registers things thing-00000… through clients loops spread over the
// nodes; it returns their names.
func setup(ctx context.Context, cl *cluster, things, clients int) ([]string, error) {
	if _, err := cl.first().iot().UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry}}); err != nil {
		return nil, fmt.Errorf("UpdateIndexingConfiguration: %w", err)
	}
	names := make([]string, things)
	for i := range names {
		names[i] = fmt.Sprintf("thing-%05d", i)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan string)
	for i := range min(clients, things) {
		c := cl.nodes[i%len(cl.nodes)].iot()
		wg.Go(func() {
			for name := range next {
				_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name),
					AttributePayload: &types.AttributePayload{Attributes: thingAttributes}})
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("CreateThing %s: %w", name, err)
					}
					mu.Unlock()
				}
			}
		})
	}
feed:
	for _, name := range names {
		select {
		case next <- name:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return names, first
}

// thingAttributes are the attributes of every thing the bench creates;
// read-only.
var thingAttributes = map[string]string{"firmware": "1.0.0", "location": "Building-A"}

// logProblems summarizes the nodes' logs: their WARN and ERROR lines, by
// level and message, each with its count and the attributes of its first
// occurrence, at most max kinds per node.
func (c *cluster) logProblems(max int) map[string]string {
	out := map[string]string{}
	for _, n := range c.nodes {
		b, err := os.ReadFile(n.proc.LogPath)
		if err != nil {
			continue
		}
		counts := map[string]int{}
		first := map[string]string{}
		var order []string
		for line := range strings.SplitSeq(string(b), "\n") {
			if !strings.Contains(line, "level=WARN") && !strings.Contains(line, "level=ERROR") {
				continue
			}
			key, attrs := logKey(line)
			if counts[key] == 0 {
				order = append(order, key)
				first[key] = attrs
			}
			counts[key]++
		}
		var lines []string
		for i, k := range order {
			if i == max {
				lines = append(lines, fmt.Sprintf("… and %d more kinds of lines", len(order)-max))
				break
			}
			line := fmt.Sprintf("%6d × %s", counts[k], k)
			if a := first[k]; a != "" {
				if len(a) > 240 {
					a = a[:240] + "…"
				}
				line += " — first: " + a
			}
			lines = append(lines, line)
		}
		if len(lines) > 0 {
			out[n.id] = strings.Join(lines, "\n")
		}
	}
	return out
}

// logKey splits a slog text line into its level and message (without the
// time), and the attributes after them.
func logKey(line string) (key, attrs string) {
	if strings.HasPrefix(line, "time=") {
		_, line, _ = strings.Cut(line, " ")
	}
	i := strings.Index(line, "msg=")
	if i < 0 {
		return line, ""
	}
	rest := line[i+len("msg="):]
	end := strings.IndexByte(rest, ' ')
	if strings.HasPrefix(rest, `"`) {
		// A quoted message: up to the closing quote not escaped.
		end = -1
		for j := 1; j < len(rest); j++ {
			if rest[j] == '\\' {
				j++
				continue
			}
			if rest[j] == '"' {
				end = j + 1
				break
			}
		}
	}
	if end < 0 || end >= len(rest) {
		return line, ""
	}
	return line[:i+len("msg=")+end], strings.TrimSpace(rest[end:])
}
