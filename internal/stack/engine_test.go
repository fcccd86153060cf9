package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// world is a fake cloud: the fake provider's resources by physical id,
// with failures injected by logical id.
type world struct {
	mu         sync.Mutex
	res        map[string]map[string]any // physical id -> properties
	log        []string                  // "create A", "update A", "delete A" by logical id
	failCreate map[string]bool
	failUpdate map[string]string // logical id -> the Value whose update fails
	failDelete map[string]bool
	seq        int
	// hold, when set, makes Create wait for it to be closed: the
	// operation stays in progress meanwhile.
	hold chan struct{}
}

func newWorld() *world {
	return &world{res: map[string]map[string]any{}, failCreate: map[string]bool{}, failUpdate: map[string]string{}, failDelete: map[string]bool{}}
}

func (w *world) Create(_ context.Context, r *Request) (*Result, error) {
	if w.hold != nil {
		<-w.hold
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, "create "+r.LogicalID)
	if w.failCreate[r.LogicalID] {
		return nil, fmt.Errorf("injected create failure")
	}
	id := nameOr(r, "Name")
	if _, dup := w.res[id]; dup {
		return nil, iotdm.Errorf(iotdm.ErrResourceAlreadyExists, "%s already exists", id)
	}
	w.res[id] = deepCopyMap(r.Properties)
	w.seq++
	return &Result{PhysicalID: id, Attributes: map[string]any{"Arn": "arn:test:" + id, "Serial": fmt.Sprint(w.seq)}}, nil
}

func (w *world) Update(_ context.Context, r *Request) (*Result, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, "update "+r.LogicalID)
	if bad, ok := w.failUpdate[r.LogicalID]; ok && r.Properties["Value"] == bad {
		// A partial update before failing, which rollback must undo.
		w.res[r.PhysicalID]["Value"] = "half-done"
		return nil, fmt.Errorf("injected update failure")
	}
	if _, ok := w.res[r.PhysicalID]; !ok {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "%s not found", r.PhysicalID)
	}
	w.res[r.PhysicalID] = deepCopyMap(r.Properties)
	return &Result{PhysicalID: r.PhysicalID, Attributes: r.OldAttributes}, nil
}

func (w *world) Delete(_ context.Context, r *Request) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, "delete "+r.LogicalID)
	if w.failDelete[r.LogicalID] {
		return fmt.Errorf("injected delete failure")
	}
	delete(w.res, r.PhysicalID)
	return nil
}

// state returns the world as "physical id: Value" lines.
func (w *world) state() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for id, p := range w.res {
		out = append(out, fmt.Sprintf("%s=%v", id, p["Value"]))
	}
	sort.Strings(out)
	return out
}

func (w *world) takeLog() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.log
	w.log = nil
	return l
}

func testType(w *world) *Type {
	return &Type{Name: "Test::Fake::Res", Provider: w, NameProperty: "Name", NameMax: 64,
		Properties: []string{"Name", "Value", "Other", "Tags"}, CreateOnly: []string{"Name", "Other"},
		Attributes: []string{"Arn", "Serial"}}
}

func newTestService(t *testing.T, w *world) *Service {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc, err := NewService(t.Context(), db, NewCatalog(testType(w)), ServiceOptions{Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	return svc
}

// deploy creates or updates a stack and waits for the outcome.
func deploy(t *testing.T, svc *Service, name, body string, params ...string) *iotdm.Stack {
	t.Helper()
	ctx := t.Context()
	var ps []iotdm.Parameter
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		ps = append(ps, iotdm.Parameter{ParameterKey: k, ParameterValue: v})
	}
	if _, err := svc.stack(ctx, name); err != nil {
		if _, err := svc.CreateStack(ctx, &iotdm.CreateStackInput{StackName: name, TemplateBody: body, Parameters: ps}); err != nil {
			t.Fatalf("CreateStack: %v", err)
		}
	} else if _, err := svc.UpdateStack(ctx, &iotdm.UpdateStackInput{StackName: name, TemplateBody: body, Parameters: ps}); err != nil {
		t.Fatalf("UpdateStack: %v", err)
	}
	return waitStack(t, svc, name)
}

func waitStack(t *testing.T, svc *Service, name string) *iotdm.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := svc.Wait(ctx, name); err != nil {
		t.Fatal(err)
	}
	out, err := svc.DescribeStacks(ctx, &iotdm.DescribeStacksInput{StackName: name})
	if err != nil {
		return nil
	}
	return &out.Stacks[0]
}

// statuses returns the resource events of a stack, oldest first, as
// "Logical STATUS".
func statuses(t *testing.T, svc *Service, name string) []string {
	t.Helper()
	st, err := svc.stack(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := svc.Events(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].LogicalResourceID+" "+evs[i].ResourceStatus)
	}
	return out
}

const chain = `
Parameters:
  Suffix: {Type: String, Default: one}
Resources:
  A:
    Type: Test::Fake::Res
    Properties: {Name: !Sub "a-${Suffix}", Value: "1"}
  B:
    Type: Test::Fake::Res
    Properties: {Name: b, Value: !GetAtt A.Arn}
  C:
    Type: Test::Fake::Res
    Properties: {Name: c, Value: !Ref B}
Outputs:
  AName: {Value: !Ref A, Export: {Name: !Sub "${AWS::StackName}-A"}}
  BValue: {Value: !GetAtt B.Serial}
`

func TestCreateInDependencyOrderWithOutputs(t *testing.T) {
	w := newWorld()
	svc := newTestService(t, w)
	st := deploy(t, svc, "s1", chain)
	if st.StackStatus != "CREATE_COMPLETE" {
		t.Fatalf("status = %s (%s), want CREATE_COMPLETE", st.StackStatus, st.StackStatusReason)
	}
	if got, want := w.takeLog(), []string{"create A", "create B", "create C"}; !slices.Equal(got, want) {
		t.Errorf("provider calls = %v, want %v", got, want)
	}
	if got, want := w.state(), []string{"a-one=1", "b=arn:test:a-one", "c=b"}; !slices.Equal(got, want) {
		t.Errorf("world = %v, want %v", got, want)
	}
	outs := map[string]string{}
	for _, o := range st.Outputs {
		outs[o.OutputKey] = o.OutputValue
	}
	if diff := cmp.Diff(map[string]string{"AName": "a-one", "BValue": "2"}, outs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	ex, _ := svc.ListExports(t.Context(), &iotdm.ListExportsInput{})
	if len(ex.Exports) != 1 || ex.Exports[0].Name != "s1-A" || ex.Exports[0].Value != "a-one" {
		t.Errorf("exports = %+v, want s1-A=a-one", ex.Exports)
	}
	want := []string{"s1 CREATE_IN_PROGRESS", "A CREATE_IN_PROGRESS", "A CREATE_COMPLETE", "B CREATE_IN_PROGRESS",
		"B CREATE_COMPLETE", "C CREATE_IN_PROGRESS", "C CREATE_COMPLETE", "s1 CREATE_COMPLETE"}
	if got := statuses(t, svc, "s1"); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestCreateFailureRollsBackWhatWasCreated(t *testing.T) {
	w := newWorld()
	w.failCreate["C"] = true
	svc := newTestService(t, w)
	st := deploy(t, svc, "s1", chain)
	if st.StackStatus != "ROLLBACK_COMPLETE" {
		t.Fatalf("status = %s, want ROLLBACK_COMPLETE", st.StackStatus)
	}
	if !strings.Contains(st.StackStatusReason, "") {
		t.Fatal()
	}
	if got := w.state(); len(got) != 0 {
		t.Errorf("world after rollback = %v, want empty", got)
	}
	if got, want := w.takeLog(), []string{"create A", "create B", "create C", "delete B", "delete A"}; !slices.Equal(got, want) {
		t.Errorf("provider calls = %v, want %v", got, want)
	}
	evs := statuses(t, svc, "s1")
	if !slices.Contains(evs, "C CREATE_FAILED") || evs[len(evs)-1] != "s1 ROLLBACK_COMPLETE" {
		t.Errorf("events = %v, want C CREATE_FAILED ... s1 ROLLBACK_COMPLETE", evs)
	}
	// A stack in ROLLBACK_COMPLETE can only be deleted.
	_, err := svc.UpdateStack(t.Context(), &iotdm.UpdateStackInput{StackName: "s1", TemplateBody: chain})
	if !iotdm.IsCode(err, iotdm.ErrValidationError) || !strings.Contains(err.Error(), "ROLLBACK_COMPLETE state and can not be updated") {
		t.Errorf("UpdateStack on ROLLBACK_COMPLETE = %v, want ValidationError", err)
	}
	ex, _ := svc.ListExports(t.Context(), &iotdm.ListExportsInput{})
	if len(ex.Exports) != 0 {
		t.Errorf("exports of a rolled back stack = %v, want none", ex.Exports)
	}
}

const chainV2 = `
Parameters:
  Suffix: {Type: String, Default: one}
Resources:
  A:
    Type: Test::Fake::Res
    Properties: {Name: !Sub "a-${Suffix}", Value: "2"}
  B:
    Type: Test::Fake::Res
    Properties: {Name: b, Value: !GetAtt A.Arn}
  D:
    Type: Test::Fake::Res
    Properties: {Name: d, Value: new}
Outputs:
  AName: {Value: !Ref A, Export: {Name: !Sub "${AWS::StackName}-A"}}
`

func TestUpdateInPlaceReplaceAddRemove(t *testing.T) {
	w := newWorld()
	svc := newTestService(t, w)
	deploy(t, svc, "s1", chain)
	w.takeLog()
	// Suffix=two renames A: a replacement; B's value follows A's new Arn;
	// C goes; D comes.
	st := deploy(t, svc, "s1", chainV2, "Suffix=two")
	if st.StackStatus != "UPDATE_COMPLETE" {
		t.Fatalf("status = %s (%s), want UPDATE_COMPLETE", st.StackStatus, st.StackStatusReason)
	}
	if got, want := w.state(), []string{"a-two=2", "b=arn:test:a-two", "d=new"}; !slices.Equal(got, want) {
		t.Errorf("world = %v, want %v", got, want)
	}
	if got, want := w.takeLog(), []string{"create A", "update B", "create D", "delete C", "delete A"}; !slices.Equal(got, want) {
		t.Errorf("provider calls = %v, want %v (replacement first, old deleted at cleanup)", got, want)
	}
	res, err := svc.ListStackResources(t.Context(), &iotdm.ListStackResourcesInput{StackName: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range res.StackResourceSummaries {
		ids = append(ids, r.LogicalResourceId+"="+r.PhysicalResourceId)
	}
	if want := []string{"A=a-two", "B=b", "D=d"}; !slices.Equal(ids, want) {
		t.Errorf("resources = %v, want %v", ids, want)
	}
}

func TestCustomNamedReplacementFails(t *testing.T) {
	w := newWorld()
	svc := newTestService(t, w)
	deploy(t, svc, "s1", chain)
	// Other is create-only; A keeps its name: CloudFormation refuses.
	body := strings.Replace(chain, `Value: "1"}`, `Value: "1", Other: x}`, 1)
	st := deploy(t, svc, "s1", body)
	if st.StackStatus != "UPDATE_ROLLBACK_COMPLETE" {
		t.Fatalf("status = %s, want UPDATE_ROLLBACK_COMPLETE", st.StackStatus)
	}
	ev, _ := svc.DescribeStackEvents(t.Context(), &iotdm.DescribeStackEventsInput{StackName: "s1"})
	found := false
	for _, e := range ev.StackEvents {
		if e.LogicalResourceId == "A" && e.ResourceStatus == "UPDATE_FAILED" &&
			strings.Contains(e.ResourceStatusReason, "custom-named resource requires replacing. Rename a-one") {
			found = true
		}
	}
	if !found {
		t.Errorf("no UPDATE_FAILED event for A naming the custom-name rule: %+v", ev.StackEvents)
	}
	if got, want := w.state(), []string{"a-one=1", "b=arn:test:a-one", "c=b"}; !slices.Equal(got, want) {
		t.Errorf("world = %v, want unchanged %v", got, want)
	}
}

func TestUpdateFailureRollsBackToPreviousState(t *testing.T) {
	w := newWorld()
	svc := newTestService(t, w)
	before := deploy(t, svc, "s1", chain)
	w.takeLog()
	w.failUpdate["B"] = "arn:test:a-two"
	st := deploy(t, svc, "s1", chainV2, "Suffix=two")
	if st.StackStatus != "UPDATE_ROLLBACK_COMPLETE" {
		t.Fatalf("status = %s (%s), want UPDATE_ROLLBACK_COMPLETE", st.StackStatus, st.StackStatusReason)
	}
	if got, want := w.state(), []string{"a-one=1", "b=arn:test:a-one", "c=b"}; !slices.Equal(got, want) {
		t.Errorf("world after rollback = %v, want the state before the update %v", got, want)
	}
	// A's replacement was created, then deleted by the rollback's cleanup;
	// B's half-done update was reverted.
	log := w.takeLog()
	if want := []string{"create A", "update B", "update B", "delete A"}; !slices.Equal(log, want) {
		t.Errorf("provider calls = %v, want %v", log, want)
	}
	if diff := cmp.Diff(before.Outputs, st.Outputs); diff != "" {
		t.Errorf("outputs after rollback (-before +after):\n%s", diff)
	}
	tmpl, _ := svc.GetTemplate(t.Context(), &iotdm.GetTemplateInput{StackName: "s1"})
	if tmpl.TemplateBody != chain {
		t.Errorf("template after rollback is not the previous one")
	}
	// The stack can be updated again once the fault is gone.
	delete(w.failUpdate, "B")
	st = deploy(t, svc, "s1", chainV2, "Suffix=two")
	if st.StackStatus != "UPDATE_COMPLETE" {
		t.Errorf("retry status = %s (%s), want UPDATE_COMPLETE", st.StackStatus, st.StackStatusReason)
	}
}

func TestDeleteInReverseOrderAndRetain(t *testing.T) {
	w := newWorld()
	svc := newTestService(t, w)
	body := strings.Replace(chain, "  C:\n    Type: Test::Fake::Res\n", "  C:\n    Type: Test::Fake::Res\n    DeletionPolicy: Retain\n", 1)
	deploy(t, svc, "s1", body)
	id := waitStack(t, svc, "s1").StackId
	w.takeLog()
	if _, err := svc.DeleteStack(t.Context(), &iotdm.DeleteStackInput{StackName: "s1"}); err != nil {
		t.Fatal(err)
	}
	if st := waitStack(t, svc, "s1"); st != nil {
		t.Fatalf("DescribeStacks by name after delete = %s, want does not exist", st.StackStatus)
	}
	if got, want := w.takeLog(), []string{"delete B", "delete A"}; !slices.Equal(got, want) {
		t.Errorf("provider calls = %v, want %v (C retained)", got, want)
	}
	if got, want := w.state(), []string{"c=b"}; !slices.Equal(got, want) {
		t.Errorf("world = %v, want %v", got, want)
	}
	out, err := svc.DescribeStacks(t.Context(), &iotdm.DescribeStacksInput{StackName: id})
	if err != nil || out.Stacks[0].StackStatus != "DELETE_COMPLETE" {
		t.Errorf("DescribeStacks(by id) = %v, %v; want DELETE_COMPLETE", out, err)
	}
	_, err = svc.DescribeStacks(t.Context(), &iotdm.DescribeStacksInput{StackName: "s1"})
	if err == nil || err.Error() != iotdm.StackDoesNotExist("s1").Error() {
		t.Errorf("DescribeStacks(s1) = %v, want Stack with id s1 does not exist", err)
	}
	// Deleting again is not an error, as on AWS.
	if _, err := svc.DeleteStack(t.Context(), &iotdm.DeleteStackInput{StackName: "s1"}); err != nil {
		t.Errorf("DeleteStack of a deleted stack = %v, want nil", err)
	}
}

func TestDeleteFailureAndRetainResources(t *testing.T) {
	w := newWorld()
	svc := newTestService(t, w)
	deploy(t, svc, "s1", chain)
	w.failDelete["B"] = true
	svc.DeleteStack(t.Context(), &iotdm.DeleteStackInput{StackName: "s1"})
	st := waitStack(t, svc, "s1")
	if st.StackStatus != "DELETE_FAILED" {
		t.Fatalf("status = %s, want DELETE_FAILED", st.StackStatus)
	}
	if _, err := svc.DeleteStack(t.Context(), &iotdm.DeleteStackInput{StackName: "s1", RetainResources: []string{"B"}}); err != nil {
		t.Fatal(err)
	}
	if st := waitStack(t, svc, "s1"); st != nil {
		t.Fatalf("stack still there: %s", st.StackStatus)
	}
	if got, want := w.state(), []string{"b=arn:test:a-one"}; !slices.Equal(got, want) {
		t.Errorf("world = %v, want %v", got, want)
	}
}

func TestExportsInUseCannotGo(t *testing.T) {
	w := newWorld()
	svc := newTestService(t, w)
	deploy(t, svc, "producer", chain)
	consumer := `
Resources:
  X:
    Type: Test::Fake::Res
    Properties: {Name: x, Value: !ImportValue producer-A}
`
	if st := deploy(t, svc, "consumer", consumer); st.StackStatus != "CREATE_COMPLETE" {
		t.Fatalf("consumer = %s (%s)", st.StackStatus, st.StackStatusReason)
	}
	if got := w.state(); !slices.Contains(got, "x=a-one") {
		t.Errorf("world = %v, want x=a-one", got)
	}
	_, err := svc.DeleteStack(t.Context(), &iotdm.DeleteStackInput{StackName: "producer"})
	if !iotdm.IsCode(err, iotdm.ErrValidationError) || !strings.Contains(err.Error(), "in use by consumer") {
		t.Errorf("DeleteStack(producer) = %v, want ValidationError in use by consumer", err)
	}
	// Changing the exported value fails the update and rolls it back.
	st := deploy(t, svc, "producer", chain, "Suffix=two")
	if st.StackStatus != "UPDATE_ROLLBACK_COMPLETE" || !strings.Contains(st.StackStatusReason, "") {
		t.Errorf("update changing an imported export = %s, want UPDATE_ROLLBACK_COMPLETE", st.StackStatus)
	}
}

func TestValidationRefusesAndChangesNothing(t *testing.T) {
	w := newWorld()
	svc := newTestService(t, w)
	for _, tc := range []struct{ name, body, want string }{
		{"unsupported type", "Resources:\n  X:\n    Type: AWS::EC2::Instance\n", "Unsupported resource type: AWS::EC2::Instance"},
		{"unknown property", "Resources:\n  X:\n    Type: Test::Fake::Res\n    Properties: {Nme: x}\n", "Resources/X/Properties/Nme"},
		{"bad GetAtt attribute", "Resources:\n  X:\n    Type: Test::Fake::Res\n  Y:\n    Type: Test::Fake::Res\n    Properties: {Value: !GetAtt X.Nope}\n", "does not support attribute type Nope"},
		{"not a template", "{", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.CreateStack(t.Context(), &iotdm.CreateStackInput{StackName: "bad", TemplateBody: tc.body})
			if !iotdm.IsCode(err, iotdm.ErrValidationError) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CreateStack = %v, want ValidationError containing %q", err, tc.want)
			}
		})
	}
	if _, err := svc.DescribeStacks(t.Context(), &iotdm.DescribeStacksInput{StackName: "bad"}); err == nil {
		t.Error("a refused CreateStack left a stack behind")
	}
	if len(w.takeLog()) != 0 {
		t.Error("a refused CreateStack called a provider")
	}
	_, err := svc.CreateStack(t.Context(), &iotdm.CreateStackInput{StackName: "1bad", TemplateBody: chain})
	if !iotdm.IsCode(err, iotdm.ErrValidationError) {
		t.Errorf("CreateStack(1bad) = %v, want ValidationError", err)
	}
	deploy(t, svc, "s1", chain)
	_, err = svc.CreateStack(t.Context(), &iotdm.CreateStackInput{StackName: "s1", TemplateBody: chain})
	if !iotdm.IsCode(err, iotdm.ErrAlreadyExists) {
		t.Errorf("CreateStack(existing) = %v, want AlreadyExistsException", err)
	}
	_, err = svc.UpdateStack(t.Context(), &iotdm.UpdateStackInput{StackName: "s1", TemplateBody: chain})
	if err == nil || !strings.Contains(err.Error(), "No updates are to be performed.") {
		t.Errorf("UpdateStack(same) = %v, want No updates are to be performed.", err)
	}
	_, err = svc.CreateStack(t.Context(), &iotdm.CreateStackInput{StackName: "p", TemplateBody: chain,
		Parameters: []iotdm.Parameter{{ParameterKey: "Nope", ParameterValue: "x"}}})
	if !iotdm.IsCode(err, iotdm.ErrValidationError) || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("CreateStack(unknown parameter) = %v, want ValidationError naming it", err)
	}
}
