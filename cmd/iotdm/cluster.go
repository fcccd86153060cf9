package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/iotdm/iotdm/internal/cluster"
	"github.com/iotdm/iotdm/internal/control"
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

// watchNodes makes the leader mark the devices of dead nodes disconnected:
// each node that stops sending heartbeats, and, when this node starts to
// lead, every node recorded in a connected state that is not alive.
func (s *server) watchNodes(ctx context.Context, conn *control.Connectivity) func(context.Context) error {
	if s.cluster == nil {
		return nil
	}
	node := s.cluster.node
	node.OnNodeDown(func(dead string) {
		if !node.IsLeader() {
			return
		}
		go func() {
			if err := conn.ResetNode(ctx, dead); err != nil && ctx.Err() == nil {
				s.log.Error("devices of a dead node not marked disconnected", "node", dead, "err", err)
			}
		}()
	})
	return func(ctx context.Context) error {
		if err := conn.ResetNodes(ctx, func(n string) bool { return !node.Alive(n) }); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
}
