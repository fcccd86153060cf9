// Package cluster joins iotdm nodes over NATS: an embedded NATS server per
// node, clustered with its peers through NATS routes (or an external NATS
// cluster instead), a client connection every other part of the node uses
// to reach the others, and the membership of the cluster: which nodes are
// alive (heartbeats), which one leads (the lowest live node id) and when
// one dies.
//
// Nothing here is a consensus protocol: state lives in the shared store
// (PostgreSQL); the cluster carries messages and says, approximately and
// for a moment possibly differently on two nodes, who is alive. What needs
// exactly-once work claims it in the store.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configure a node.
type Options struct {
	// NodeID names this node; unique in the cluster and stable across its
	// restarts (devices' connectivity records name it).
	NodeID string
	// Name is the cluster's name: the NATS cluster name of the embedded
	// servers, and the subject prefix, so that several iotdm clusters can
	// share one external NATS. Default "iotdm".
	Name string
	// ListenAddr is the embedded NATS server's route listener (host:port)
	// that the peers' Routes name. Empty: no routes (a cluster of one).
	ListenAddr string
	// Routes are the peers' route addresses (host:port or nats://host:port);
	// this node's own address may be among them.
	Routes []string
	// ClientAddr is where the embedded NATS server accepts NATS clients
	// (host:port); default a random loopback port.
	ClientAddr string
	// URL, when set, joins an external NATS server or cluster (comma
	// separated URLs) instead of embedding one; ListenAddr and Routes are
	// then unused.
	URL string
	// Heartbeat is how often the node says it is alive (default 1s); a
	// peer not heard from for DeadAfter (default 3 heartbeats) is dead.
	Heartbeat time.Duration
	DeadAfter time.Duration
	Logger    *slog.Logger
}

// Node is this process's membership of the cluster.
type Node struct {
	opts Options
	log  *slog.Logger
	srv  *server.Server // nil with an external NATS
	nc   *nats.Conn

	mu      sync.Mutex
	peers   map[string]time.Time // live peers, by id: when last heard
	settled bool                 // a DeadAfter has passed since start: the peers are known
	onDown  []func(node string)
	changed chan struct{} // closed and replaced when membership changes

	started bool // run was started: Close waits for it
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// Start starts the embedded NATS server (unless Options.URL names an
// external one), connects to it and starts the heartbeats.
func Start(ctx context.Context, opts Options) (*Node, error) {
	if opts.NodeID == "" {
		return nil, errors.New("cluster: a node id is required")
	}
	if strings.ContainsAny(opts.NodeID, " .*>\t\r\n") {
		return nil, fmt.Errorf("cluster: node id %q: no spaces, dots or wildcards", opts.NodeID)
	}
	if opts.Name == "" {
		opts.Name = "iotdm"
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = time.Second
	}
	if opts.DeadAfter <= 0 {
		opts.DeadAfter = 3 * opts.Heartbeat
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{opts: opts, log: opts.Logger.With("component", "cluster", "node", opts.NodeID),
		peers: map[string]time.Time{}, changed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	// NoEcho: a node never receives what it publishes itself.
	connOpts := []nats.Option{nats.Name("iotdm-" + opts.NodeID), nats.NoEcho(), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond)}
	url := opts.URL
	if url == "" {
		srv, err := embeddedServer(opts)
		if err != nil {
			return nil, err
		}
		n.srv = srv
		connOpts = append(connOpts, nats.InProcessServer(srv))
	}
	nc, err := nats.Connect(url, connOpts...)
	if err != nil {
		n.shutdownServer()
		return nil, fmt.Errorf("cluster: connect to nats: %w", err)
	}
	n.nc = nc
	if _, err := nc.Subscribe(n.Subject("nodes", "heartbeat"), n.onHeartbeat); err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if _, err := nc.Subscribe(n.Subject("nodes", "leave"), n.onLeave); err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.started = true
	go n.run()
	n.log.Info("cluster node started", "routeListen", n.RouteAddr(), "routes", opts.Routes, "nats", opts.URL)
	return n, nil
}

// embeddedServer starts this node's NATS server: no client port (the node
// connects in process), a route listener and routes to the peers.
func embeddedServer(opts Options) (*server.Server, error) {
	// The node connects in process; the client port (NATS routing waits for
	// it to be open) takes a random loopback port unless ClientAddr names one
	// for tools such as the nats CLI.
	so := &server.Options{
		ServerName: "iotdm-" + opts.NodeID,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoSigs:     true,
		NoLog:      true,
	}
	if opts.ClientAddr != "" {
		host, port, err := splitHostPort(opts.ClientAddr)
		if err != nil {
			return nil, fmt.Errorf("cluster: client address: %w", err)
		}
		so.Host, so.Port = host, port
	}
	if opts.ListenAddr != "" {
		host, port, err := splitHostPort(opts.ListenAddr)
		if err != nil {
			return nil, fmt.Errorf("cluster: listen address: %w", err)
		}
		so.Cluster = server.ClusterOpts{Name: opts.Name, Host: host, Port: port}
		var routes []string
		for _, r := range opts.Routes {
			if !strings.Contains(r, "://") {
				r = "nats://" + r
			}
			routes = append(routes, r)
		}
		so.Routes = server.RoutesFromStr(strings.Join(routes, ","))
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("cluster: nats server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("cluster: nats server did not start")
	}
	return srv, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// ID returns this node's id.
func (n *Node) ID() string { return n.opts.NodeID }

// Conn returns the node's NATS connection.
func (n *Node) Conn() *nats.Conn { return n.nc }

// Subject returns the cluster's subject made of tokens, each of which must
// be a valid NATS token (no dots, spaces or wildcards).
func (n *Node) Subject(tokens ...string) string {
	return n.opts.Name + "." + strings.Join(tokens, ".")
}

// RouteAddr returns the address the embedded server accepts routes on;
// nil without one.
func (n *Node) RouteAddr() net.Addr {
	if n.srv == nil || n.opts.ListenAddr == "" {
		return nil
	}
	if a := n.srv.ClusterAddr(); a != nil {
		return a
	}
	return nil
}

// Routes returns how many routes the embedded server has to peers.
func (n *Node) Routes() int {
	if n.srv == nil {
		return 0
	}
	return n.srv.NumRoutes()
}

// OnNodeDown registers fn, called (on the node's own goroutine) with the id
// of each peer that stops sending heartbeats without saying it leaves.
func (n *Node) OnNodeDown(fn func(node string)) {
	n.mu.Lock()
	n.onDown = append(n.onDown, fn)
	n.mu.Unlock()
}

// Peers returns the live peers' ids, sorted (this node excluded).
func (n *Node) Peers() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.peers))
	for id := range n.peers {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Alive reports whether node is this node or a live peer.
func (n *Node) Alive(node string) bool {
	if node == n.opts.NodeID {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.peers[node]
	return ok
}

// Settled reports whether the node has listened for heartbeats long enough
// to know its live peers.
func (n *Node) Settled() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.settled
}

// IsLeader reports whether this node leads: it has settled and its id is
// the lowest among the live nodes.
func (n *Node) IsLeader() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.isLeaderLocked()
}

func (n *Node) isLeaderLocked() bool {
	if !n.settled {
		return false
	}
	for id := range n.peers {
		if id < n.opts.NodeID {
			return false
		}
	}
	return true
}

// Lead runs fn whenever this node leads, with a context that ends when it
// stops leading; it returns when ctx ends.
func (n *Node) Lead(ctx context.Context, fn func(ctx context.Context) error) error {
	for {
		n.mu.Lock()
		leader, changed := n.isLeaderLocked(), n.changed
		n.mu.Unlock()
		if !leader {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
				continue
			}
		}
		lctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- fn(lctx) }()
		n.log.Info("leading")
	watch:
		for {
			select {
			case <-ctx.Done():
				cancel()
				<-errc
				return ctx.Err()
			case err := <-errc:
				cancel()
				if err != nil && lctx.Err() == nil {
					return err
				}
				return nil
			case <-changed:
				n.mu.Lock()
				leader, changed = n.isLeaderLocked(), n.changed
				n.mu.Unlock()
				if !leader {
					cancel()
					<-errc
					n.log.Info("no longer leading")
					break watch
				}
			}
		}
	}
}

func (n *Node) onHeartbeat(m *nats.Msg) {
	id := string(m.Data)
	if id == n.opts.NodeID || id == "" {
		return
	}
	n.mu.Lock()
	_, known := n.peers[id]
	n.peers[id] = time.Now()
	if !known {
		n.signalLocked()
	}
	n.mu.Unlock()
	if !known {
		n.log.Info("node joined", "peer", id)
	}
}

func (n *Node) onLeave(m *nats.Msg) {
	id := string(m.Data)
	n.mu.Lock()
	_, known := n.peers[id]
	delete(n.peers, id)
	if known {
		n.signalLocked()
	}
	n.mu.Unlock()
	if known {
		n.log.Info("node left", "peer", id)
	}
}

// signalLocked wakes everything waiting for a membership change.
func (n *Node) signalLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// run sends heartbeats and declares silent peers dead.
func (n *Node) run() {
	defer close(n.done)
	start := time.Now()
	t := time.NewTicker(n.opts.Heartbeat)
	defer t.Stop()
	beat := n.Subject("nodes", "heartbeat")
	_ = n.nc.Publish(beat, []byte(n.opts.NodeID))
	for {
		select {
		case <-n.stop:
			return
		case now := <-t.C:
			if err := n.nc.Publish(beat, []byte(n.opts.NodeID)); err != nil {
				n.log.Warn("heartbeat not sent", "err", err)
			}
			var dead []string
			var down []func(string)
			n.mu.Lock()
			for id, seen := range n.peers {
				if now.Sub(seen) > n.opts.DeadAfter {
					delete(n.peers, id)
					dead = append(dead, id)
				}
			}
			if !n.settled && now.Sub(start) >= n.opts.DeadAfter {
				n.settled = true
				n.signalLocked()
			}
			if len(dead) > 0 {
				n.signalLocked()
				down = slices.Clone(n.onDown)
			}
			n.mu.Unlock()
			slices.Sort(dead)
			for _, id := range dead {
				n.log.Warn("node is down: no heartbeat", "peer", id, "after", n.opts.DeadAfter)
				for _, fn := range down {
					fn(id)
				}
			}
		}
	}
}

// Close says the node leaves, stops the heartbeats, drains the connection
// and shuts the embedded server down. It is idempotent.
func (n *Node) Close() error {
	n.close(true)
	return nil
}

// close stops the node; leave says so to the peers first (a test passes
// false to play a node that dies).
func (n *Node) close(leave bool) {
	n.once.Do(func() {
		close(n.stop)
		if n.started {
			<-n.done
			if leave {
				_ = n.nc.Publish(n.Subject("nodes", "leave"), []byte(n.opts.NodeID))
				_ = n.nc.FlushTimeout(time.Second)
			}
		}
		if n.nc != nil {
			n.nc.Close()
		}
		n.shutdownServer()
	})
}

func (n *Node) shutdownServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}
