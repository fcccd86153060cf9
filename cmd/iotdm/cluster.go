package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/iotdm/iotdm/internal/cluster"
)

// A server in a cluster (docs/scaling.md): several servers share one
// PostgreSQL store and reach each other over NATS. Each keeps its own fleet
// index and dynamic group memberships from the shared change feed and its
// own devices' connections; the MQTT bridge (clusterbridge.go) carries
// messages and sessions between the brokers; the leader (the live node
// with the lowest id) alone runs the clock-driven work that must happen
// once: alarm evaluation, fleet metrics, log retention, job rollouts and
// timeouts, and marking the devices of a dead node disconnected.

// clustered reports whether cfg makes the server a cluster node.
func (c Config) clustered() bool { return c.ClusterListen != "" || c.NATSURL != "" }

// clusterRuntime is the server's membership of its cluster.
type clusterRuntime struct {
	node   *cluster.Node
	bridge *mqttBridge
}

// startCluster joins the cluster when the configuration asks for one.
func (s *server) startCluster(ctx context.Context) error {
	if !s.cfg.clustered() {
		return nil
	}
	if s.pg == nil {
		return errors.New("a cluster needs a shared store: --store postgres://...")
	}
	id := s.cfg.NodeID
	if id == "" {
		host, err := os.Hostname()
		if err != nil || checkNodeID(host) != nil {
			return fmt.Errorf("cluster: name this node with --node-id (the host name %q will not do)", host)
		}
		id = host
	}
	node, err := cluster.Start(ctx, cluster.Options{NodeID: id, Name: s.cfg.ClusterName, ListenAddr: s.cfg.ClusterListen,
		Routes: s.cfg.ClusterRoutes, URL: s.cfg.NATSURL, Logger: s.log})
	if err != nil {
		return err
	}
	s.cluster = &clusterRuntime{node: node, bridge: newMQTTBridge(node, s.log)}
	return nil
}

// stopCluster leaves the cluster; the broker has closed.
func (s *server) stopCluster() {
	if s.cluster == nil {
		return
	}
	s.cluster.bridge.close()
	_ = s.cluster.node.Close()
}

// nodeID is this server's node id in its cluster, "" without one.
func (s *server) nodeID() string {
	if s.cluster == nil {
		return ""
	}
	return s.cluster.node.ID()
}

// leading reports whether this server does the cluster's once-only work:
// always without a cluster.
func (s *server) leading() bool {
	return s.cluster == nil || s.cluster.node.IsLeader()
}

// lead runs fn while this server leads (at once and until ctx ends without
// a cluster).
func (s *server) lead(ctx context.Context, fn func(context.Context) error) error {
	if s.cluster == nil {
		return fn(ctx)
	}
	return s.cluster.node.Lead(ctx, fn)
}

// reaper cleans up after the nodes for which dead is true: they stopped,
// and what they were doing will not go on.
type reaper func(ctx context.Context, dead func(node string) bool) error

// startNodeWatch makes the leader clean up after dead nodes with reapers
// (their devices are marked disconnected, their stack operations failed):
// for each node that stops sending heartbeats, and, when this node starts
// to lead, for every node recorded as working that is not alive. It runs
// until stopNodeWatch; without a cluster it does nothing.
func (s *server) startNodeWatch(reapers ...reaper) {
	if s.cluster == nil {
		return
	}
	node := s.cluster.node
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWatch = cancel
	reap := func(ctx context.Context, dead func(string) bool) error {
		var errs []error
		for _, r := range reapers {
			errs = append(errs, r(ctx, dead))
		}
		return errors.Join(errs...)
	}
	downs := make(chan string, 64)
	node.OnNodeDown(func(gone string) {
		select {
		case downs <- gone:
		case <-ctx.Done():
		}
	})
	s.watchDone.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case gone := <-downs:
				if !node.IsLeader() {
					continue
				}
				if err := reap(ctx, func(n string) bool { return n == gone }); err != nil && ctx.Err() == nil {
					s.log.Error("work of a dead node not cleaned up", "node", gone, "err", err)
				}
			}
		}
	})
	s.watchDone.Go(func() {
		_ = s.lead(ctx, func(ctx context.Context) error {
			if err := reap(ctx, func(n string) bool { return n != "" && !node.Alive(n) }); err != nil && ctx.Err() == nil {
				s.log.Error("work of dead nodes not cleaned up", "err", err)
			}
			<-ctx.Done()
			return nil
		})
	})
}

// stopNodeWatch stops what startNodeWatch started and waits for it.
func (s *server) stopNodeWatch() {
	if s.stopWatch != nil {
		s.stopWatch()
	}
	s.watchDone.Wait()
}
