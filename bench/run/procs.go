package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/iotdm/iotdm/bench/internal/child"
	"net/http"
	"time"
)

// waitReady polls url until it answers 200, the process exits, ctx ends or
// timeout passes.
func waitReady(ctx context.Context, p *child.Process, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited before it was ready (%v); log tail:\n%s", p.Name, p.WaitErr(), p.LogTail(2000))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("readiness request for %s: %w", p.Name, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %s (last: %v); log tail:\n%s", p.Name, timeout, last, p.LogTail(2000))
			}
			return fmt.Errorf("waiting for %s: %w", p.Name, ctx.Err())
		case <-tick.C:
		}
	}
}
