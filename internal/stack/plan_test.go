package stack

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestPlanGolden deploys testdata/plans/NAME.before.yaml, then plans
// NAME.after.yaml (with NAME.params, one key=value per line, if present)
// against it and compares the change set with NAME.golden.json. Run with
// -update to rewrite the golden files after a deliberate change.
func TestPlanGolden(t *testing.T) {
	befores, err := filepath.Glob("testdata/plans/*.before.yaml")
	if err != nil || len(befores) == 0 {
		t.Fatalf("no plan cases: %v", err)
	}
	for _, before := range befores {
		name := strings.TrimSuffix(filepath.Base(before), ".before.yaml")
		t.Run(name, func(t *testing.T) {
			w := newWorld()
			svc := newTestService(t, w)
			read := func(suffix string) string {
				b, err := os.ReadFile(filepath.Join("testdata/plans", name+suffix))
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				return string(b)
			}
			if st := deploy(t, svc, name, read(".before.yaml")); st.StackStatus != "CREATE_COMPLETE" {
				t.Fatalf("before: %s (%s)", st.StackStatus, st.StackStatusReason)
			}
			var params []iotdm.Parameter
			for _, line := range strings.Split(strings.TrimSpace(read(".params")), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					params = append(params, iotdm.Parameter{ParameterKey: k, ParameterValue: v})
				}
			}
			_, err := svc.CreateChangeSet(t.Context(), &iotdm.CreateChangeSetInput{StackName: name, ChangeSetName: "plan",
				TemplateBody: read(".after.yaml"), Parameters: params})
			if err != nil {
				t.Fatalf("CreateChangeSet: %v", err)
			}
			yes := true
			cs, err := svc.DescribeChangeSet(t.Context(), &iotdm.DescribeChangeSetInput{StackName: name, ChangeSetName: "plan", IncludePropertyValues: &yes})
			if err != nil {
				t.Fatal(err)
			}
			if cs.Status != "CREATE_COMPLETE" || cs.ExecutionStatus != "AVAILABLE" {
				t.Fatalf("change set %s/%s: %s", cs.Status, cs.ExecutionStatus, cs.StatusReason)
			}
			stored, err := svc.changeSet(t.Context(), name, "plan")
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(stored.Changes, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata/plans", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), strings.TrimSpace(string(got))); diff != "" {
				t.Errorf("plan of %s (-golden +got):\n%s", name, diff)
			}
			// Executing the change set makes the stack what was planned,
			// and nothing the plan did not show changes.
			if _, err := svc.ExecuteChangeSet(t.Context(), &iotdm.ExecuteChangeSetInput{StackName: name, ChangeSetName: "plan"}); err != nil {
				t.Fatal(err)
			}
			if st := waitStack(t, svc, name); st.StackStatus != "UPDATE_COMPLETE" {
				t.Errorf("after execute: %s (%s)", st.StackStatus, st.StackStatusReason)
			}
			if _, err := svc.DescribeChangeSet(t.Context(), &iotdm.DescribeChangeSetInput{StackName: name, ChangeSetName: "plan"}); !iotdm.IsCode(err, iotdm.ErrChangeSetNotFound) {
				t.Errorf("executed change set still described: %v", err)
			}
		})
	}
}

func TestChangeSetCreateAndNoChanges(t *testing.T) {
	w := newWorld()
	svc := newTestService(t, w)
	ctx := t.Context()
	out, err := svc.CreateChangeSet(ctx, &iotdm.CreateChangeSetInput{StackName: "new", ChangeSetName: "c1", ChangeSetType: "CREATE", TemplateBody: chain})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := svc.DescribeStacks(ctx, &iotdm.DescribeStacksInput{StackName: "new"})
	if st.Stacks[0].StackStatus != "REVIEW_IN_PROGRESS" {
		t.Errorf("stack of a CREATE change set = %s, want REVIEW_IN_PROGRESS", st.Stacks[0].StackStatus)
	}
	if len(w.takeLog()) != 0 {
		t.Error("creating a change set called a provider")
	}
	cs, err := svc.DescribeChangeSet(ctx, &iotdm.DescribeChangeSetInput{ChangeSetName: out.Id})
	if err != nil || len(cs.Changes) != 3 {
		t.Fatalf("DescribeChangeSet(by arn) = %v changes, %v; want 3 Adds", cs, err)
	}
	if _, err := svc.ExecuteChangeSet(ctx, &iotdm.ExecuteChangeSetInput{ChangeSetName: out.Id}); err != nil {
		t.Fatal(err)
	}
	if s := waitStack(t, svc, "new"); s.StackStatus != "CREATE_COMPLETE" {
		t.Fatalf("after execute: %s", s.StackStatus)
	}
	// The same template again: a FAILED change set with the reason the aws
	// CLI's deploy command looks for, which cannot be executed.
	if _, err := svc.CreateChangeSet(ctx, &iotdm.CreateChangeSetInput{StackName: "new", ChangeSetName: "c2", TemplateBody: chain}); err != nil {
		t.Fatal(err)
	}
	cs, _ = svc.DescribeChangeSet(ctx, &iotdm.DescribeChangeSetInput{StackName: "new", ChangeSetName: "c2"})
	if cs.Status != "FAILED" || cs.StatusReason != noChanges || cs.ExecutionStatus != "UNAVAILABLE" {
		t.Errorf("empty change set = %s %q %s", cs.Status, cs.StatusReason, cs.ExecutionStatus)
	}
	_, err = svc.ExecuteChangeSet(ctx, &iotdm.ExecuteChangeSetInput{StackName: "new", ChangeSetName: "c2"})
	if !iotdm.IsCode(err, iotdm.ErrInvalidChangeSetStatus) {
		t.Errorf("ExecuteChangeSet(FAILED) = %v, want InvalidChangeSetStatus", err)
	}
	if _, err := svc.DeleteChangeSet(ctx, &iotdm.DeleteChangeSetInput{StackName: "new", ChangeSetName: "c2"}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.DescribeChangeSet(ctx, &iotdm.DescribeChangeSetInput{StackName: "new", ChangeSetName: "c2"})
	if !iotdm.IsCode(err, iotdm.ErrChangeSetNotFound) {
		t.Errorf("DescribeChangeSet(deleted) = %v, want ChangeSetNotFound", err)
	}
}
