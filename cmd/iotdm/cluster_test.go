package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/eclipse/paho.golang/paho"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/pki/cafile"
	"github.com/iotdm/iotdm/internal/postgres"
	"github.com/iotdm/iotdm/internal/postgres/pgtest"
	"github.com/iotdm/iotdm/internal/stack"
)

// clusterNode is one iotdm process of a test cluster.
type clusterNode struct {
	id       string
	dir      string
	cmd      *exec.Cmd
	endpoint string
	mqttAddr string
	c        *iot.Client
}

const clusterKey, clusterSecret = "AKIACLUSTERTEST00001", "cluster-test-secret-cluster-test-secret-1"

// startClusterNode starts node id as its own process, on the shared store,
// routed to every address of routes.
func startClusterNode(t *testing.T, bin, dsn, id, listen string, routes []string) *clusterNode {
	t.Helper()
	dir := filepath.Join(t.TempDir(), id)
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0",
		"--store", dsn, "--node-id", id, "--cluster-listen", listen, "--cluster-routes", joinComma(routes))
	cmd.Env = cleanEnviron("IOTDM_ACCESS_KEY_ID="+clusterKey, "IOTDM_SECRET_ACCESS_KEY="+clusterSecret)
	cmd.Stderr = io.Discard
	if os.Getenv("IOTDM_TEST_CLUSTER_LOGS") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	n := &clusterNode{id: id, dir: dir, cmd: cmd}
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = n.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = n.cmd.Process.Kill()
				<-done
			}
		}
	})
	n.endpoint = waitForServer(t, dir)
	st, err := readServerState(dir)
	if err != nil {
		t.Fatal(err)
	}
	n.mqttAddr = st.MQTTAddr
	n.c = iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(clusterKey, clusterSecret, ""), Retryer: aws.NopRetryer{}})
	return n
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// fixture is an MQTT fixture for the node: devices connect to its broker.
func (n *clusterNode) fixture(t *testing.T) *mqFixture {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(n.dir, cafile.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	return &mqFixture{t: t, c: n.c, key: AccessKey{ID: clusterKey, Secret: clusterSecret}, roots: roots, addr: n.mqttAddr}
}

// eventually retries check until it returns nil or d passes.
func eventually(t *testing.T, d time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < d {
		if err = check(); err == nil {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %v", what, d, err)
	return 0
}

// TestClusterThreeNodes runs three iotdm processes on loopback sharing one
// PostgreSQL database and an embedded NATS cluster (issue 11): API writes
// on one node are searchable on another, MQTT messages, sessions and
// retained messages cross nodes, dynamic groups agree, and the devices of a
// killed node end disconnected and reconnect elsewhere.
func TestClusterThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three server processes; not in -short")
	}
	dsn := pgtest.DSN(t)
	bin := buildBinary(t)
	routes := []string{freeLoopbackAddr(t), freeLoopbackAddr(t), freeLoopbackAddr(t)}
	var nodes []*clusterNode
	for i, addr := range routes {
		nodes = append(nodes, startClusterNode(t, bin, dsn, fmt.Sprintf("node%d", i+1), addr, routes))
	}
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	ctx := ctxWithTimeout(t, 3*time.Minute)

	// The nodes share the CA and the admin key.
	for _, n := range nodes[1:] {
		a, _ := os.ReadFile(filepath.Join(n1.dir, cafile.CertFile))
		b, _ := os.ReadFile(filepath.Join(n.dir, cafile.CertFile))
		if string(a) != string(b) || len(a) == 0 {
			t.Fatalf("%s has another CA than node1", n.id)
		}
	}
	if _, err := n1.c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry,
			ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus}}); err != nil {
		t.Fatal(err)
	}

	// API writes on node 1 are searchable on node 3 within 100 ms (median
	// of 20 writes; each is polled for).
	var lags []time.Duration
	for i := range 20 {
		name := fmt.Sprintf("lag-%02d", i)
		if _, err := n1.c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"batch": "lag"}}}); err != nil {
			t.Fatal(err)
		}
		lags = append(lags, eventually(t, 10*time.Second, "thing searchable on node3", func() error {
			out, err := n3.c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("thingName:" + name)})
			if err != nil {
				return err
			}
			if len(out.Things) != 1 {
				return fmt.Errorf("%d things", len(out.Things))
			}
			return nil
		}))
	}
	slices.Sort(lags)
	t.Logf("write on node1 → searchable on node3: median %s, max %s", lags[len(lags)/2], lags[len(lags)-1])
	if lags[len(lags)/2] > 100*time.Millisecond {
		t.Errorf("median lag %s, want within 100ms", lags[len(lags)/2])
	}

	// Devices: a policy for the fleet/ topics, certificates from node 1.
	createPolicy(t, n1.c, "fleet-policy", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
		{"Effect":"Allow","Action":["iot:Publish","iot:Receive","iot:RetainPublish"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/fleet/*"},
		{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/fleet/*"}]}`)
	f1, f2, f3 := n1.fixture(t), n2.fixture(t), n3.fixture(t)
	devices := map[string]mqDevice{}
	for _, name := range []string{"sensor-a", "sensor-b", "sensor-c", "sensor-d"} {
		d := f1.certificate(true, "fleet-policy")
		f1.thing(name, d)
		devices[name] = d
	}

	// A device on node 2 receives a message published on node 3; per-node
	// policy enforcement: the subscriber's Receive is checked on node 2.
	a := f2.mustConnect5(devices["sensor-a"], "sensor-a")
	a.subscribe(t, "fleet/#")
	b := f3.mustConnect5(devices["sensor-b"], "sensor-b")
	eventually(t, 10*time.Second, "message from node3 reaches node2", func() error {
		b.mustPublish(t, "fleet/hello", "from-node3")
		select {
		case m := <-a.msgs:
			if string(m.Payload) != "from-node3" {
				return fmt.Errorf("got %q", m.Payload)
			}
			return nil
		case <-time.After(200 * time.Millisecond):
			return fmt.Errorf("nothing received")
		}
	})

	// Retained messages are kept by every node.
	if _, err := b.publish(t, "fleet/retained", true, "kept"); err != nil {
		t.Fatal(err)
	}
	c := f1.mustConnect5(devices["sensor-c"], "sensor-c")
	eventually(t, 5*time.Second, "retained message on node1", func() error {
		c.subscribe(t, "fleet/retained")
		select {
		case m := <-c.msgs:
			if string(m.Payload) != "kept" {
				return fmt.Errorf("got %q", m.Payload)
			}
			return nil
		case <-time.After(200 * time.Millisecond):
			return fmt.Errorf("no retained message")
		}
	})

	// Client-id takeover across nodes: sensor-c connecting to node 3 ends
	// its connection on node 1.
	c3, _, err := f3.connect5Session(devices["sensor-c"], "sensor-c")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.disc:
	case <-time.After(10 * time.Second):
		t.Fatal("sensor-c's connection on node1 was not taken over by its connection on node3")
	}

	// A persistent session moves with its client: subscribed on node 3,
	// offline, a QoS 1 message published on node 1 while it is away, then
	// reconnected on node 2 with its session present and the message.
	c3.subscribe(t, "fleet/queued")
	_ = c3.Disconnect(&paho.Disconnect{ReasonCode: 0})
	time.Sleep(200 * time.Millisecond)
	d1 := f1.mustConnect5(devices["sensor-d"], "sensor-d")
	if _, err := d1.publish(t, "fleet/queued", false, "while-away"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	c2, ack, err := f2.connect5Session(devices["sensor-c"], "sensor-c")
	if err != nil {
		t.Fatal(err)
	}
	if !ack.SessionPresent {
		t.Error("session not present on node2")
	}
	select {
	case m := <-c2.msgs:
		if string(m.Payload) != "while-away" {
			t.Errorf("queued message %q", m.Payload)
		}
	case <-time.After(5 * time.Second):
		t.Error("the message queued on node3 did not reach the session on node2")
	}

	// A dynamic group agrees on all nodes: its query matches a thing
	// updated on node 2.
	if _, err := n1.c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("fw-2"),
		QueryString: aws.String("attributes.firmware:2.0.0")}); err != nil {
		t.Fatal(err)
	}
	if _, err := n2.c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("sensor-a"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"firmware": "2.0.0"}, Merge: true}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		eventually(t, 5*time.Second, "dynamic group on "+n.id, func() error {
			out, err := n.c.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("fw-2")})
			if err != nil {
				return err
			}
			if !slices.Equal(out.Things, []string{"sensor-a"}) {
				return fmt.Errorf("members %v", out.Things)
			}
			return nil
		})
	}

	// Killing node 2 leaves its devices (sensor-a, sensor-c) disconnected
	// in the index of the survivors; they reconnect to node 1.
	connected := func(n *clusterNode, thing string) (bool, error) {
		out, err := n.c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("thingName:" + thing)})
		if err != nil {
			return false, err
		}
		if len(out.Things) != 1 || out.Things[0].Connectivity == nil {
			return false, fmt.Errorf("no connectivity for %s", thing)
		}
		return aws.ToBool(out.Things[0].Connectivity.Connected), nil
	}
	for _, thing := range []string{"sensor-a", "sensor-c"} {
		eventually(t, 5*time.Second, thing+" connected", func() error {
			if ok, err := connected(n3, thing); err != nil || !ok {
				return fmt.Errorf("connected %v: %v", ok, err)
			}
			return nil
		})
	}
	// A stack operation node 2 was running (as its record says) and one of
	// node 3's: after node 2 dies the leader fails the first, not the
	// second.
	putStackInProgress(t, dsn, "deploying-on-node2", "node2")
	putStackInProgress(t, dsn, "deploying-on-node3", "node3")
	if err := n2.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = n2.cmd.Wait()
	cf := cfn.New(cfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(n3.endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(clusterKey, clusterSecret, ""), Retryer: aws.NopRetryer{}})
	stackStatus := func(name string) (cfntypes.StackStatus, string, error) {
		out, err := cf.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			return "", "", err
		}
		return out.Stacks[0].StackStatus, aws.ToString(out.Stacks[0].StackStatusReason), nil
	}
	eventually(t, 15*time.Second, "node 2's stack operation failed", func() error {
		status, reason, err := stackStatus("deploying-on-node2")
		if err != nil || status != cfntypes.StackStatusCreateFailed || reason != "iotdm node node2 stopped while the stack was in CREATE_IN_PROGRESS" {
			return fmt.Errorf("status %s (%s), %v", status, reason, err)
		}
		return nil
	})
	if status, _, err := stackStatus("deploying-on-node3"); err != nil || status != cfntypes.StackStatusCreateInProgress {
		t.Errorf("node 3's stack operation: status %s, %v; want it left CREATE_IN_PROGRESS", status, err)
	}
	for _, n := range []*clusterNode{n1, n3} {
		for _, thing := range []string{"sensor-a", "sensor-c"} {
			eventually(t, 15*time.Second, thing+" disconnected on "+n.id, func() error {
				if ok, err := connected(n, thing); err != nil || ok {
					return fmt.Errorf("connected %v: %v", ok, err)
				}
				return nil
			})
		}
	}
	out, err := n1.c.GetThingConnectivityData(ctx, &iot.GetThingConnectivityDataInput{ThingName: aws.String("sensor-a")})
	if err != nil {
		t.Fatal(err)
	}
	if out.DisconnectReason != types.DisconnectReasonValueServerError {
		t.Errorf("disconnect reason %s, want SERVER_ERROR", out.DisconnectReason)
	}
	f1.mustConnect5(devices["sensor-a"], "sensor-a")
	eventually(t, 5*time.Second, "sensor-a reconnected through node1", func() error {
		if ok, err := connected(n3, "sensor-a"); err != nil || !ok {
			return fmt.Errorf("connected %v: %v", ok, err)
		}
		return nil
	})

	// A node started later (node 2 again, on a new data directory) takes
	// the CA from the store and the retained messages from a running node.
	n4 := startClusterNode(t, bin, dsn, "node2", routes[1], routes)
	f4 := n4.fixture(t)
	c4 := f4.mustConnect5(devices["sensor-c"], "sensor-c")
	c4.subscribe(t, "fleet/retained")
	select {
	case m := <-c4.msgs:
		if string(m.Payload) != "kept" {
			t.Errorf("retained message on the new node: %q", m.Payload)
		}
	case <-time.After(5 * time.Second):
		t.Error("the new node has no copy of the retained message")
	}
}

// putStackInProgress stores, in the cluster's database, a stack whose
// creation node is running.
func putStackInProgress(t *testing.T, dsn, name, node string) {
	t.Helper()
	db, err := postgres.Open(t.Context(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b, err := json.Marshal(stack.Stack{StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/" + name + "/0000",
		StackName: name, Status: stack.CreateInProgress, Node: node, CreationTime: time.Now(), TemplateBody: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Put(ctx, stack.KindStack, name, b)
	}); err != nil {
		t.Fatal(err)
	}
}
