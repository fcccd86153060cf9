package awsapi

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/iotdm/iotdm"
)

// fakeCloudWatch is every CloudWatch service at once: it records each
// call's input and answers with the canned output of its operation (a
// zero one when none is set), or with the error fail returns.
type fakeCloudWatch struct {
	mu     sync.Mutex
	calls  []fakeCall
	canned map[string]any
	fail   func(op string, in any) error
}

var (
	_ iotdm.CloudWatchMetrics = (*fakeCloudWatch)(nil)
	_ iotdm.Alarms            = (*fakeCloudWatch)(nil)
	_ iotdm.AlarmOperations   = (*fakeCloudWatch)(nil)
	_ iotdm.Dashboards        = (*fakeCloudWatch)(nil)
)

func newFakeCloudWatch() *fakeCloudWatch { return &fakeCloudWatch{canned: map[string]any{}} }

// setFail sets the failure hook; the server's goroutines read it.
func (f *fakeCloudWatch) setFail(fail func(op string, in any) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fail
}

// answer sets the canned output of op; the server's goroutines read it.
func (f *fakeCloudWatch) answer(op string, out any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.canned[op] = out
}

// cwAnswer records a call and returns the canned *Out of op.
func cwAnswer[Out any](f *fakeCloudWatch, op string, in any) (*Out, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{op, in})
	if f.fail != nil {
		if err := f.fail(op, in); err != nil {
			return nil, err
		}
	}
	if out, ok := f.canned[op].(*Out); ok {
		return out, nil
	}
	return new(Out), nil
}

func (f *fakeCloudWatch) last(t *testing.T, op string) any {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatalf("no call, want %s", op)
	}
	c := f.calls[len(f.calls)-1]
	if c.op != op {
		t.Fatalf("last call %s, want %s", c.op, op)
	}
	return c.in
}

func (f *fakeCloudWatch) PutMetricData(ctx context.Context, in *iotdm.PutMetricDataInput) (*iotdm.Empty, error) {
	return cwAnswer[iotdm.Empty](f, "PutMetricData", in)
}
func (f *fakeCloudWatch) GetMetricStatistics(ctx context.Context, in *iotdm.GetMetricStatisticsInput) (*iotdm.GetMetricStatisticsOutput, error) {
	return cwAnswer[iotdm.GetMetricStatisticsOutput](f, "GetMetricStatistics", in)
}
func (f *fakeCloudWatch) GetMetricData(ctx context.Context, in *iotdm.GetMetricDataInput) (*iotdm.GetMetricDataOutput, error) {
	return cwAnswer[iotdm.GetMetricDataOutput](f, "GetMetricData", in)
}
func (f *fakeCloudWatch) ListMetrics(ctx context.Context, in *iotdm.ListMetricsInput) (*iotdm.ListMetricsOutput, error) {
	return cwAnswer[iotdm.ListMetricsOutput](f, "ListMetrics", in)
}
func (f *fakeCloudWatch) PutMetricAlarm(ctx context.Context, in *iotdm.PutMetricAlarmInput) (*iotdm.Empty, error) {
	return cwAnswer[iotdm.Empty](f, "PutMetricAlarm", in)
}
func (f *fakeCloudWatch) DescribeAlarms(ctx context.Context, in *iotdm.DescribeAlarmsInput) (*iotdm.DescribeAlarmsOutput, error) {
	return cwAnswer[iotdm.DescribeAlarmsOutput](f, "DescribeAlarms", in)
}
func (f *fakeCloudWatch) DeleteAlarms(ctx context.Context, in *iotdm.DeleteAlarmsInput) (*iotdm.Empty, error) {
	return cwAnswer[iotdm.Empty](f, "DeleteAlarms", in)
}
func (f *fakeCloudWatch) DescribeAlarmsForMetric(ctx context.Context, in *iotdm.DescribeAlarmsForMetricInput) (*iotdm.DescribeAlarmsForMetricOutput, error) {
	return cwAnswer[iotdm.DescribeAlarmsForMetricOutput](f, "DescribeAlarmsForMetric", in)
}
func (f *fakeCloudWatch) SetAlarmState(ctx context.Context, in *iotdm.SetAlarmStateInput) (*iotdm.Empty, error) {
	return cwAnswer[iotdm.Empty](f, "SetAlarmState", in)
}
func (f *fakeCloudWatch) DescribeAlarmHistory(ctx context.Context, in *iotdm.DescribeAlarmHistoryInput) (*iotdm.DescribeAlarmHistoryOutput, error) {
	return cwAnswer[iotdm.DescribeAlarmHistoryOutput](f, "DescribeAlarmHistory", in)
}
func (f *fakeCloudWatch) EnableAlarmActions(ctx context.Context, in *iotdm.EnableAlarmActionsInput) (*iotdm.Empty, error) {
	return cwAnswer[iotdm.Empty](f, "EnableAlarmActions", in)
}
func (f *fakeCloudWatch) DisableAlarmActions(ctx context.Context, in *iotdm.DisableAlarmActionsInput) (*iotdm.Empty, error) {
	return cwAnswer[iotdm.Empty](f, "DisableAlarmActions", in)
}
func (f *fakeCloudWatch) PutDashboard(ctx context.Context, in *iotdm.PutDashboardInput) (*iotdm.PutDashboardOutput, error) {
	return cwAnswer[iotdm.PutDashboardOutput](f, "PutDashboard", in)
}
func (f *fakeCloudWatch) GetDashboard(ctx context.Context, in *iotdm.GetDashboardInput) (*iotdm.GetDashboardOutput, error) {
	return cwAnswer[iotdm.GetDashboardOutput](f, "GetDashboard", in)
}
func (f *fakeCloudWatch) ListDashboards(ctx context.Context, in *iotdm.ListDashboardsInput) (*iotdm.ListDashboardsOutput, error) {
	return cwAnswer[iotdm.ListDashboardsOutput](f, "ListDashboards", in)
}
func (f *fakeCloudWatch) DeleteDashboards(ctx context.Context, in *iotdm.DeleteDashboardsInput) (*iotdm.Empty, error) {
	return cwAnswer[iotdm.Empty](f, "DeleteDashboards", in)
}

// cwEdge is an httptest server running Server + NewCloudWatch over fake.
func cwEdge(t *testing.T, fake *fakeCloudWatch) *httptest.Server {
	t.Helper()
	s := New(Config{Keys: testKeys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.Handle("monitoring", NewCloudWatch(fake, fake, fake))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// newCWClient is a real aws-sdk-go-v2 CloudWatch client (RPC v2 CBOR) for
// url, without retries.
func newCWClient(url, akid, secret string) *cloudwatch.Client {
	return cloudwatch.New(cloudwatch.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// cwOdd ends every filled string: CBOR, JSON, XML and form escaping must
// carry it.
const cwOdd = " <&>'\"\r\n\tü☃ %2F+"

var cwFillTime = time.Date(2026, 11, 29, 10, 0, 0, 289_000_000, time.UTC)

// cwFill sets every member reachable from v to a value that is not zero
// and depends on seed: strings, true, numbers (doubles with a fraction),
// timestamps with milliseconds, two-element lists and maps, allocated
// pointers.
func cwFill(v reflect.Value, seed string) {
	switch {
	case v.Kind() == reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		cwFill(p.Elem(), seed)
		v.Set(p)
		return
	case cwIsTime(v.Type()):
		tm := cwFillTime.Add(time.Duration(len(seed)) * time.Millisecond)
		if v.Type() == cwTimestampType {
			v.Set(reflect.ValueOf(iotdm.Timestamp{Time: tm}))
		} else {
			v.Set(reflect.ValueOf(tm))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(seed + cwOdd)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32, reflect.Int64:
		v.SetInt(int64(len(seed)))
	case reflect.Float64:
		v.SetFloat(float64(len(seed)) + 0.25)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			cwFill(s.Index(i), seed+"."+strconv.Itoa(i+1))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 2 {
			k, val := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			cwFill(k, seed+".key"+strconv.Itoa(i+1))
			cwFill(val, seed+".value"+strconv.Itoa(i+1))
			m.SetMapIndex(k, val)
		}
		v.Set(m)
	case reflect.Struct:
		for _, f := range cwFields(v.Type()) {
			cwFill(v.FieldByIndex(f.index), seed+"."+f.name)
		}
	default:
		panic(fmt.Sprintf("cwFill: %v", v.Type()))
	}
}

// cwConvert copies src into dst between iotdm's shapes and the SDK's, by
// member name (the json name on iotdm's side, the field name on the
// SDK's), both ways. Every member on iotdm's side must have its SDK
// counterpart. An empty string or zero timestamp becomes a nil pointer.
// The SDK's one union here, EvaluationCriteria, is converted by hand.
func cwConvert(dst, src reflect.Value, path string) error {
	if src.Kind() == reflect.Pointer || src.Kind() == reflect.Interface {
		if src.IsNil() {
			return nil
		}
		return cwConvert(dst, src.Elem(), path)
	}
	if src.Type() == reflect.TypeFor[types.EvaluationCriteriaMemberPromQLCriteria]() {
		c := src.Interface().(types.EvaluationCriteriaMemberPromQLCriteria)
		p := &iotdm.AlarmPromQLCriteria{}
		if err := cwConvert(reflect.ValueOf(p).Elem(), reflect.ValueOf(c.Value), path); err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(&iotdm.EvaluationCriteria{PromQLCriteria: p}))
		return nil
	}
	if dst.Type() == reflect.TypeFor[types.EvaluationCriteria]() {
		c := src.Interface().(iotdm.EvaluationCriteria)
		var m types.EvaluationCriteriaMemberPromQLCriteria
		if err := cwConvert(reflect.ValueOf(&m.Value).Elem(), reflect.ValueOf(c.PromQLCriteria), path); err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(&m))
		return nil
	}
	if dst.Kind() == reflect.Pointer {
		if (src.Kind() == reflect.String || cwIsTime(src.Type())) && src.IsZero() {
			return nil
		}
		p := reflect.New(dst.Type().Elem())
		if err := cwConvert(p.Elem(), src, path); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	}
	switch {
	case cwIsTime(dst.Type()) || cwIsTime(src.Type()):
		var tm time.Time
		if src.Type() == cwTimestampType {
			tm = src.Interface().(iotdm.Timestamp).Time
		} else {
			tm = src.Interface().(time.Time)
		}
		if dst.Type() == cwTimestampType {
			dst.Set(reflect.ValueOf(iotdm.Timestamp{Time: tm.UTC()}))
		} else {
			dst.Set(reflect.ValueOf(tm.UTC()))
		}
		return nil
	}
	switch dst.Kind() {
	case reflect.String:
		dst.SetString(src.String())
	case reflect.Bool:
		dst.SetBool(src.Bool())
	case reflect.Int32, reflect.Int64:
		dst.SetInt(src.Int())
	case reflect.Float64:
		dst.SetFloat(src.Float())
	case reflect.Slice:
		if src.IsNil() {
			return nil
		}
		s := reflect.MakeSlice(dst.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			if err := cwConvert(s.Index(i), src.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return nil
		}
		m := reflect.MakeMap(dst.Type())
		for _, k := range src.MapKeys() {
			val := reflect.New(dst.Type().Elem()).Elem()
			if err := cwConvert(val, src.MapIndex(k), path+"{}"); err != nil {
				return err
			}
			m.SetMapIndex(k.Convert(dst.Type().Key()), val)
		}
		dst.Set(m)
	case reflect.Struct:
		toSDK := src.Type().PkgPath() == iotdmPkg
		ours := src.Type()
		if !toSDK {
			ours = dst.Type()
		}
		for _, f := range cwFields(ours) {
			var d, s reflect.Value
			if toSDK {
				s, d = src.FieldByIndex(f.index), dst.FieldByName(f.name)
			} else {
				d, s = dst.FieldByIndex(f.index), src.FieldByName(f.name)
			}
			if !d.IsValid() || !s.IsValid() {
				return fmt.Errorf("%s.%s: the SDK's %v has no such member", path, f.name, map[bool]reflect.Type{true: dst.Type(), false: src.Type()}[toSDK])
			}
			if err := cwConvert(d, s, path+"."+f.name); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: cannot convert %v to %v", path, src.Type(), dst.Type())
	}
	return nil
}

// cwCallSDK calls the client's method for op with the iotdm input in
// (converted to the SDK's input) and returns the SDK output converted to
// iotdm's output type out.
func cwCallSDK(t *testing.T, client *cloudwatch.Client, op string, in any, out reflect.Type) (any, error) {
	t.Helper()
	m := reflect.ValueOf(client).MethodByName(op)
	if !m.IsValid() {
		t.Fatalf("the SDK client has no %s", op)
	}
	sdkIn := reflect.New(m.Type().In(1).Elem())
	if err := cwConvert(sdkIn.Elem(), reflect.ValueOf(in).Elem(), op+"Input"); err != nil {
		t.Fatalf("convert input: %v", err)
	}
	res := m.Call([]reflect.Value{reflect.ValueOf(context.Background()), sdkIn})
	if err, _ := res[1].Interface().(error); err != nil {
		return nil, err
	}
	got := reflect.New(out)
	if out != reflect.TypeFor[iotdm.Empty]() {
		if err := cwConvert(got.Elem(), res[0].Elem(), op+"Output"); err != nil {
			t.Fatalf("convert output: %v", err)
		}
	}
	return got.Interface(), nil
}

// TestCloudWatchWithSDKCarriesEveryMember sends every member of every
// routed operation's input through the SDK (RPC v2 CBOR) and checks the
// service got each one, then answers with every member of the output set
// and checks the SDK read each one back; and the same with no member set.
func TestCloudWatchWithSDKCarriesEveryMember(t *testing.T) {
	fake := newFakeCloudWatch()
	client := newCWClient(cwEdge(t, fake).URL, testAKID, testSecret)
	ops := NewCloudWatch(fake, fake, fake).Ops()
	// The SDK refuses to send a request without its required members.
	var model struct {
		Operations map[string]struct {
			Input struct{ Shape string } `json:"input"`
		} `json:"operations"`
		Shapes map[string]struct {
			Required []string `json:"required"`
		} `json:"shapes"`
	}
	loadModelInto(t, "cloudwatch", "2010-08-01", &model)
	if len(ops) != 16 {
		t.Errorf("%d operations routed, want 16", len(ops))
	}
	for _, op := range ops {
		for _, full := range []bool{true, false} {
			name := op.Name + "/every member"
			if !full {
				name = op.Name + "/no member"
			}
			t.Run(name, func(t *testing.T) {
				in, out := reflect.New(op.Input), reflect.New(op.Output)
				if full {
					cwFill(in.Elem(), op.Name)
					cwFill(out.Elem(), op.Name)
				} else {
					for _, req := range model.Shapes[model.Operations[op.Name].Input.Shape].Required {
						for _, f := range cwFields(op.Input) {
							if f.name == req {
								cwFill(in.Elem().FieldByIndex(f.index), op.Name)
							}
						}
					}
				}
				fake.mu.Lock()
				fake.canned[op.Name] = out.Interface()
				fake.mu.Unlock()
				got, err := cwCallSDK(t, client, op.Name, in.Interface(), op.Output)
				if err != nil {
					t.Fatalf("%s: %v", op.Name, err)
				}
				if diff := cmp.Diff(in.Interface(), fake.last(t, op.Name)); diff != "" {
					t.Errorf("input (-sent +received):\n%s", diff)
				}
				if !full {
					return // the zero output has nil lists the SDK reads as empty
				}
				if diff := cmp.Diff(out.Interface(), got); diff != "" {
					t.Errorf("output (-sent +received):\n%s", diff)
				}
			})
		}
	}
}

// TestCloudWatchWithSDKSpecialValues carries what the filled members do
// not: negative and large numbers, a zero double and timestamps whole or
// with milliseconds.
func TestCloudWatchWithSDKSpecialValues(t *testing.T) {
	fake := newFakeCloudWatch()
	client := newCWClient(cwEdge(t, fake).URL, testAKID, testSecret)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fake.answer("GetMetricStatistics", &iotdm.GetMetricStatisticsOutput{Label: "l", Datapoints: []iotdm.Datapoint{
		{Timestamp: iotdm.Timestamp{Time: at.Add(999 * time.Millisecond)}, Sum: aws.Float64(0), Minimum: aws.Float64(-1e300), Maximum: aws.Float64(math.MaxFloat64)},
	}})
	out, err := client.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("n"), MetricName: aws.String("m"), StartTime: aws.Time(at), EndTime: aws.Time(at.Add(time.Millisecond)),
		Period: aws.Int32(60), Statistics: []types.Statistic{types.StatisticSum}})
	if err != nil {
		t.Fatal(err)
	}
	in := fake.last(t, "GetMetricStatistics").(*iotdm.GetMetricStatisticsInput)
	if !in.StartTime.Equal(at) || !in.EndTime.Equal(at.Add(time.Millisecond)) {
		t.Errorf("times %v %v", in.StartTime, in.EndTime)
	}
	dp := out.Datapoints[0]
	if !dp.Timestamp.Equal(at.Add(999*time.Millisecond)) || *dp.Sum != 0 || *dp.Minimum != -1e300 || *dp.Maximum != math.MaxFloat64 {
		t.Errorf("datapoint %v %v %v %v", dp.Timestamp, *dp.Sum, *dp.Minimum, *dp.Maximum)
	}
}

// TestCloudWatchWithSDKSurfacesTypedErrors checks that the SDK maps each
// error to its type and reports the query-compatible code.
func TestCloudWatchWithSDKSurfacesTypedErrors(t *testing.T) {
	fake := newFakeCloudWatch()
	var failWith error
	fake.setFail(func(op string, in any) error { return failWith })
	client := newCWClient(cwEdge(t, fake).URL, testAKID, testSecret)
	ctx := context.Background()
	put := func() error {
		_, err := client.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("n"),
			MetricData: []types.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1)}}})
		return err
	}
	getDashboard := func() error {
		_, err := client.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String("d")})
		return err
	}
	setState := func() error {
		_, err := client.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("a"),
			StateValue: types.StateValueOk, StateReason: aws.String("r")})
		return err
	}
	tests := []struct {
		name   string
		err    error
		call   func() error
		code   string
		status int
		as     func(error) bool
	}{
		{"InvalidParameterValue", iotdm.Errorf(iotdm.ErrInvalidParameterValue, "bad"), put, "InvalidParameterValue", 400,
			func(err error) bool {
				var e *types.InvalidParameterValueException
				return errors.As(err, &e) && e.ErrorMessage() == "bad"
			}},
		{"MissingParameter", iotdm.Errorf(iotdm.ErrMissingParameter, "missing"), put, "MissingParameter", 400,
			func(err error) bool { var e *types.MissingRequiredParameterException; return errors.As(err, &e) }},
		{"InvalidParameterCombination", iotdm.Errorf(iotdm.ErrInvalidParameterCombination, "both"), put, "InvalidParameterCombination", 400,
			func(err error) bool { var e *types.InvalidParameterCombinationException; return errors.As(err, &e) }},
		{"ValidationError", iotdm.Errorf(iotdm.ErrValidationError, "1 validation error detected"), put, "ValidationError", 400, nil},
		{"internal", errors.New("disk on fire"), put, "InternalServiceError", 500,
			func(err error) bool {
				var e *types.InternalServiceFault
				return errors.As(err, &e) && !strings.Contains(err.Error(), "fire")
			}},
		{"dashboard not found", iotdm.Errorf(iotdm.ErrCloudWatchNotFound, "Dashboard d does not exist"), getDashboard, "ResourceNotFound", 404,
			func(err error) bool { var e *types.DashboardNotFoundError; return errors.As(err, &e) }},
		{"alarm not found", iotdm.Errorf(iotdm.ErrCloudWatchNotFound, "Alarm a does not exist"), setState, "ResourceNotFound", 404,
			func(err error) bool { var e *types.ResourceNotFound; return errors.As(err, &e) }},
		{"InvalidFormat", iotdm.Errorf("InvalidFormat", "not JSON"), setState, "InvalidFormat", 400,
			func(err error) bool { var e *types.InvalidFormatFault; return errors.As(err, &e) }},
		{"LimitExceeded", iotdm.Errorf(iotdm.ErrCloudWatchLimitExceeded, "too many"), put, "LimitExceeded", 400,
			func(err error) bool { var e *types.LimitExceededFault; return errors.As(err, &e) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failWith = tt.err
			err := tt.call()
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tt.code {
				t.Fatalf("err = %v, want code %s", err, tt.code)
			}
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &re) || re.HTTPStatusCode() != tt.status {
				t.Errorf("status of %v, want %d", err, tt.status)
			}
			if tt.as != nil && !tt.as(err) {
				t.Errorf("err = %#v, not the expected type", err)
			}
			if tt.status >= 500 && api.ErrorFault() != smithy.FaultServer || tt.status < 500 && api.ErrorFault() != smithy.FaultClient {
				t.Errorf("fault %v for status %d", api.ErrorFault(), tt.status)
			}
		})
	}
}

func TestCloudWatchWithSDKAuthFailures(t *testing.T) {
	fake := newFakeCloudWatch()
	client := newCWClient(cwEdge(t, fake).URL, testAKID, "not-the-secret")
	_, err := client.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "SignatureDoesNotMatch" {
		t.Errorf("err = %v, want SignatureDoesNotMatch", err)
	}
	if len(fake.calls) != 0 {
		t.Errorf("the service was called: %v", fake.calls)
	}
}

// TestCloudWatchWithoutAlarmOperations: an Alarms that has only the
// definitions leaves the other alarm operations unrouted, and extra routes
// add operations.
func TestCloudWatchWithoutAlarmOperations(t *testing.T) {
	fake := newFakeCloudWatch()
	onlyAlarms := struct{ iotdm.Alarms }{fake}
	extra := CloudWatchRoute("SetAlarmState", fake.SetAlarmState)
	c := NewCloudWatch(fake, onlyAlarms, fake, extra)
	names := map[string]bool{}
	for _, op := range c.Ops() {
		names[op.Name] = true
	}
	if names["DescribeAlarmHistory"] || !names["SetAlarmState"] || len(names) != 12 {
		t.Errorf("operations %v", names)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewCloudWatch accepted an operation twice")
		}
	}()
	NewCloudWatch(fake, fake, fake, extra)
}

// TestCloudWatchOpsMatchModel checks the table against the botocore
// monitoring model: protocols, target prefix, and the member names of
// every input and output.
func TestCloudWatchOpsMatchModel(t *testing.T) {
	const version = "2010-08-01"
	m := loadModel(t, "cloudwatch", version)
	meta := loadModelMetadata(t, "cloudwatch", version)
	if m.Metadata.SigningName != "" && m.Metadata.SigningName != "monitoring" || meta.TargetPrefix != cwTargetPrefix || meta.EndpointPrefix != "monitoring" {
		t.Fatalf("model metadata %+v %+v", m.Metadata, meta)
	}
	fake := newFakeCloudWatch()
	for _, op := range NewCloudWatch(fake, fake, fake).Ops() {
		t.Run(op.Name, func(t *testing.T) {
			mop, ok := m.Operations[op.Name]
			if !ok {
				t.Fatalf("no operation %s in the model", op.Name)
			}
			checkBody(t, m, op.Input, mop.Input.Shape, op.Input.Name())
			if op.Output == reflect.TypeFor[iotdm.Empty]() {
				if mop.Output != nil && len(m.Shapes[mop.Output.Shape].Members) > 0 {
					t.Errorf("%s returns Empty but the model's %s has members", op.Name, mop.Output.Shape)
				}
				if (mop.Output == nil) != cwBareOps[op.Name] {
					t.Errorf("%s: bare in the query protocol is %v, the model's output is %v", op.Name, cwBareOps[op.Name], mop.Output)
				}
				return
			}
			if mop.Output == nil || cwBareOps[op.Name] {
				t.Fatalf("%s returns %v but the model has no output", op.Name, op.Output)
			}
			if op.Name == "DescribeAlarms" {
				// iotdm has no composite alarms: its CompositeAlarm
				// (monitoring.go) carries names only; check the rest.
				checkBody(t, m, reflect.TypeFor[iotdm.MetricAlarm](), "MetricAlarm", "MetricAlarm")
				return
			}
			checkBody(t, m, op.Output, mop.Output.Shape, op.Output.Name())
		})
	}
}

// TestCloudWatchErrorsMatchModel holds the error table to the model's
// exceptions: every one has its code and status.
func TestCloudWatchErrorsMatchModel(t *testing.T) {
	m := loadModel(t, "cloudwatch", "2010-08-01")
	var raw struct {
		Shapes map[string]struct {
			Exception bool `json:"exception"`
			Error     struct {
				Code   string `json:"code"`
				Status int    `json:"httpStatusCode"`
			} `json:"error"`
		} `json:"shapes"`
	}
	loadModelInto(t, "cloudwatch", "2010-08-01", &raw)
	n := 0
	for name, s := range raw.Shapes {
		if !s.Exception {
			continue
		}
		n++
		code := cmpOr(s.Error.Code, name)
		got, ok := cwErrorsByCode[iotdm.ErrorCode(code)]
		switch {
		case name == "DashboardNotFoundError" || name == "KmsAccessDeniedException" || name == "KmsKeyDisabledException" || name == "KmsKeyNotFoundException":
			// DashboardNotFoundError shares ResourceNotFound's code (see
			// cwDashboardOps); iotdm raises no KMS errors.
			continue
		case !ok:
			t.Errorf("%s (code %s) is not in the table", name, code)
		case got.shape != name || got.status != s.Error.Status:
			t.Errorf("%s: table says %s %d, model %s %d", code, got.shape, got.status, name, s.Error.Status)
		}
	}
	if n == 0 || len(m.Shapes) == 0 {
		t.Fatal("model declares no exceptions")
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestCloudWatchQueryProtocol drives the query protocol (Action=...&
// Version=2010-08-01, XML answers) as older SDKs send it.
func TestCloudWatchQueryProtocol(t *testing.T) {
	fake := newFakeCloudWatch()
	h := NewCloudWatch(fake, fake, fake)
	post := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	t.Run("PutMetricData binds lists, structures and timestamps", func(t *testing.T) {
		w := post(url.Values{"Action": {"PutMetricData"}, "Version": {"2010-08-01"}, "Namespace": {"Fleet"},
			"MetricData.member.1.MetricName":               {"Temp"},
			"MetricData.member.1.Dimensions.member.1.Name": {"Thing"}, "MetricData.member.1.Dimensions.member.1.Value": {"t 1"},
			"MetricData.member.1.Timestamp":       {"2026-03-01T12:00:00.250Z"},
			"MetricData.member.1.Values.member.1": {"1.5"}, "MetricData.member.1.Values.member.2": {"NaN"},
			"MetricData.member.1.StorageResolution":           {"1"},
			"MetricData.member.2.MetricName":                  {"Other"},
			"MetricData.member.2.StatisticValues.SampleCount": {"2"}, "MetricData.member.2.StatisticValues.Sum": {"3"},
		})
		if w.Code != 200 || !strings.Contains(w.Body.String(), "<PutMetricDataResponse xmlns=\""+cwNamespace+"\"><ResponseMetadata><RequestId>") {
			t.Fatalf("answer %d %s", w.Code, w.Body)
		}
		got := fake.last(t, "PutMetricData").(*iotdm.PutMetricDataInput)
		want := &iotdm.PutMetricDataInput{Namespace: "Fleet", MetricData: []iotdm.MetricDatum{
			{MetricName: "Temp", Dimensions: []iotdm.Dimension{{Name: "Thing", Value: "t 1"}},
				Timestamp: &iotdm.Timestamp{Time: time.Date(2026, 3, 1, 12, 0, 0, 250e6, time.UTC)}, Values: []float64{1.5, math.NaN()}, StorageResolution: ptr(int32(1))},
			{MetricName: "Other", StatisticValues: &iotdm.StatisticSet{SampleCount: 2, Sum: 3}},
		}}
		if diff := cmp.Diff(want, got, cmpopts.EquateNaNs()); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("GetMetricStatistics answers XML", func(t *testing.T) {
		fake.answer("GetMetricStatistics", &iotdm.GetMetricStatisticsOutput{Label: "Temp & co", Datapoints: []iotdm.Datapoint{
			{Timestamp: iotdm.Timestamp{Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, Sum: ptr(2.5), Unit: "Count",
				ExtendedStatistics: map[string]float64{"p99": 1e21}},
		}})
		w := post(url.Values{"Action": {"GetMetricStatistics"}, "Version": {"2010-08-01"}, "Namespace": {"Fleet"}, "MetricName": {"Temp"},
			"Statistics.member.1": {"Sum"}, "Period": {"60"}})
		want := `<GetMetricStatisticsResponse xmlns="` + cwNamespace + `"><GetMetricStatisticsResult><Label>Temp &amp; co</Label>` +
			`<Datapoints><member><Timestamp>2026-03-01T12:00:00.000Z</Timestamp><Sum>2.5</Sum><Unit>Count</Unit>` +
			`<ExtendedStatistics><entry><key>p99</key><value>1e+21</value></entry></ExtendedStatistics></member></Datapoints>` +
			`</GetMetricStatisticsResult><ResponseMetadata><RequestId>`
		if w.Code != 200 || !strings.HasPrefix(w.Body.String(), want) || w.Header().Get("Content-Type") != "text/xml" {
			t.Errorf("answer %d %s, want prefix %s", w.Code, w.Body, want)
		}
		in := fake.last(t, "GetMetricStatistics").(*iotdm.GetMetricStatisticsInput)
		if *in.Period != 60 || in.Statistics[0] != "Sum" {
			t.Errorf("input %+v", in)
		}
	})
	t.Run("an empty result is an empty element", func(t *testing.T) {
		w := post(url.Values{"Action": {"DeleteDashboards"}, "Version": {"2010-08-01"}, "DashboardNames.member.1": {"d"}})
		if w.Code != 200 || !strings.HasPrefix(w.Body.String(), `<DeleteDashboardsResponse xmlns="`+cwNamespace+`"><DeleteDashboardsResult></DeleteDashboardsResult>`) {
			t.Errorf("answer %d %s", w.Code, w.Body)
		}
	})
	t.Run("errors", func(t *testing.T) {
		fake.setFail(func(op string, in any) error {
			return iotdm.Errorf(iotdm.ErrInvalidParameterValue, "The value <x> is bad.")
		})
		defer fake.setFail(nil)
		w := post(url.Values{"Action": {"ListMetrics"}, "Version": {"2010-08-01"}})
		want := `<ErrorResponse xmlns="` + cwNamespace + `"><Error><Type>Sender</Type><Code>InvalidParameterValue</Code>` +
			`<Message>The value &lt;x&gt; is bad.</Message></Error><RequestId>`
		if w.Code != 400 || !strings.HasPrefix(w.Body.String(), want) {
			t.Errorf("answer %d %s", w.Code, w.Body)
		}
		for _, form := range []url.Values{
			{"Action": {"Nope"}, "Version": {"2010-08-01"}},
			{"Action": {"ListMetrics"}, "Version": {"2009-01-01"}},
		} {
			w := post(form)
			if w.Code != 400 || !strings.Contains(w.Body.String(), "<Code>InvalidAction</Code>") {
				t.Errorf("%v: answer %d %s", form, w.Code, w.Body)
			}
		}
	})
}

// TestCloudWatchJSONProtocol checks awsJson1_0 as botocore speaks it: the
// special doubles as strings, and errors with x-amzn-query-error.
func TestCloudWatchJSONProtocol(t *testing.T) {
	fake := newFakeCloudWatch()
	h := NewCloudWatch(fake, fake, fake)
	call := func(op, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801."+op)
		r.Header.Set("Content-Type", "application/x-amz-json-1.0")
		r.Header.Set("X-Amzn-Query-Mode", "true")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := call("PutMetricData", `{"Namespace":"n","MetricData":[{"MetricName":"m","Value":"Infinity","Timestamp":1772366400.5}]}`)
	if w.Code != 200 || w.Body.String() != "{}" || w.Header().Get("Content-Type") != "application/x-amz-json-1.0" {
		t.Errorf("answer %d %q %q", w.Code, w.Body, w.Header().Get("Content-Type"))
	}
	d := fake.last(t, "PutMetricData").(*iotdm.PutMetricDataInput).MetricData[0]
	if !math.IsInf(*d.Value, 1) || d.Timestamp.UnixMilli() != 1772366400500 {
		t.Errorf("datum %v at %v", *d.Value, d.Timestamp)
	}
	tests := []struct {
		name, op, body string
		status         int
		typ, query     string
	}{
		{"unknown operation", "Nope", `{}`, 404, "com.amazonaws.cloudwatch#UnknownOperationException", "UnknownOperationException;Sender"},
		{"not JSON", "ListMetrics", `{`, 400, "com.amazonaws.cloudwatch#SerializationException", "SerializationException;Sender"},
		{"wrong type", "ListMetrics", `{"Namespace":5}`, 400, "com.amazonaws.cloudwatch#SerializationException", "SerializationException;Sender"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(tt.op, tt.body)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), `"__type":"`+tt.typ+`"`) || w.Header().Get("X-Amzn-Query-Error") != tt.query {
				t.Errorf("answer %d %s %q", w.Code, w.Body, w.Header().Get("X-Amzn-Query-Error"))
			}
		})
	}
}

// TestCloudWatchCBORRefusals covers what the SDK never sends.
func TestCloudWatchCBORRefusals(t *testing.T) {
	fake := newFakeCloudWatch()
	h := NewCloudWatch(fake, fake, fake)
	for _, tt := range []struct {
		name, path, proto string
		body              []byte
		status            int
	}{
		{"unknown operation", cwCBORPath + "Nope", "rpc-v2-cbor", nil, 404},
		{"another service", "/service/Other/operation/ListMetrics", "rpc-v2-cbor", nil, 404},
		{"no protocol header", cwCBORPath + "ListMetrics", "", nil, 400},
		{"not CBOR", cwCBORPath + "ListMetrics", "rpc-v2-cbor", []byte{0xff, 0x00}, 400},
		{"wrong type", cwCBORPath + "ListMetrics", "rpc-v2-cbor", []byte{0xa1, 0x69, 'N', 'a', 'm', 'e', 's', 'p', 'a', 'c', 'e', 0x05}, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tt.path, strings.NewReader(string(tt.body)))
			if tt.proto != "" {
				r.Header.Set("Smithy-Protocol", tt.proto)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || w.Header().Get("Content-Type") != "application/cbor" || w.Header().Get("X-Amzn-Query-Error") == "" {
				t.Errorf("answer %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Header().Get("X-Amzn-Query-Error"))
			}
		})
	}
}

// loadModelInto decodes botocore's model of service into v.
func loadModelInto(t *testing.T, service, version string, v any) {
	t.Helper()
	dir, err := botocoreDir()
	if err != nil || dir == "" {
		t.Fatalf("botocore is required (pip install botocore): %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "data", service, version, "service-2.json.gz"))
	if err != nil {
		t.Fatalf("open %s model: %v", service, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(zr).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestCloudWatchTimestampsSurviveTruncation: the SDK reads a CBOR
// timestamp as int64(seconds*1000); every millisecond must come back.
func TestCloudWatchTimestampsSurviveTruncation(t *testing.T) {
	base := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC).UnixMilli()
	for ms := base; ms < base+5000; ms++ {
		f := cwEpochSeconds(time.UnixMilli(ms))
		if got := int64(f * 1000); got != ms {
			t.Fatalf("cwEpochSeconds(%d ms) = %v, read back as %d", ms, f, got)
		}
		if got := cwEpoch(f).UnixMilli(); got != ms {
			t.Fatalf("cwEpoch(cwEpochSeconds(%d ms)) = %d", ms, got)
		}
	}
}
