// Command ceiling is the benchmark's reference server: the least work an HTTP
// server in Go can do for the benchmarked requests on this machine. It reads
// each request's body, remembers thing names in a map under a mutex on POST,
// and answers a fixed small JSON document to everything. It does not verify
// signatures. Its rate, measured with the load generator beside it, is what
// the machine can do at all.
//
//	ceiling -addr 127.0.0.1:8099
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8099", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *addr); err != nil {
		log.Fatalf("ceiling: %v", err)
	}
}

// serve runs the server on addr until ctx is cancelled.
func serve(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: newHandler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("listen on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// handler is the whole server's state: the names POSTed so far.
type handler struct {
	mu    sync.Mutex
	names map[string]struct{}
}

func newHandler() *handler { return &handler{names: map[string]struct{}{}} }

// answer is the fixed body of every response.
const (
	answer    = `{"thingName":"ceiling","thingId":"00000000-0000-0000-0000-000000000000"}`
	answerLen = "72" // len(answer), checked by TestAnswerLen
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, `{"message":"bad body"}`, http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodPost {
		name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		h.mu.Lock()
		h.names[name] = struct{}{}
		h.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", answerLen)
	io.WriteString(w, answer)
}
