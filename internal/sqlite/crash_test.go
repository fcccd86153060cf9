package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// crashDirEnv, when set, makes TestSurvivesSIGKILL the child that writes
// until it is killed.
const crashDirEnv = "IOTDM_SQLITE_CRASH_DIR"

// TestSurvivesSIGKILL kills a process that is committing Updates and checks
// that every Update it saw acknowledged is in the reopened database, with a
// gap-free feed.
func TestSurvivesSIGKILL(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	lines := bufio.NewScanner(out)
	for len(acked) < 500 && lines.Scan() {
		acked = append(acked, lines.Text())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 500 {
		t.Fatalf("child acknowledged only %d Updates before it ended", len(acked))
	}

	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "iotdm.db"), testLogger(t))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	cs, err := db.Changes(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	committed := make(map[string]bool, len(cs))
	for i, c := range cs {
		if c.Seq != uint64(i+1) {
			t.Fatalf("change %d has seq %d: feed not gap-free", i, c.Seq)
		}
		committed[c.Key] = true
	}
	for _, key := range acked {
		if !committed[key] {
			t.Errorf("acknowledged Update %s lost", key)
		}
	}
	t.Logf("%d acknowledged, %d committed", len(acked), len(cs))
}

// crashChild commits Updates from 8 goroutines, printing each key once its
// Update returns, until it is killed.
func crashChild(dir string) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "iotdm.db"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("%d/%d", g, i)
				err := db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
					return tx.Put(ctx, iotdm.KindThing, key, []byte(`{"v":1}`))
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintln(w, key)
				w.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
