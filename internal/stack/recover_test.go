package stack

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// putStack stores a stack record as a service (of some node) left it.
func putStack(t *testing.T, db iotdm.Store, name, status, node string) {
	t.Helper()
	st := Stack{StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/" + name + "/0000", StackName: name,
		Status: status, Node: node, CreationTime: time.Now(), TemplateBody: "{}"}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Put(ctx, KindStack, name, b)
	}); err != nil {
		t.Fatal(err)
	}
}

func openStore(t *testing.T) iotdm.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openService(t *testing.T, db iotdm.Store, node string) *Service {
	t.Helper()
	svc, err := NewService(t.Context(), db, NewCatalog(testType(newWorld())),
		ServiceOptions{Region: "us-east-1", AccountID: "123456789012", Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	return svc
}

// stackState is a stack's status, reason and node as stored.
func stackState(t *testing.T, svc *Service, name string) (status, reason, node string) {
	t.Helper()
	st, err := svc.stack(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return st.Status, st.StatusReason, st.Node
}

// A server of its own fails every operation it finds in progress at start,
// whoever recorded it; REVIEW_IN_PROGRESS (a change set not executed) and
// ended operations stay.
func TestNewServiceFailsInterruptedOperations(t *testing.T) {
	db := openStore(t)
	putStack(t, db, "create", CreateInProgress, "")
	putStack(t, db, "update", UpdateInProgress, "n2")
	putStack(t, db, "delete", DeleteInProgress, "")
	putStack(t, db, "review", ReviewInProgress, "")
	putStack(t, db, "done", CreateComplete, "")
	svc := openService(t, db, "")
	for _, c := range []struct{ name, status, reason string }{
		{"create", CreateFailed, "iotdm stopped while the stack was in CREATE_IN_PROGRESS"},
		{"update", UpdateRollbackFailed, "iotdm node n2 stopped while the stack was in UPDATE_IN_PROGRESS"},
		{"delete", DeleteFailed, "iotdm stopped while the stack was in DELETE_IN_PROGRESS"},
		{"review", ReviewInProgress, ""},
		{"done", CreateComplete, ""},
	} {
		status, reason, node := stackState(t, svc, c.name)
		if status != c.status || reason != c.reason || node != "" {
			t.Errorf("%s: status %s (%q) on node %q, want %s (%q) on no node", c.name, status, reason, node, c.status, c.reason)
		}
	}
	if got := statuses(t, svc, "create"); len(got) != 1 || got[0] != "create CREATE_FAILED" {
		t.Errorf("events of the interrupted stack = %v, want its CREATE_FAILED", got)
	}
}

// A node of a cluster fails at start only the operations it recorded itself
// (a previous process of it); a dead node's are failed by RecoverNodes.
func TestClusterNodeRecoversItsOwnAndDeadNodes(t *testing.T) {
	db := openStore(t)
	putStack(t, db, "mine", CreateInProgress, "n1")
	putStack(t, db, "theirs", UpdateInProgress, "n2")
	putStack(t, db, "alive", DeleteInProgress, "n3")
	svc := openService(t, db, "n1")
	want := func(name, status, reason, node string) {
		t.Helper()
		gs, gr, gn := stackState(t, svc, name)
		if gs != status || gr != reason || gn != node {
			t.Errorf("%s: status %s (%q) on node %q, want %s (%q) on node %q", name, gs, gr, gn, status, reason, node)
		}
	}
	want("mine", CreateFailed, "iotdm stopped while the stack was in CREATE_IN_PROGRESS", "")
	want("theirs", UpdateInProgress, "", "n2")
	want("alive", DeleteInProgress, "", "n3")

	if err := svc.RecoverNodes(t.Context(), func(n string) bool { return n == "n2" }); err != nil {
		t.Fatal(err)
	}
	want("theirs", UpdateRollbackFailed, "iotdm node n2 stopped while the stack was in UPDATE_IN_PROGRESS", "")
	want("alive", DeleteInProgress, "", "n3")
}

// An operation in progress records the node running it, and forgets it
// when it ends.
func TestOperationRecordsItsNode(t *testing.T) {
	w := newWorld()
	w.hold = make(chan struct{})
	db := openStore(t)
	svc, err := NewService(t.Context(), db, NewCatalog(testType(w)),
		ServiceOptions{Region: "us-east-1", AccountID: "123456789012", Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	if _, err := svc.CreateStack(t.Context(), &iotdm.CreateStackInput{StackName: "s", TemplateBody: chain}); err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	status, _, node := stackState(t, svc, "s")
	if status != CreateInProgress || node != "n1" {
		t.Errorf("while creating: status %s on node %q, want CREATE_IN_PROGRESS on n1", status, node)
	}
	close(w.hold)
	if st := waitStack(t, svc, "s"); st.StackStatus != CreateComplete {
		t.Fatalf("status = %s (%s), want CREATE_COMPLETE", st.StackStatus, st.StackStatusReason)
	}
	if status, _, node := stackState(t, svc, "s"); status != CreateComplete || node != "" {
		t.Errorf("after: status %s on node %q, want CREATE_COMPLETE on no node", status, node)
	}
}
