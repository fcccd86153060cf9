package awsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm/internal/awsapi"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// These tests drive the log stream and event operations end to end: a
// real AWS SDK for Go v2 CloudWatch Logs client (and the aws CLI), the
// signed edge, and the log services on a real SQLite database, composed as
// cmd/iotdm does.

const (
	leAKID   = "AKIDLOGEVENTS"
	leSecret = "log/events+secret/EXAMPLEKEY"
)

// serveLogEvents serves the logs endpoint over a fresh database and returns
// its URL.
func serveLogEvents(t *testing.T) string {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "logs.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.OpenLogEventStore(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.Close()
		db.Close()
	})
	const region, account = "us-east-1", "123456789012"
	events := control.NewLogEvents(db, store, control.LogEventsOptions{Region: region, AccountID: account})
	groups := events.Groups(control.NewLogGroups(db, control.LogGroupsOptions{Region: region, AccountID: account}))
	s := awsapi.New(awsapi.Config{
		Keys:   func(id string) (string, bool) { return leSecret, id == leAKID },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	s.Handle("logs", awsapi.NewLogsWithEvents(groups, events))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newLogEventsClient(t *testing.T) *cloudwatchlogs.Client {
	t.Helper()
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(serveLogEvents(t)),
		Credentials:  credentials.NewStaticCredentialsProvider(leAKID, leSecret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

func TestLogEventsWithSDK(t *testing.T) {
	c := newLogEventsClient(t)
	ctx := context.Background()
	const group = "/iot/fleet"
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"dev-1", "dev-2"} {
		if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(s)}); err != nil {
			t.Fatalf("CreateLogStream(%s): %v", s, err)
		}
	}
	now := time.Now().UnixMilli()
	put := func(stream string, events ...types.InputLogEvent) *cloudwatchlogs.PutLogEventsOutput {
		t.Helper()
		out, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
			LogEvents: events, SequenceToken: aws.String("ignored")})
		if err != nil {
			t.Fatalf("PutLogEvents(%s): %v", stream, err)
		}
		return out
	}
	ev := func(offset time.Duration, msg string) types.InputLogEvent {
		return types.InputLogEvent{Timestamp: aws.Int64(now + offset.Milliseconds()), Message: aws.String(msg)}
	}

	t.Run("put", func(t *testing.T) {
		out := put("dev-1", ev(-3*time.Minute, `{"level":"INFO","n":1}`), ev(-2*time.Minute, `{"level":"ERROR","n":2}`),
			ev(-time.Minute, `{"level":"ERROR","n":3}`), ev(3*time.Hour, `{"level":"INFO","n":4}`))
		if out.RejectedLogEventsInfo == nil || aws.ToInt32(out.RejectedLogEventsInfo.TooNewLogEventStartIndex) != 3 ||
			out.RejectedLogEventsInfo.TooOldLogEventEndIndex != nil || aws.ToString(out.NextSequenceToken) == "" {
			t.Errorf("PutLogEvents = %+v %+v", out, out.RejectedLogEventsInfo)
		}
		put("dev-2", ev(-150*time.Second, `{"level":"ERROR","n":5}`))
	})

	t.Run("describe streams", func(t *testing.T) {
		p := cloudwatchlogs.NewDescribeLogStreamsPaginator(c, &cloudwatchlogs.DescribeLogStreamsInput{
			LogGroupIdentifier: aws.String("arn:aws:logs:us-east-1:123456789012:log-group:" + group),
			OrderBy:            types.OrderByLastEventTime, Descending: aws.Bool(true), Limit: aws.Int32(1)})
		var got []string
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range out.LogStreams {
				got = append(got, aws.ToString(s.LogStreamName))
				if s.FirstEventTimestamp == nil || s.LastIngestionTime == nil || aws.ToInt64(s.StoredBytes) != 0 ||
					aws.ToString(s.Arn) != "arn:aws:logs:us-east-1:123456789012:log-group:/iot/fleet:log-stream:"+aws.ToString(s.LogStreamName) {
					t.Errorf("stream %+v", s)
				}
			}
		}
		if !cmp.Equal(got, []string{"dev-1", "dev-2"}) {
			t.Errorf("streams by last event, descending = %v", got)
		}
	})

	t.Run("get events", func(t *testing.T) {
		p := cloudwatchlogs.NewGetLogEventsPaginator(c, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group),
			LogStreamName: aws.String("dev-1"), StartFromHead: aws.Bool(true), Limit: aws.Int32(2)})
		var got []string
		for pages := 0; p.HasMorePages() && pages < 10; pages++ {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				got = append(got, aws.ToString(e.Message))
			}
		}
		if want := []string{`{"level":"INFO","n":1}`, `{"level":"ERROR","n":2}`, `{"level":"ERROR","n":3}`}; !cmp.Equal(got, want) {
			t.Errorf("GetLogEvents pages = %v, want %v", got, want)
		}
	})

	t.Run("filter events", func(t *testing.T) {
		p := cloudwatchlogs.NewFilterLogEventsPaginator(c, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group),
			FilterPattern: aws.String(`{ $.level = "ERROR" && $.n >= 2 }`), StartTime: aws.Int64(now - time.Hour.Milliseconds()), Limit: aws.Int32(1)})
		var got []string
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				got = append(got, aws.ToString(e.LogStreamName)+" "+aws.ToString(e.Message))
				if len(aws.ToString(e.EventId)) != 56 || aws.ToInt64(e.IngestionTime) < now {
					t.Errorf("event %+v", e)
				}
			}
		}
		want := []string{`dev-2 {"level":"ERROR","n":5}`, `dev-1 {"level":"ERROR","n":2}`, `dev-1 {"level":"ERROR","n":3}`}
		if !cmp.Equal(got, want) {
			t.Errorf("FilterLogEvents pages = %v, want %v", got, want)
		}
	})

	t.Run("stored bytes", func(t *testing.T) {
		out, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
		if err != nil || len(out.LogGroups) != 1 || aws.ToInt64(out.LogGroups[0].StoredBytes) != int64(4*len(`{"level":"ERROR","n":2}`)-1) {
			t.Errorf("DescribeLogGroups = %+v %v", out, err)
		}
	})

	t.Run("typed errors", func(t *testing.T) {
		_, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String("dev-1")})
		wantAPIError[*types.ResourceAlreadyExistsException](t, "CreateLogStream(existing)", err, 400)
		_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("nope"),
			LogEvents: []types.InputLogEvent{ev(0, "m")}})
		wantAPIError[*types.ResourceNotFoundException](t, "PutLogEvents(missing stream)", err, 400)
		_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("dev-1"),
			LogEvents: []types.InputLogEvent{ev(0, "b"), ev(-time.Second, "a")}})
		e := wantAPIError[*types.InvalidParameterException](t, "PutLogEvents(out of order)", err, 400)
		if !strings.Contains(e.ErrorMessage(), "chronological order") {
			t.Errorf("message %q", e.ErrorMessage())
		}
		_, err = c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), FilterPattern: aws.String(`{ $.level = `)})
		wantAPIError[*types.InvalidParameterException](t, "FilterLogEvents(bad pattern)", err, 400)
		_, err = c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/nope"), LogStreamName: aws.String("s")})
		wantAPIError[*types.ResourceNotFoundException](t, "GetLogEvents(missing group)", err, 400)
	})

	t.Run("delete", func(t *testing.T) {
		if _, err := c.DeleteLogStream(ctx, &cloudwatchlogs.DeleteLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String("dev-2")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // a new creationTime
		if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
			t.Fatal(err)
		}
		out, err := c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
		if err != nil || len(out.LogStreams) != 0 {
			t.Errorf("streams of the group created again = %+v %v", out, err)
		}
	})
}

// TestLogEventsWithAWSCLI searches events with the stock aws CLI
// (botocore), which pages through nextToken on its own (one event a page
// here).
func TestLogEventsWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the aws CLI")
	}
	url := serveLogEvents(t)
	c := cloudwatchlogs.New(cloudwatchlogs.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(leAKID, leSecret, ""), Retryer: aws.NopRetryer{}})
	ctx := context.Background()
	const group = "AWSIotLogsV2"
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for i, s := range []string{"2026/03/01/iotdm-a", "2026/03/01/iotdm-b"} {
		if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(s)}); err != nil {
			t.Fatal(err)
		}
		var events []types.InputLogEvent
		for j := range 3 {
			status := "Success"
			if j == 1 {
				status = "Failure"
			}
			events = append(events, types.InputLogEvent{Timestamp: aws.Int64(now - int64(10-3*j-i)*1000),
				Message: aws.String(fmt.Sprintf(`{"eventType":"Connect","status":%q,"clientId":"dev-%d-%d"}`, status, i, j))})
		}
		if _, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(s), LogEvents: events}); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err := runAWSCLI(t, url, "logs", "filter-log-events", "--log-group-name", group,
		"--filter-pattern", `{ $.eventType = "Connect" && $.status = "Success" }`,
		"--log-stream-name-prefix", "2026/03/01/", "--start-time", fmt.Sprint(now-60000), "--page-size", "1")
	if err != nil {
		t.Fatalf("aws logs filter-log-events: %v: %s", err, stderr)
	}
	var got struct {
		Events []struct {
			LogStreamName string `json:"logStreamName"`
			Message       string `json:"message"`
			EventID       string `json:"eventId"`
		} `json:"events"`
		SearchedLogStreams []any `json:"searchedLogStreams"`
	}
	if err := jsonUnmarshalString(out, &got); err != nil {
		t.Fatalf("output %s: %v", out, err)
	}
	var clients []string
	for _, e := range got.Events {
		var m struct {
			ClientID string `json:"clientId"`
		}
		if err := jsonUnmarshalString(e.Message, &m); err != nil || e.EventID == "" {
			t.Errorf("event %+v: %v", e, err)
		}
		clients = append(clients, m.ClientID)
	}
	if want := []string{"dev-0-0", "dev-1-0", "dev-0-2", "dev-1-2"}; !cmp.Equal(clients, want) {
		t.Errorf("filter-log-events found %v, want %v (output %s)", clients, want, out)
	}

	_, stderr, err = runAWSCLI(t, url, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", `{ $.status = }`)
	if err == nil || !strings.Contains(stderr, "(InvalidParameterException) when calling the FilterLogEvents operation: Invalid filter pattern") {
		t.Errorf("bad pattern: %v: %s", err, stderr)
	}
}

// runAWSCLI runs the aws CLI against url with the test's key and a private
// configuration.
func runAWSCLI(t *testing.T, url string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cli, lerr := exec.LookPath("aws")
	if lerr != nil {
		t.Fatalf("the aws CLI is required (.ci/run checks for it): %v", lerr)
	}
	dir := t.TempDir()
	env := []string{
		"AWS_ENDPOINT_URL=" + url,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_PAGER=",
		"AWS_ACCESS_KEY_ID=" + leAKID,
		"AWS_SECRET_ACCESS_KEY=" + leSecret,
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(cli, args...)
	cmd.Env = env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func jsonUnmarshalString(s string, v any) error { return json.Unmarshal([]byte(s), v) }
