package control_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

const (
	monRegion  = "us-east-1"
	monAccount = "123456789012"
)

// monitorFixture is the monitoring services on one real SQLite store with
// a clock the test sets.
type monitorFixture struct {
	db     iotdm.Store
	now    time.Time
	logs   *control.LogGroups
	alarms *control.Alarms
	dash   *control.Dashboards
}

func newMonitorFixture(t *testing.T) *monitorFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &monitorFixture{db: db, now: time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)}
	clock := func() time.Time { return f.now }
	f.logs = control.NewLogGroups(db, control.LogGroupsOptions{Region: monRegion, AccountID: monAccount, Now: clock})
	f.alarms = control.NewAlarms(db, control.AlarmsOptions{Region: monRegion, AccountID: monAccount, Now: clock})
	f.dash = control.NewDashboards(db, control.DashboardsOptions{Region: monRegion, AccountID: monAccount, Now: clock})
	return f
}

func (f *monitorFixture) lastSeq(t *testing.T) uint64 {
	t.Helper()
	seq, err := f.db.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// changesSince returns the changes after seq as "op kind/key".
func (f *monitorFixture) changesSince(t *testing.T, seq uint64) []string {
	t.Helper()
	cs, err := f.db.Changes(t.Context(), seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s/%s", c.Op, c.Kind, c.Key))
	}
	return out
}

// wantMonCode fails unless err carries code and, when substr is not empty, a
// message containing it.
func wantMonCode(t *testing.T, call string, err error, code iotdm.ErrorCode, substr string) {
	t.Helper()
	if got := iotdm.CodeOf(err); got != code {
		t.Fatalf("%s = %v, want %s", call, err, code)
	}
	if substr != "" && !strings.Contains(err.Error(), substr) {
		t.Errorf("%s = %v, want a message containing %q", call, err, substr)
	}
}

func monInt32(v int32) *int32 { return &v }

func (f *monitorFixture) createLogGroup(t *testing.T, name string) {
	t.Helper()
	if _, err := f.logs.CreateLogGroup(t.Context(), &iotdm.CreateLogGroupInput{LogGroupName: name}); err != nil {
		t.Fatalf("CreateLogGroup(%s): %v", name, err)
	}
}

func (f *monitorFixture) describeLogGroup(t *testing.T, name string) iotdm.LogGroup {
	t.Helper()
	out, err := f.logs.DescribeLogGroups(t.Context(), &iotdm.DescribeLogGroupsInput{LogGroupIdentifiers: []string{name}})
	if err != nil || len(out.LogGroups) != 1 {
		t.Fatalf("DescribeLogGroups(%s) = %+v, %v", name, out, err)
	}
	return out.LogGroups[0]
}

func TestLogGroupLifecycle(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := t.Context()
	seq := f.lastSeq(t)
	_, err := f.logs.CreateLogGroup(ctx, &iotdm.CreateLogGroupInput{LogGroupName: "/aws/iot/device-management",
		Tags: map[string]string{"team": "fleet"}, LogGroupClass: iotdm.LogGroupClassInfrequentAccess})
	if err != nil {
		t.Fatal(err)
	}
	want := iotdm.LogGroup{
		LogGroupName:              "/aws/iot/device-management",
		CreationTime:              f.now.UnixMilli(),
		MetricFilterCount:         monInt32(0),
		Arn:                       "arn:aws:logs:us-east-1:123456789012:log-group:/aws/iot/device-management:*",
		StoredBytes:               new(int64),
		LogGroupClass:             "INFREQUENT_ACCESS",
		LogGroupArn:               "arn:aws:logs:us-east-1:123456789012:log-group:/aws/iot/device-management",
		DeletionProtectionEnabled: new(bool),
	}
	if diff := cmp.Diff(want, f.describeLogGroup(t, "/aws/iot/device-management")); diff != "" {
		t.Errorf("described (-want +got):\n%s", diff)
	}

	_, err = f.logs.CreateLogGroup(ctx, &iotdm.CreateLogGroupInput{LogGroupName: "/aws/iot/device-management"})
	wantMonCode(t, "CreateLogGroup(existing)", err, iotdm.ErrResourceAlreadyExists, "The specified log group already exists")

	if _, err := f.logs.PutRetentionPolicy(ctx, &iotdm.PutRetentionPolicyInput{LogGroupName: "/aws/iot/device-management", RetentionInDays: monInt32(14)}); err != nil {
		t.Fatal(err)
	}
	if g := f.describeLogGroup(t, "/aws/iot/device-management"); g.RetentionInDays == nil || *g.RetentionInDays != 14 {
		t.Errorf("retentionInDays = %v, want 14", g.RetentionInDays)
	}
	if _, err := f.logs.DeleteRetentionPolicy(ctx, &iotdm.DeleteRetentionPolicyInput{LogGroupName: "/aws/iot/device-management"}); err != nil {
		t.Fatal(err)
	}
	if g := f.describeLogGroup(t, "/aws/iot/device-management"); g.RetentionInDays != nil {
		t.Errorf("retentionInDays = %v after DeleteRetentionPolicy, want none", *g.RetentionInDays)
	}
	if _, err := f.logs.DeleteLogGroup(ctx, &iotdm.DeleteLogGroupInput{LogGroupName: "/aws/iot/device-management"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.logs.DeleteLogGroup(ctx, &iotdm.DeleteLogGroupInput{LogGroupName: "/aws/iot/device-management"})
	wantMonCode(t, "DeleteLogGroup(deleted)", err, iotdm.ErrResourceNotFound, "The specified log group does not exist.")

	// Every write is one change of the log group, and refused writes none.
	wantChanges := []string{
		"put loggroup//aws/iot/device-management",
		"put loggroup//aws/iot/device-management",
		"put loggroup//aws/iot/device-management",
		"delete loggroup//aws/iot/device-management",
	}
	if diff := cmp.Diff(wantChanges, f.changesSince(t, seq)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func TestLogGroupStoredRecord(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := t.Context()
	if _, err := f.logs.CreateLogGroup(ctx, &iotdm.CreateLogGroupInput{LogGroupName: "app", KmsKeyID: "arn:aws:kms:us-east-1:123456789012:key/k",
		DeletionProtectionEnabled: true}); err != nil {
		t.Fatal(err)
	}
	b, ok, err := f.db.Get(ctx, iotdm.KindLogGroup, "app")
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	var got iotdm.StoredLogGroup
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := iotdm.StoredLogGroup{LogGroupName: "app", CreationTime: f.now.UnixMilli(), LogGroupClass: "STANDARD",
		KmsKeyID: "arn:aws:kms:us-east-1:123456789012:key/k", DeletionProtectionEnabled: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	_, err = f.logs.DeleteLogGroup(ctx, &iotdm.DeleteLogGroupInput{LogGroupName: "app"})
	wantMonCode(t, "DeleteLogGroup(protected)", err, iotdm.ErrValidation, "deletion protection")
}

func TestCreateLogGroupValidation(t *testing.T) {
	f := newMonitorFixture(t)
	manyTags := map[string]string{}
	for i := range 51 {
		manyTags[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name   string
		in     iotdm.CreateLogGroupInput
		substr string
	}{
		{name: "empty name", in: iotdm.CreateLogGroupInput{}, substr: "Member must not be null"},
		{name: "name too long", in: iotdm.CreateLogGroupInput{LogGroupName: strings.Repeat("a", 513)}, substr: "less than or equal to 512"},
		{name: "name with a space", in: iotdm.CreateLogGroupInput{LogGroupName: "my group"}, substr: `[\.\-_/#A-Za-z0-9]+`},
		{name: "name with a colon", in: iotdm.CreateLogGroupInput{LogGroupName: "a:b"}, substr: "regular expression"},
		{name: "reserved aws/ prefix", in: iotdm.CreateLogGroupInput{LogGroupName: "aws/x"}, substr: "reserved"},
		{name: "unknown class", in: iotdm.CreateLogGroupInput{LogGroupName: "a", LogGroupClass: "COLD"}, substr: "enum value set"},
		{name: "empty tag map", in: iotdm.CreateLogGroupInput{LogGroupName: "a", Tags: map[string]string{}}, substr: "greater than or equal to 1"},
		{name: "too many tags", in: iotdm.CreateLogGroupInput{LogGroupName: "a", Tags: manyTags}, substr: "less than or equal to 50"},
		{name: "bad tag key", in: iotdm.CreateLogGroupInput{LogGroupName: "a", Tags: map[string]string{"a*b": "v"}}, substr: "tags.key"},
		{name: "bad tag value", in: iotdm.CreateLogGroupInput{LogGroupName: "a", Tags: map[string]string{"k": "a*b"}}, substr: "tags.value"},
		{name: "kms key too long", in: iotdm.CreateLogGroupInput{LogGroupName: "a", KmsKeyID: strings.Repeat("k", 257)}, substr: "kmsKeyId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.logs.CreateLogGroup(t.Context(), &tt.in)
			wantMonCode(t, "CreateLogGroup", err, iotdm.ErrInvalidParameter, tt.substr)
		})
	}
	// The whole name alphabet, at the longest length, is accepted.
	name := strings.Repeat("/aws/x._-#A9", 42) + "zzzzzzzz"
	if len(name) != 512 {
		t.Fatalf("test name has length %d", len(name))
	}
	f.createLogGroup(t, name)
}

func TestPutRetentionPolicy(t *testing.T) {
	f := newMonitorFixture(t)
	f.createLogGroup(t, "g")
	for _, days := range iotdm.RetentionDays {
		if _, err := f.logs.PutRetentionPolicy(t.Context(), &iotdm.PutRetentionPolicyInput{LogGroupName: "g", RetentionInDays: monInt32(days)}); err != nil {
			t.Errorf("PutRetentionPolicy(%d) = %v", days, err)
		}
	}
	for _, days := range []int32{0, 2, -1, 4000} {
		_, err := f.logs.PutRetentionPolicy(t.Context(), &iotdm.PutRetentionPolicyInput{LogGroupName: "g", RetentionInDays: monInt32(days)})
		wantMonCode(t, fmt.Sprintf("PutRetentionPolicy(%d)", days), err, iotdm.ErrInvalidParameter, "Member must satisfy enum value set: [1, 3, 5, 7, 14,")
	}
	_, err := f.logs.PutRetentionPolicy(t.Context(), &iotdm.PutRetentionPolicyInput{LogGroupName: "g"})
	wantMonCode(t, "PutRetentionPolicy(no days)", err, iotdm.ErrInvalidParameter, "Value null at 'retentionInDays'")
	_, err = f.logs.PutRetentionPolicy(t.Context(), &iotdm.PutRetentionPolicyInput{LogGroupName: "missing", RetentionInDays: monInt32(7)})
	wantMonCode(t, "PutRetentionPolicy(missing group)", err, iotdm.ErrResourceNotFound, "")
	_, err = f.logs.DeleteRetentionPolicy(t.Context(), &iotdm.DeleteRetentionPolicyInput{LogGroupName: "missing"})
	wantMonCode(t, "DeleteRetentionPolicy(missing group)", err, iotdm.ErrResourceNotFound, "")
}

func TestDescribeLogGroups(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := t.Context()
	names := []string{"/app/a", "/app/b", "/app/c", "/other/DataLogs", "DataLogs", "GroupDataLogs", "datalogs"}
	for _, n := range names {
		f.createLogGroup(t, n)
	}
	if _, err := f.logs.CreateLogGroup(ctx, &iotdm.CreateLogGroupInput{LogGroupName: "delivery", LogGroupClass: iotdm.LogGroupClassDelivery}); err != nil {
		t.Fatal(err)
	}
	namesOf := func(out *iotdm.DescribeLogGroupsOutput) []string {
		var ns []string
		for _, g := range out.LogGroups {
			ns = append(ns, g.LogGroupName)
		}
		return ns
	}
	describe := func(in iotdm.DescribeLogGroupsInput) *iotdm.DescribeLogGroupsOutput {
		t.Helper()
		out, err := f.logs.DescribeLogGroups(ctx, &in)
		if err != nil {
			t.Fatalf("DescribeLogGroups(%+v): %v", in, err)
		}
		return out
	}

	t.Run("all in ASCII order", func(t *testing.T) {
		got := namesOf(describe(iotdm.DescribeLogGroupsInput{}))
		want := []string{"/app/a", "/app/b", "/app/c", "/other/DataLogs", "DataLogs", "GroupDataLogs", "datalogs", "delivery"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	})
	t.Run("prefix pages by limit", func(t *testing.T) {
		var got []string
		token, pages := "", 0
		for {
			out := describe(iotdm.DescribeLogGroupsInput{LogGroupNamePrefix: "/app/", Limit: monInt32(2), NextToken: token})
			got = append(got, namesOf(out)...)
			pages++
			if token = out.NextToken; token == "" {
				break
			}
		}
		if diff := cmp.Diff([]string{"/app/a", "/app/b", "/app/c"}, got); diff != "" || pages != 2 {
			t.Errorf("pages %d, names (-want +got):\n%s", pages, diff)
		}
	})
	t.Run("pattern is a case-sensitive substring and shortens entries", func(t *testing.T) {
		out := describe(iotdm.DescribeLogGroupsInput{LogGroupNamePattern: "DataLogs"})
		if diff := cmp.Diff([]string{"/other/DataLogs", "DataLogs", "GroupDataLogs"}, namesOf(out)); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
		want := iotdm.LogGroup{LogGroupName: "DataLogs", CreationTime: f.now.UnixMilli(), Arn: "arn:aws:logs:us-east-1:123456789012:log-group:DataLogs:*"}
		if diff := cmp.Diff(want, out.LogGroups[1]); diff != "" {
			t.Errorf("short entry (-want +got):\n%s", diff)
		}
	})
	t.Run("class", func(t *testing.T) {
		if diff := cmp.Diff([]string{"delivery"}, namesOf(describe(iotdm.DescribeLogGroupsInput{LogGroupClass: "DELIVERY"}))); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	})
	t.Run("identifiers by name and ARN, missing ones skipped", func(t *testing.T) {
		out := describe(iotdm.DescribeLogGroupsInput{LogGroupIdentifiers: []string{
			"DataLogs", "arn:aws:logs:us-east-1:123456789012:log-group:/app/b:*", "arn:aws:logs:us-east-1:123456789012:log-group:/app/c",
			"nope", "arn:aws:logs:eu-west-1:123456789012:log-group:/app/a"}})
		if diff := cmp.Diff([]string{"/app/b", "/app/c", "DataLogs"}, namesOf(out)); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	})
	t.Run("empty result is an empty list", func(t *testing.T) {
		out := describe(iotdm.DescribeLogGroupsInput{LogGroupNamePrefix: "/none"})
		if out.LogGroups == nil || len(out.LogGroups) != 0 || out.NextToken != "" {
			t.Errorf("out = %+v", out)
		}
	})

	refused := []struct {
		name   string
		in     iotdm.DescribeLogGroupsInput
		substr string
	}{
		{"limit 0", iotdm.DescribeLogGroupsInput{Limit: monInt32(0)}, "greater than or equal to 1"},
		{"limit 51", iotdm.DescribeLogGroupsInput{Limit: monInt32(51)}, "less than or equal to 50"},
		{"prefix and pattern", iotdm.DescribeLogGroupsInput{LogGroupNamePrefix: "a", LogGroupNamePattern: "b"}, "mutually exclusive"},
		{"bad prefix", iotdm.DescribeLogGroupsInput{LogGroupNamePrefix: "a b"}, "logGroupNamePrefix"},
		{"bad pattern", iotdm.DescribeLogGroupsInput{LogGroupNamePattern: "a*"}, "logGroupNamePattern"},
		{"bad class", iotdm.DescribeLogGroupsInput{LogGroupClass: "x"}, "enum value set"},
		{"bad token", iotdm.DescribeLogGroupsInput{NextToken: "!!"}, "nextToken"},
		{"identifiers with prefix", iotdm.DescribeLogGroupsInput{LogGroupIdentifiers: []string{"a"}, LogGroupNamePrefix: "a"}, "cannot be combined"},
		{"empty identifiers", iotdm.DescribeLogGroupsInput{LogGroupIdentifiers: []string{}}, "between 1 and 50"},
		{"bad account id", iotdm.DescribeLogGroupsInput{AccountIdentifiers: []string{"12"}}, "accountIdentifiers"},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := f.logs.DescribeLogGroups(ctx, &tt.in)
			wantMonCode(t, "DescribeLogGroups", err, iotdm.ErrInvalidParameter, tt.substr)
		})
	}
}

func TestLogGroupTags(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := t.Context()
	f.createLogGroup(t, "/app/x")
	arn := "arn:aws:logs:us-east-1:123456789012:log-group:/app/x"
	list := func() map[string]string {
		t.Helper()
		out, err := f.logs.ListTagsForResource(ctx, &iotdm.LogsListTagsForResourceInput{ResourceArn: arn})
		if err != nil {
			t.Fatalf("ListTagsForResource: %v", err)
		}
		old, err := f.logs.ListTagsLogGroup(ctx, &iotdm.ListTagsLogGroupInput{LogGroupName: "/app/x"})
		if err != nil || !cmp.Equal(old.Tags, out.Tags) {
			t.Fatalf("ListTagsLogGroup = %+v, %v; ListTagsForResource said %v", old, err, out.Tags)
		}
		return out.Tags
	}
	if got := list(); got == nil || len(got) != 0 {
		t.Errorf("tags of an untagged group = %#v, want an empty map", got)
	}
	if _, err := f.logs.TagResource(ctx, &iotdm.LogsTagResourceInput{ResourceArn: arn, Tags: map[string]string{"a": "1", "b": "2"}}); err != nil {
		t.Fatal(err)
	}
	// The ARN with ":*", as DescribeLogGroups' arn shows it, works too.
	if _, err := f.logs.TagResource(ctx, &iotdm.LogsTagResourceInput{ResourceArn: arn + ":*", Tags: map[string]string{"b": "3"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.logs.TagLogGroup(ctx, &iotdm.TagLogGroupInput{LogGroupName: "/app/x", Tags: map[string]string{"c": "4"}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1", "b": "3", "c": "4"}, list()); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if _, err := f.logs.UntagResource(ctx, &iotdm.LogsUntagResourceInput{ResourceArn: arn, TagKeys: []string{"a", "zz"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.logs.UntagLogGroup(ctx, &iotdm.UntagLogGroupInput{LogGroupName: "/app/x", Tags: []string{"c"}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"b": "3"}, list()); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}

	many := map[string]string{}
	for i := range 50 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	_, err := f.logs.TagResource(ctx, &iotdm.LogsTagResourceInput{ResourceArn: arn, Tags: many})
	wantMonCode(t, "TagResource(51 in all)", err, iotdm.ErrTooManyTags, "no more than 50 tags")
	_, err = f.logs.TagLogGroup(ctx, &iotdm.TagLogGroupInput{LogGroupName: "/app/x", Tags: many})
	wantMonCode(t, "TagLogGroup(51 in all)", err, iotdm.ErrInvalidParameter, "no more than 50 tags")

	_, err = f.logs.TagResource(ctx, &iotdm.LogsTagResourceInput{ResourceArn: arn})
	wantMonCode(t, "TagResource(no tags)", err, iotdm.ErrInvalidParameter, "tags")
	_, err = f.logs.TagResource(ctx, &iotdm.LogsTagResourceInput{ResourceArn: "log-group:/app/x", Tags: map[string]string{"a": "1"}})
	wantMonCode(t, "TagResource(not an ARN)", err, iotdm.ErrInvalidParameter, "")
	for _, other := range []string{
		"arn:aws:logs:us-east-1:123456789012:log-group:/app/none",
		"arn:aws:logs:us-east-1:123456789012:destination:d",
		"arn:aws:logs:eu-west-1:123456789012:log-group:/app/x",
	} {
		_, err = f.logs.ListTagsForResource(ctx, &iotdm.LogsListTagsForResourceInput{ResourceArn: other})
		wantMonCode(t, "ListTagsForResource("+other+")", err, iotdm.ErrResourceNotFound, "")
	}
	_, err = f.logs.ListTagsLogGroup(ctx, &iotdm.ListTagsLogGroupInput{LogGroupName: "/app/none"})
	wantMonCode(t, "ListTagsLogGroup(missing)", err, iotdm.ErrResourceNotFound, "")
	_, err = f.logs.UntagLogGroup(ctx, &iotdm.UntagLogGroupInput{LogGroupName: "/app/x"})
	wantMonCode(t, "UntagLogGroup(no keys)", err, iotdm.ErrInvalidParameter, "")
}

func TestLogGroupsConcurrentCreateOneWins(t *testing.T) {
	f := newMonitorFixture(t)
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := f.logs.CreateLogGroup(context.Background(), &iotdm.CreateLogGroupInput{LogGroupName: "race"})
			errs <- err
		}()
	}
	ok := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !iotdm.IsCode(err, iotdm.ErrResourceAlreadyExists):
			t.Errorf("CreateLogGroup = %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d creates succeeded, want 1", ok)
	}
}
