package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// TestCrashSafety kills the server with SIGKILL in the middle of concurrent
// CreateThing traffic, restarts it, and checks that every thing whose
// CreateThing was acknowledged is there and that the change feed has no gaps.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real server process; not in -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	const key, secret = "AKIACRASHTEST0000001", "crash-test-secret-crash-test-secret-0001"

	start := func() (*exec.Cmd, string) {
		t.Helper()
		os.Remove(filepath.Join(dir, "server.json"))
		cmd := exec.Command(bin, "serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "IOTDM_ACCESS_KEY_ID="+key, "IOTDM_SECRET_ACCESS_KEY="+secret)
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatalf("start server: %v", err)
		}
		endpoint := waitForServer(t, dir)
		return cmd, endpoint
	}

	cmd, endpoint := start()
	client := iot.New(iot.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		Retryer:      aws.NopRetryer{},
	})

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("crash-%02d-%06d", w, i)
				_, err := client.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)})
				if err != nil {
					continue // the server may be dead; only acknowledged writes count
				}
				mu.Lock()
				acked = append(acked, name)
				mu.Unlock()
			}
		}()
	}
	// Let traffic build up, then kill the server while requests are in flight.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 2000 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill server: %v", err)
	}
	_ = cmd.Wait()
	time.Sleep(200 * time.Millisecond) // requests in flight fail now
	cancel()
	wg.Wait()
	mu.Lock()
	names := append([]string(nil), acked...)
	mu.Unlock()
	if len(names) < 100 {
		t.Fatalf("only %d CreateThing calls succeeded before the kill; the test needs traffic", len(names))
	}
	t.Logf("%d CreateThing calls acknowledged before SIGKILL", len(names))

	// The change feed, read straight from the store: gap-free from 1, and a
	// put for every acknowledged thing.
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "iotdm.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open store after kill: %v", err)
	}
	put := map[string]bool{}
	var last uint64
	err = iotdm.Follow(ctxWithTimeout(t, 30*time.Second), db, 0, func(c iotdm.Change) error {
		if c.Seq != last+1 {
			return fmt.Errorf("change feed gap: seq %d after %d", c.Seq, last)
		}
		last = c.Seq
		if c.Kind == iotdm.KindThing && c.Op == iotdm.OpPut {
			put[c.Key] = true
		}
		lastSeq, err := db.LastSeq(context.Background())
		if err != nil {
			return err
		}
		if c.Seq == lastSeq {
			return errDone
		}
		return nil
	})
	if err != nil && err != errDone {
		t.Fatalf("follow change feed: %v", err)
	}
	db.Close()
	for _, n := range names {
		if !put[n] {
			t.Errorf("acknowledged thing %s has no change in the feed", n)
		}
	}

	// Restart: every acknowledged thing is there.
	cmd, endpoint = start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	client = iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
	missing := 0
	for _, n := range names {
		if _, err := client.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String(n)}); err != nil {
			missing++
			if missing < 10 {
				t.Errorf("DescribeThing(%s) after restart = %v, want the acknowledged thing", n, err)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged things lost", missing, len(names))
	}
	// New writes continue the feed after restart.
	if _, err := client.CreateThing(context.Background(), &iot.CreateThingInput{ThingName: aws.String("after-restart")}); err != nil {
		t.Fatalf("CreateThing after restart: %v", err)
	}
}

var errDone = fmt.Errorf("done")

func ctxWithTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitForServer waits for server.json in dir and /healthz, and returns the
// endpoint URL.
func waitForServer(t *testing.T, dir string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(filepath.Join(dir, "server.json"))
		if err == nil {
			var info struct {
				HTTPAddr string `json:"httpAddr"`
			}
			if json.Unmarshal(b, &info) == nil && info.HTTPAddr != "" {
				endpoint := "http://" + info.HTTPAddr
				if resp, err := http.Get(endpoint + "/healthz"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return endpoint
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server did not become ready in %s", dir)
	return ""
}
