package cluster

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCluster starts n nodes routed to each other on loopback.
func startCluster(t *testing.T, n int) []*Node {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	nodes := make([]*Node, n)
	for i := range nodes {
		node, err := Start(context.Background(), Options{NodeID: fmt.Sprintf("node%d", i+1), ListenAddr: addrs[i], Routes: addrs,
			Heartbeat: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { node.Close() })
		nodes[i] = node
	}
	waitFor(t, 10*time.Second, func() bool {
		for _, node := range nodes {
			if len(node.Peers()) != n-1 || !node.Settled() {
				return false
			}
		}
		return true
	})
	return nodes
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMessagesCrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	var mu sync.Mutex
	got := map[string]int{}
	for _, n := range nodes[:2] {
		if _, err := n.Conn().Subscribe(n.Subject("test"), func(m *nats.Msg) {
			mu.Lock()
			got[n.ID()]++
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
		if err := n.Conn().Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// Interest propagates over the routes; publish until both saw one.
	waitFor(t, 5*time.Second, func() bool {
		if err := nodes[2].Conn().Publish(nodes[2].Subject("test"), []byte("x")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return got["node1"] > 0 && got["node2"] > 0
	})
}

func TestLeaderAndNodeDown(t *testing.T) {
	nodes := startCluster(t, 3)
	leaders := 0
	for _, n := range nodes {
		if n.IsLeader() {
			leaders++
			if n.ID() != "node1" {
				t.Errorf("leader %s, want node1", n.ID())
			}
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders, want 1", leaders)
	}
	down := make(chan string, 4)
	nodes[2].OnNodeDown(func(id string) { down <- id })
	// node1 stops leading when it leaves; node2 takes over, and nobody
	// reports a node that left as down.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	led := make(chan struct{}, 1)
	go nodes[1].Lead(ctx, func(ctx context.Context) error {
		led <- struct{}{}
		<-ctx.Done()
		return nil
	})
	nodes[0].Close()
	select {
	case <-led:
	case <-time.After(5 * time.Second):
		t.Fatal("node2 did not take the lead after node1 left")
	}
	// A node that dies without leaving (its server gone, no leave message)
	// is declared down by the survivors.
	nodes[1].close(false)
	select {
	case id := <-down:
		if id != "node2" {
			t.Fatalf("down %s, want node2", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node2's death not noticed")
	}
	if !nodes[2].IsLeader() {
		t.Fatal("node3 should lead alone")
	}
}
