package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotdm/iotdm/internal/pki/cafile"
	"github.com/iotdm/iotdm/internal/sim"
	"github.com/iotdm/iotdm/stacks"
)

// These tests run iotdm provision and iotdm simulate, and the simulator
// itself, against an in-process server: devices made through the AWS SDK,
// connected with a real MQTT client over mutual TLS, their shadows read
// through the iot-data REST API.

// simCmd runs iotdm provision or simulate on the server of f (found through
// its data directory, as after iotdm up) and returns stdout and stderr.
func simCmd(t *testing.T, f *mqFixture, want int, cmd string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{env: map[string]string{}, stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
		readFile: os.ReadFile, version: "test"}
	args = append(args, "--data-dir", f.s.DataDir())
	var got int
	switch cmd {
	case "provision":
		got = a.runProvision(t.Context(), args)
	case "simulate":
		got = a.runSimulate(t.Context(), args)
	default:
		t.Fatalf("unknown command %s", cmd)
	}
	if got != want {
		t.Fatalf("iotdm %s %s = exit %d, want %d\nstdout:\n%s\nstderr:\n%s", cmd, strings.Join(args, " "), got, want, &out, &errOut)
	}
	return out.String() + errOut.String()
}

func readDeviceConfig(t *testing.T, dir, thing string) sim.DeviceConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, thing, sim.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var c sim.DeviceConfig
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s config.json: %v", thing, err)
	}
	return c
}

func thingPrincipals(t *testing.T, c *iot.Client, thing string) []string {
	t.Helper()
	out := must[*iot.ListThingPrincipalsOutput](t, "ListThingPrincipals("+thing+")")(c.ListThingPrincipals(context.Background(),
		&iot.ListThingPrincipalsInput{ThingName: aws.String(thing)}))
	return out.Principals
}

// simWaitFor polls cond until it holds, failing the test after 20 s.
func simWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// provisionArgs are the flags of a provisioning run with the fixture's
// device policy.
func provisionArgs(out, prefix string, count int, extra ...string) []string {
	return append([]string{"--count", strconv.Itoa(count), "--prefix", prefix, "--policy", "seed-device-policy",
		"--out", out, "--concurrency", "2"}, extra...)
}

func TestProvision(t *testing.T) {
	f := newMQFixture(t)
	ctx := t.Context()
	must[*iot.CreateThingTypeOutput](t, "CreateThingType")(f.c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("SimSensor")}))
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(f.c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("sim-group")}))
	out := filepath.Join(t.TempDir(), "devices")
	args := func(count int) []string {
		return provisionArgs(out, "prov-", count, "--thing-type", "SimSensor", "--group", "sim-group",
			"--attributes", "location=Building-A|Building-B,firmware=1.0.0")
	}
	ep := must[*iot.DescribeEndpointOutput](t, "DescribeEndpoint")(f.c.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")}))
	wantHost, wantPort, err := sim.SplitEndpoint(aws.ToString(ep.EndpointAddress))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(f.s.DataDir(), cafile.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	firstCert := map[string]string{}

	t.Run("creates things, certificates, attachments and folders", func(t *testing.T) {
		got := simCmd(t, f, exitOK, "provision", args(3)...)
		if !strings.Contains(got, "created  3") || !strings.Contains(got, "failed   0") {
			t.Errorf("summary:\n%s", got)
		}
		members := must[*iot.ListThingsInThingGroupOutput](t, "ListThingsInThingGroup")(f.c.ListThingsInThingGroup(ctx,
			&iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("sim-group")}))
		slices.Sort(members.Things)
		if want := []string{"prov-00001", "prov-00002", "prov-00003"}; !slices.Equal(members.Things, want) {
			t.Errorf("sim-group members = %v, want %v", members.Things, want)
		}
		for i, name := range []string{"prov-00001", "prov-00002", "prov-00003"} {
			dir := filepath.Join(out, name)
			c := readDeviceConfig(t, out, name)
			if c.ThingName != name || c.ClientID != name || c.Endpoint != wantHost || c.Port != wantPort {
				t.Errorf("%s config = %+v, want thing and client %s at %s:%d", name, c, name, wantHost, wantPort)
			}
			if c.Topics.Telemetry != "devices/"+name+"/telemetry" || c.Topics.ShadowUpdate != "$aws/things/"+name+"/shadow/update" {
				t.Errorf("%s topics = %+v", name, c.Topics)
			}
			if got := fileMode(t, filepath.Join(dir, sim.PrivateKeyFile)); got != 0o600 {
				t.Errorf("%s private key mode = %v, want 0600", name, got)
			}
			if b, err := os.ReadFile(filepath.Join(dir, sim.RootCAFile)); err != nil || !bytes.Equal(b, caPEM) {
				t.Errorf("%s %s = %v, want the server's ca.pem", name, sim.RootCAFile, err)
			}
			th := must[*iot.DescribeThingOutput](t, "DescribeThing")(f.c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)}))
			wantLoc := []string{"Building-A", "Building-B"}[i%2]
			if aws.ToString(th.ThingTypeName) != "SimSensor" || th.Attributes["location"] != wantLoc || th.Attributes["firmware"] != "1.0.0" {
				t.Errorf("DescribeThing(%s) = type %q attributes %v, want SimSensor, location %s, firmware 1.0.0",
					name, aws.ToString(th.ThingTypeName), th.Attributes, wantLoc)
			}
			if p := thingPrincipals(t, f.c, name); !slices.Equal(p, []string{c.CertificateARN}) {
				t.Errorf("ListThingPrincipals(%s) = %v, want [%s]", name, p, c.CertificateARN)
			}
			pol := must[*iot.ListAttachedPoliciesOutput](t, "ListAttachedPolicies")(f.c.ListAttachedPolicies(ctx,
				&iot.ListAttachedPoliciesInput{Target: aws.String(c.CertificateARN)}))
			if len(pol.Policies) != 1 || aws.ToString(pol.Policies[0].PolicyName) != "seed-device-policy" {
				t.Errorf("policies of %s's certificate = %v, want seed-device-policy", name, pol.Policies)
			}
			cert := must[*iot.DescribeCertificateOutput](t, "DescribeCertificate")(f.c.DescribeCertificate(ctx,
				&iot.DescribeCertificateInput{CertificateId: aws.String(c.CertificateID)}))
			if cert.CertificateDescription.Status != types.CertificateStatusActive {
				t.Errorf("%s certificate status = %s, want ACTIVE", name, cert.CertificateDescription.Status)
			}
			firstCert[name] = c.CertificateID
		}
	})

	t.Run("a second run skips complete folders", func(t *testing.T) {
		got := simCmd(t, f, exitOK, "provision", args(3)...)
		if !strings.Contains(got, "created  0") || !strings.Contains(got, "skipped  3") {
			t.Errorf("summary:\n%s", got)
		}
		for name, id := range firstCert {
			if c := readDeviceConfig(t, out, name); c.CertificateID != id {
				t.Errorf("%s certificate changed on a second run: %s, was %s", name, c.CertificateID, id)
			}
			if p := thingPrincipals(t, f.c, name); len(p) != 1 {
				t.Errorf("%s has %d principals after a second run, want 1", name, len(p))
			}
		}
	})

	t.Run("resumes after a partial run", func(t *testing.T) {
		// prov-00002 was interrupted after its certificate was written;
		// prov-00003's folder is gone (its thing is still there).
		if err := os.Remove(filepath.Join(out, "prov-00002", sim.ConfigFile)); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(out, "prov-00003")); err != nil {
			t.Fatal(err)
		}
		got := simCmd(t, f, exitOK, "provision", args(4)...)
		if !strings.Contains(got, "created  3") || !strings.Contains(got, "1 resumed") || !strings.Contains(got, "skipped  1") {
			t.Errorf("summary:\n%s", got)
		}
		if c := readDeviceConfig(t, out, "prov-00002"); c.CertificateID != firstCert["prov-00002"] {
			t.Errorf("prov-00002 resumed with certificate %s, want its first one %s", c.CertificateID, firstCert["prov-00002"])
		}
		if p := thingPrincipals(t, f.c, "prov-00002"); len(p) != 1 {
			t.Errorf("prov-00002 has %d principals after resuming, want 1", len(p))
		}
		if c := readDeviceConfig(t, out, "prov-00003"); c.CertificateID == firstCert["prov-00003"] {
			t.Errorf("prov-00003 kept a certificate whose key was lost")
		}
		if c := readDeviceConfig(t, out, "prov-00004"); c.ThingName != "prov-00004" {
			t.Errorf("prov-00004 config = %+v", c)
		}
	})

	t.Run("a failed device makes the exit status non-zero", func(t *testing.T) {
		// A file where prov-00005's folder should go.
		blocker := filepath.Join(out, "prov-00005")
		if err := os.WriteFile(blocker, []byte("in the way"), 0o644); err != nil {
			t.Fatal(err)
		}
		got := simCmd(t, f, exitError, "provision", args(5)...)
		if !strings.Contains(got, "failed   1") || !strings.Contains(got, "create folder") || !strings.Contains(got, "prov-00005") ||
			!strings.Contains(got, "skipped  4") {
			t.Errorf("summary:\n%s", got)
		}
		if err := os.Remove(blocker); err != nil {
			t.Fatal(err)
		}
		got = simCmd(t, f, exitOK, "provision", args(5)...)
		if !strings.Contains(got, "created  1") || !strings.Contains(got, "skipped  4") {
			t.Errorf("summary after removing the obstacle:\n%s", got)
		}
	})

	t.Run("a missing policy stops the run before it starts", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "none")
		got := simCmd(t, f, exitError, "provision", "--count", "2", "--prefix", "nopol-", "--policy", "no-such-policy", "--out", dir)
		if !strings.Contains(got, "no-such-policy") || !strings.Contains(got, "ResourceNotFoundException") {
			t.Errorf("output:\n%s", got)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("a run refused at the start created %s", dir)
		}
		if _, err := f.c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("nopol-00001")}); err == nil {
			t.Errorf("a run refused at the start created thing nopol-00001")
		}
	})

	t.Run("bad usage", func(t *testing.T) {
		simCmd(t, f, exitUsage, "provision", "--prefix", "x-")
		simCmd(t, f, exitUsage, "provision", "--count", "2", "--prefix", "a/b")
		simCmd(t, f, exitUsage, "provision", "--count", "2", "--attributes", "novalue", "--out", t.TempDir())
	})
}

func TestSimulator(t *testing.T) {
	f := newMQFixture(t)
	ctx := t.Context()
	out := filepath.Join(t.TempDir(), "devices")
	simCmd(t, f, exitOK, "provision", provisionArgs(out, "simdev-", 3, "--attributes", "firmware=1.0.0")...)
	devices, err := sim.ReadDevices(out)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		reported []string
	)
	s, err := sim.New(sim.Config{Devices: devices, Rate: 5, ShadowInterval: 300 * time.Millisecond,
		FirmwareDelay: 100 * time.Millisecond, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 300 * time.Millisecond,
		ChurnOffline: 50 * time.Millisecond, SyncAttributes: true, API: f.c,
		OnFirmwareReported: func(thing, version string, _ time.Time) {
			mu.Lock()
			reported = append(reported, thing+" "+version)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Run did not return within 20s of the end of its context")
		}
	}
	defer stop()
	simWaitFor(t, "3 devices connected", func() bool { return s.Stats().Connected == 3 })
	key := readCredentialsFile(t, f.s.cfg.DataDir)
	shadows := &shadowClient{t: t, srv: f.s, service: "iotdata", creds: aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}}
	reportedState := func(thing string) (reported, delta map[string]any) {
		r := shadows.get(thing, "")
		if r.status != 200 {
			return nil, nil
		}
		st, _ := r.doc(t)["state"].(map[string]any)
		reported, _ = st["reported"].(map[string]any)
		delta, _ = st["delta"].(map[string]any)
		return reported, delta
	}

	t.Run("telemetry reaches a subscriber", func(t *testing.T) {
		admin, ack, err := f.connect5(nil, "sim-watcher", f.key.ID, f.key.Secret)
		if err != nil {
			t.Fatalf("admin connect = %+v, %v", ack, err)
		}
		admin.subscribe(t, "devices/simdev-00001/telemetry")
		topic, payload, _ := strings.Cut(admin.next(t, "watcher"), " ")
		var m map[string]any
		if topic != "devices/simdev-00001/telemetry" || json.Unmarshal([]byte(payload), &m) != nil ||
			m["thingName"] != "simdev-00001" || m["temperature"] == nil || m["battery"] == nil {
			t.Errorf("telemetry = %s %s", topic, payload)
		}
	})

	t.Run("shadows report the sensors through GetThingShadow", func(t *testing.T) {
		for _, d := range devices {
			var r map[string]any
			simWaitFor(t, d.Config.ThingName+"'s shadow", func() bool { r, _ = reportedState(d.Config.ThingName); return r != nil })
			if r["firmware"] != "1.0.0" {
				t.Errorf("%s reported firmware = %v, want 1.0.0", d.Config.ThingName, r["firmware"])
			}
			for _, k := range []string{"temperature", "humidity", "battery"} {
				if _, ok := r[k].(float64); !ok {
					t.Errorf("%s reported %s = %v, want a number", d.Config.ThingName, k, r[k])
				}
			}
		}
	})

	t.Run("a desired firmware is installed, reported and synced to the attribute", func(t *testing.T) {
		if r := shadows.update("simdev-00001", "", `{"state":{"desired":{"firmware":"2.0.0","led":"on"}}}`); r.status != 200 {
			t.Fatalf("UpdateThingShadow = %d %s", r.status, r.body)
		}
		simWaitFor(t, "firmware 2.0.0 reported with no delta left", func() bool {
			r, delta := reportedState("simdev-00001")
			return r["firmware"] == "2.0.0" && r["led"] == "on" && len(delta) == 0
		})
		mu.Lock()
		got := slices.Clone(reported)
		mu.Unlock()
		if !slices.Equal(got, []string{"simdev-00001 2.0.0"}) {
			t.Errorf("OnFirmwareReported calls = %v, want [simdev-00001 2.0.0]", got)
		}
		simWaitFor(t, "attribute firmware 2.0.0", func() bool {
			th, err := f.c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("simdev-00001")})
			return err == nil && th.Attributes["firmware"] == "2.0.0"
		})
		simWaitFor(t, "the attribute sync to be counted", func() bool { return s.Stats().AttributeSyncs == 1 })
		if st := s.Stats(); st.FirmwareApplied != 1 {
			t.Errorf("FirmwareApplied = %d, want 1", st.FirmwareApplied)
		}
	})

	t.Run("a device reconnects after the server disconnects it", func(t *testing.T) {
		c := readDeviceConfig(t, out, "simdev-00002")
		before := s.Stats()
		must[*iot.UpdateCertificateOutput](t, "UpdateCertificate")(f.c.UpdateCertificate(ctx,
			&iot.UpdateCertificateInput{CertificateId: aws.String(c.CertificateID), NewStatus: types.CertificateStatusInactive}))
		simWaitFor(t, "the drop to be seen", func() bool { st := s.Stats(); return st.Drops > before.Drops && st.Connected == 2 })
		// While the certificate is inactive, reconnecting fails.
		simWaitFor(t, "a refused reconnect", func() bool { return s.Stats().ConnectFailures > before.ConnectFailures })
		must[*iot.UpdateCertificateOutput](t, "UpdateCertificate")(f.c.UpdateCertificate(ctx,
			&iot.UpdateCertificateInput{CertificateId: aws.String(c.CertificateID), NewStatus: types.CertificateStatusActive}))
		simWaitFor(t, "3 devices connected again", func() bool { return s.Stats().Connected == 3 })
		if st := s.Stats(); st.Connects <= before.Connects {
			t.Errorf("Connects = %d, want more than %d", st.Connects, before.Connects)
		}
	})

	t.Run("a random disconnect comes back", func(t *testing.T) {
		before := s.Stats()
		if !s.Disconnect("simdev-00003") {
			t.Fatal("Disconnect(simdev-00003) = false, want a connected device")
		}
		simWaitFor(t, "simdev-00003 back", func() bool {
			st := s.Stats()
			return st.Connected == 3 && st.Connects > before.Connects
		})
		if st := s.Stats(); st.Disconnects != before.Disconnects+1 || st.Drops != before.Drops {
			t.Errorf("Disconnects, Drops = %d, %d; want %d, %d", st.Disconnects, st.Drops, before.Disconnects+1, before.Drops)
		}
	})

	stop()
	st := s.Stats()
	if st.Connected != 0 {
		t.Errorf("Connected after Run = %d, want 0", st.Connected)
	}
	if st.Telemetry == 0 || st.ShadowUpdates == 0 || st.ShadowRejected != 0 || st.PublishErrors != 0 {
		t.Errorf("Stats = %+v, want telemetry and shadow updates and no rejections", st)
	}
}

func TestSimulateCommand(t *testing.T) {
	f := newMQFixture(t)
	out := filepath.Join(t.TempDir(), "devices")
	simCmd(t, f, exitOK, "provision", provisionArgs(out, "cli-", 2)...)
	summary := regexp.MustCompile(`simulated (\d+) devices: (\d+) connects \((\d+) failed\)`)
	check := func(got string, devices int) {
		t.Helper()
		m := summary.FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("no summary in:\n%s", got)
		}
		n, _ := strconv.Atoi(m[1])
		connects, _ := strconv.Atoi(m[2])
		if n != devices || connects < devices || m[3] != "0" {
			t.Errorf("summary %q, want %d devices connected without failure", m[0], devices)
		}
	}

	t.Run("runs the devices of a folder", func(t *testing.T) {
		check(simCmd(t, f, exitOK, "simulate", "--from", out, "--duration", "2s", "--rate", "2"), 2)
	})
	t.Run("--limit runs the first devices", func(t *testing.T) {
		check(simCmd(t, f, exitOK, "simulate", "--from", out, "--limit", "1", "--duration", "1s"), 1)
	})
	t.Run("--count provisions devices first", func(t *testing.T) {
		got := simCmd(t, f, exitOK, "simulate", "--count", "2", "--prefix", "fly-", "--policy", "seed-device-policy", "--duration", "2s")
		if !strings.Contains(got, "Provisioned 2 devices") {
			t.Errorf("output:\n%s", got)
		}
		check(got, 2)
	})
	t.Run("an empty folder is an error", func(t *testing.T) {
		got := simCmd(t, f, exitError, "simulate", "--from", t.TempDir(), "--duration", "1s")
		if !strings.Contains(got, "iotdm provision") {
			t.Errorf("output:\n%s", got)
		}
	})
	t.Run("bad usage", func(t *testing.T) {
		simCmd(t, f, exitUsage, "simulate")
		simCmd(t, f, exitUsage, "simulate", "--from", out, "--count", "2")
		simCmd(t, f, exitUsage, "simulate", "--from", out, "--churn", "2")
		simCmd(t, f, exitUsage, "simulate", "--from", out, "--qos", "2")
	})
}

func TestSimStatusLine(t *testing.T) {
	prev := sim.Stats{Telemetry: 100, ShadowUpdates: 10}
	st := sim.Stats{Devices: 10, Connected: 9, Connecting: 1, Telemetry: 200, ShadowUpdates: 15, FirmwareApplied: 2,
		JobsSucceeded: 3, JobsFailed: 1, ConnectFailures: 1, LastError: "connect x: refused"}
	got := simStatus(st, prev, 2*time.Second)
	want := "devices 10  connected 9  connecting 1  52 msg/s (telemetry 50, shadow 2.5)  firmware updates 2  jobs succeeded 3 failed 1  errors 1 (last: connect x: refused)"
	if got != want {
		t.Errorf("simStatus = %q, want %q", got, want)
	}
	p := progressText(sim.Progress{Total: 10, Done: 5, Created: 4, Skipped: 1}, 2*time.Second, true)
	if !strings.HasPrefix(p, "[███████████████░░░░░░░░░░░░░░░] 5/10  50%  2.0/s  ETA 3s") {
		t.Errorf("progressText = %q", p)
	}
}

func TestUpSimulate(t *testing.T) {
	cfg := testConfig(t)
	cfg.ThingTypeDeleteWait = 0
	s := startServer(t, cfg)
	ctx := t.Context()
	if err := s.deploySeed(ctx, io.Discard); err != nil {
		t.Fatalf("deploySeed: %v", err)
	}
	c := staticIoTClient(s, s.key.ID, s.key.Secret)
	run := func(want func() bool) string {
		t.Helper()
		var w syncBuffer
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.simulate(rctx, 3, &w) }()
		simWaitFor(t, "the simulated fleet", want)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("simulate = %v\n%s", err, w.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("simulate did not return within 20s of the end of its context")
		}
		return w.String()
	}
	connected := func() int {
		out, err := c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("connectivity.connected:true")})
		if err != nil {
			return -1
		}
		return len(out.Things)
	}

	got := run(func() bool { return connected() == 8 })
	if !strings.Contains(got, "Simulating 8 devices") {
		t.Errorf("output:\n%s", got)
	}
	th := must[*iot.DescribeThingOutput](t, "DescribeThing")(c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("sensor-00002")}))
	if aws.ToString(th.ThingTypeName) != "SensorDevice-"+stacks.SeedName || th.Attributes["location"] != "Building-B" || th.Attributes["firmware"] != "1.1.0" {
		t.Errorf("sensor-00002 = type %q attributes %v", aws.ToString(th.ThingTypeName), th.Attributes)
	}
	groups := must[*iot.ListThingGroupsForThingOutput](t, "ListThingGroupsForThing")(c.ListThingGroupsForThing(ctx,
		&iot.ListThingGroupsForThingInput{ThingName: aws.String("sensor-00002")}))
	var names []string
	for _, g := range groups.ThingGroups {
		names = append(names, aws.ToString(g.GroupName))
	}
	if !slices.Contains(names, "ProductionSensors-"+stacks.SeedName) {
		t.Errorf("sensor-00002 groups = %v, want the production group", names)
	}
	if _, err := os.Stat(filepath.Join(s.DataDir(), "devices", "temp-sensor-01", sim.ConfigFile)); err != nil {
		t.Errorf("sample thing temp-sensor-01 has no device folder: %v", err)
	}
	simWaitFor(t, "everything disconnected", func() bool { return connected() == 0 })

	// A restart reuses the devices.
	got = run(func() bool { return connected() == 8 })
	if strings.Count(got, "created  0") != 2 || !strings.Contains(got, "skipped  5") || !strings.Contains(got, "skipped  3") {
		t.Errorf("second start:\n%s", got)
	}
	if p := thingPrincipals(t, c, "sensor-00001"); len(p) != 1 {
		t.Errorf("sensor-00001 has %d certificates after a restart, want 1", len(p))
	}
}

// jobsDevicePolicy is the seed device policy plus the jobs topics.
const jobsDevicePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
                  "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*",
                  "arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/*"]},
    {"Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
                  "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*",
                  "arn:aws:iot:us-east-1:123456789012:topicfilter/devices/${iot:Connection.Thing.ThingName}/*"]}
  ]
}`

func TestSimulatorJobs(t *testing.T) {
	f := newMQFixture(t)
	ctx := t.Context()
	createPolicy(t, f.c, "jobs-device-policy", jobsDevicePolicy)
	dir := t.TempDir()
	okDir, failDir, seedDir := filepath.Join(dir, "ok"), filepath.Join(dir, "fail"), filepath.Join(dir, "seed")
	simCmd(t, f, exitOK, "provision", append(provisionArgs(okDir, "jobok-", 1, "--attributes", "firmware=1.0.0"), "--policy", "jobs-device-policy")...)
	simCmd(t, f, exitOK, "provision", append(provisionArgs(failDir, "jobfail-", 1, "--attributes", "firmware=1.0.0"), "--policy", "jobs-device-policy")...)
	simCmd(t, f, exitOK, "provision", provisionArgs(seedDir, "jobseed-", 1)...)

	createJob := func(id, thing, doc string) {
		t.Helper()
		th := must[*iot.DescribeThingOutput](t, "DescribeThing")(f.c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)}))
		must[*iot.CreateJobOutput](t, "CreateJob("+id+")")(f.c.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String(id),
			Targets: []string{aws.ToString(th.ThingArn)}, Document: aws.String(doc)}))
	}
	execution := func(id, thing string) (types.JobExecutionStatus, map[string]string) {
		out, err := f.c.DescribeJobExecution(ctx, &iot.DescribeJobExecutionInput{JobId: aws.String(id), ThingName: aws.String(thing)})
		if err != nil || out.Execution == nil {
			return "", nil
		}
		var details map[string]string
		if out.Execution.StatusDetails != nil {
			details = out.Execution.StatusDetails.DetailsMap
		}
		return out.Execution.Status, details
	}

	t.Run("a firmware job is installed, reported and SUCCEEDED", func(t *testing.T) {
		devices, err := sim.ReadDevices(okDir)
		if err != nil {
			t.Fatal(err)
		}
		var reported []string
		var mu sync.Mutex
		s, err := sim.New(sim.Config{Devices: devices, Rate: 0, ShadowInterval: -1, FirmwareDelay: 100 * time.Millisecond,
			OnFirmwareReported: func(thing, version string, _ time.Time) {
				mu.Lock()
				reported = append(reported, thing+" "+version)
				mu.Unlock()
			}})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(rctx) }()
		defer func() { cancel(); <-done }()
		simWaitFor(t, "jobok-00001 connected", func() bool { return s.Stats().Connected == 1 })
		// A job created while the device is connected comes with notify-next.
		createJob("fw-ok-1", "jobok-00001", `{"operation":"firmwareUpdate","version":"2.0.0"}`)
		simWaitFor(t, "fw-ok-1 SUCCEEDED", func() bool {
			st, _ := execution("fw-ok-1", "jobok-00001")
			return st == types.JobExecutionStatusSucceeded
		})
		if _, d := execution("fw-ok-1", "jobok-00001"); d["firmware"] != "2.0.0" {
			t.Errorf("statusDetails = %v, want firmware 2.0.0", d)
		}
		// A second one, queued behind nothing, with a firmware field.
		createJob("fw-ok-2", "jobok-00001", `{"firmware":"2.1.0"}`)
		simWaitFor(t, "fw-ok-2 SUCCEEDED", func() bool {
			st, _ := execution("fw-ok-2", "jobok-00001")
			return st == types.JobExecutionStatusSucceeded
		})
		simWaitFor(t, "2 jobs counted", func() bool { return s.Stats().JobsSucceeded == 2 })
		mu.Lock()
		got := slices.Clone(reported)
		mu.Unlock()
		if !slices.Equal(got, []string{"jobok-00001 2.0.0", "jobok-00001 2.1.0"}) {
			t.Errorf("OnFirmwareReported calls = %v", got)
		}
		if st := s.Stats(); st.JobsFailed != 0 || st.JobsRejected != 0 || st.JobsRefused != 0 || st.FirmwareApplied != 2 {
			t.Errorf("Stats = %+v", st)
		}
	})

	t.Run("simulate --job-failure-rate 1 fails a queued job", func(t *testing.T) {
		createJob("fw-fail-1", "jobfail-00001", `{"operation":"firmwareUpdate","version":"3.0.0"}`)
		out := simCmd(t, f, exitOK, "simulate", "--from", failDir, "--rate", "0", "--firmware-delay", "50ms",
			"--job-failure-rate", "1", "--duration", "3s")
		st, d := execution("fw-fail-1", "jobfail-00001")
		if st != types.JobExecutionStatusFailed || d["reason"] == "" {
			t.Errorf("fw-fail-1 = %s %v, want FAILED with a reason\n%s", st, d, out)
		}
	})

	t.Run("a policy without the jobs topics leaves the device running without jobs", func(t *testing.T) {
		devices, err := sim.ReadDevices(seedDir)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sim.New(sim.Config{Devices: devices, Rate: 0, ShadowInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(rctx) }()
		defer func() { cancel(); <-done }()
		simWaitFor(t, "the refusal", func() bool { st := s.Stats(); return st.Connected == 1 && st.JobsRefused == 1 })
		if st := s.Stats(); !strings.Contains(st.LastError, "jobs/*") || st.Connects != 1 {
			t.Errorf("Stats = %+v, want one connect and the policy hint", st)
		}
	})

	if _, err := sim.New(sim.Config{Devices: []*sim.Device{{}}, JobFailureRate: 1.5}); err == nil {
		t.Error("New(JobFailureRate 1.5) succeeded")
	}
}
