package awsapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotdm/iotdm/internal/awsapi"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// TestIoTLoggingWithSDK drives the v2 logging routes with a real AWS SDK
// for Go v2 iot client over the signed edge and a real SQLite store.
func TestIoTLoggingWithSDK(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "logging.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const region, account = "us-east-1", "123456789012"
	reg := control.NewRegistry(db, control.RegistryOptions{Region: region, AccountID: account})
	s := awsapi.New(awsapi.Config{
		Keys:   func(id string) (string, bool) { return leSecret, id == leAKID },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	s.Handle("iot", awsapi.NewIoT(reg, awsapi.LoggingRoutes(control.NewIoTLogging(db, control.IoTLoggingOptions{}))))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := iot.New(iot.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(leAKID, leSecret, ""), Retryer: aws.NopRetryer{}})
	ctx := context.Background()

	_, err = c.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	wantAPIError[*types.NotConfiguredException](t, "GetV2LoggingOptions(never set)", err, 404)
	_, err = c.SetV2LoggingLevel(ctx, &iot.SetV2LoggingLevelInput{LogLevel: types.LogLevelDebug,
		LogTarget: &types.LogTarget{TargetType: types.LogTargetTypeClientId, TargetName: aws.String("dev-1")}})
	wantAPIError[*types.NotConfiguredException](t, "SetV2LoggingLevel(not configured)", err, 404)

	_, err = c.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/IoTLogging"), DefaultLogLevel: types.LogLevelError,
		EventConfigurations: []types.LogEventConfiguration{{EventType: aws.String("Connect"), LogLevel: types.LogLevelInfo}},
	})
	if err != nil {
		t.Fatalf("SetV2LoggingOptions: %v", err)
	}
	got, err := c.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	if err != nil || aws.ToString(got.RoleArn) != "arn:aws:iam::123456789012:role/IoTLogging" || got.DefaultLogLevel != types.LogLevelError ||
		got.DisableAllLogs || len(got.EventConfigurations) != 1 || got.EventConfigurations[0].LogLevel != types.LogLevelInfo {
		t.Errorf("GetV2LoggingOptions = %+v %v", got, err)
	}
	verbose, err := c.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{Verbose: true})
	if err != nil || len(verbose.EventConfigurations) != len(control.IoTLogEventTypes) {
		t.Errorf("GetV2LoggingOptions(verbose) = %+v %v", verbose, err)
	}

	for _, tgt := range []types.LogTarget{
		{TargetType: types.LogTargetTypeThingGroup, TargetName: aws.String("sensors")},
		{TargetType: types.LogTargetTypeSourceIp, TargetName: aws.String("10.0.0.7")},
		{TargetType: types.LogTargetTypePrincipalId, TargetName: aws.String("c0ffee")},
	} {
		if _, err := c.SetV2LoggingLevel(ctx, &iot.SetV2LoggingLevelInput{LogTarget: &tgt, LogLevel: types.LogLevelDebug}); err != nil {
			t.Fatalf("SetV2LoggingLevel(%v): %v", tgt.TargetType, err)
		}
	}
	_, err = c.SetV2LoggingLevel(ctx, &iot.SetV2LoggingLevelInput{LogTarget: &types.LogTarget{TargetType: types.LogTargetTypeDefault}, LogLevel: types.LogLevelInfo})
	wantAPIError[*types.InvalidRequestException](t, "SetV2LoggingLevel(DEFAULT)", err, 400)

	list := func(targetType types.LogTargetType) []string {
		t.Helper()
		p := iot.NewListV2LoggingLevelsPaginator(c, &iot.ListV2LoggingLevelsInput{TargetType: targetType, MaxResults: aws.Int32(1)})
		var out []string
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range page.LogTargetConfigurations {
				out = append(out, string(l.LogTarget.TargetType)+"/"+aws.ToString(l.LogTarget.TargetName)+"="+string(l.LogLevel))
			}
		}
		return out
	}
	want := []string{"DEFAULT/=ERROR", "PRINCIPAL_ID/c0ffee=DEBUG", "SOURCE_IP/10.0.0.7=DEBUG", "THING_GROUP/sensors=DEBUG"}
	if got := list(""); !cmp.Equal(got, want) {
		t.Errorf("ListV2LoggingLevels pages = %v, want %v", got, want)
	}
	if _, err := c.DeleteV2LoggingLevel(ctx, &iot.DeleteV2LoggingLevelInput{TargetType: types.LogTargetTypeSourceIp, TargetName: aws.String("10.0.0.7")}); err != nil {
		t.Fatalf("DeleteV2LoggingLevel: %v", err)
	}
	if got := list(types.LogTargetTypeSourceIp); len(got) != 0 {
		t.Errorf("SOURCE_IP levels after DeleteV2LoggingLevel = %v", got)
	}
	if got := list(""); !cmp.Equal(got, []string{"DEFAULT/=ERROR", "PRINCIPAL_ID/c0ffee=DEBUG", "THING_GROUP/sensors=DEBUG"}, cmpopts.EquateEmpty()) {
		t.Errorf("levels after DeleteV2LoggingLevel = %v", got)
	}
}
