package awsapi

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
)

// fakeConnectivity is an iotdm.Connectivity and iotdm.EventConfigurations
// that records its calls in the fakeRegistry it wraps and answers with
// fixed outputs.
type fakeConnectivity struct{ *fakeRegistry }

var (
	_ iotdm.Connectivity        = fakeConnectivity{}
	_ iotdm.EventConfigurations = fakeConnectivity{}
)

func (f fakeConnectivity) GetThingConnectivityData(ctx context.Context, in *iotdm.GetThingConnectivityDataInput) (*iotdm.GetThingConnectivityDataOutput, error) {
	if err := f.record("GetThingConnectivityData", in); err != nil {
		return nil, err
	}
	return &iotdm.GetThingConnectivityDataOutput{ThingName: in.ThingName, Connected: false, Timestamp: &fakeCreated,
		DisconnectReason: iotdm.DisconnectKeepAliveTimeout}, nil
}

func (f fakeConnectivity) UpdateEventConfigurations(ctx context.Context, in *iotdm.UpdateEventConfigurationsInput) (*iotdm.Empty, error) {
	if err := f.record("UpdateEventConfigurations", in); err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

func (f fakeConnectivity) DescribeEventConfigurations(ctx context.Context, in *iotdm.DescribeEventConfigurationsInput) (*iotdm.DescribeEventConfigurationsOutput, error) {
	if err := f.record("DescribeEventConfigurations", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeEventConfigurationsOutput{
		EventConfigurations: map[string]iotdm.EventConfiguration{iotdm.EventThing: {Enabled: true}, iotdm.EventJob: {}},
		CreationDate:        &fakeCreated, LastModifiedDate: &fakeCreated,
	}, nil
}

func TestConnectivityRoutesCoverServices(t *testing.T) {
	c := fakeConnectivity{&fakeRegistry{}}
	checkRoutesCover(t, ConnectivityRoutes(c, c), reflect.TypeFor[iotdm.Connectivity](), reflect.TypeFor[iotdm.EventConfigurations]())
}

func TestIoTWithSDKBindsConnectivityRequests(t *testing.T) {
	fake := &fakeRegistry{}
	s := New(Config{Keys: testKeys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	c := fakeConnectivity{fake}
	s.Handle("iot", NewIoT(fake, ConnectivityRoutes(c, c)))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client := newIoTClient(srv.URL, testAKID, testSecret)
	ctx := context.Background()

	out, err := client.GetThingConnectivityData(ctx, &iot.GetThingConnectivityDataInput{ThingName: aws.String("dev:1")})
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.last(t, "GetThingConnectivityData"); !cmp.Equal(got, &iotdm.GetThingConnectivityDataInput{ThingName: "dev:1"}) {
		t.Errorf("input %+v", got)
	}
	if aws.ToString(out.ThingName) != "dev:1" || out.Connected == nil || *out.Connected ||
		!aws.ToTime(out.Timestamp).Equal(fakeCreated.Time) || out.DisconnectReason != types.DisconnectReasonValueMqttKeepAliveTimeout {
		t.Errorf("output %+v", out)
	}

	if _, err := client.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{
		EventConfigurations: map[string]types.Configuration{"THING": {Enabled: true}, "THING_GROUP": {Enabled: false}},
	}); err != nil {
		t.Fatal(err)
	}
	want := &iotdm.UpdateEventConfigurationsInput{EventConfigurations: map[string]iotdm.EventConfiguration{
		iotdm.EventThing: {Enabled: true}, iotdm.EventThingGroup: {Enabled: false}}}
	if got := fake.last(t, "UpdateEventConfigurations"); !cmp.Equal(got, want) {
		t.Errorf("input %+v, want %+v", got, want)
	}

	desc, err := client.DescribeEventConfigurations(ctx, &iot.DescribeEventConfigurationsInput{})
	if err != nil {
		t.Fatal(err)
	}
	fake.last(t, "DescribeEventConfigurations")
	if !desc.EventConfigurations["THING"].Enabled || desc.EventConfigurations["JOB"].Enabled || len(desc.EventConfigurations) != 2 ||
		!aws.ToTime(desc.CreationDate).Equal(fakeCreated.Time) || !aws.ToTime(desc.LastModifiedDate).Equal(fakeCreated.Time) {
		t.Errorf("output %+v", desc)
	}
}
