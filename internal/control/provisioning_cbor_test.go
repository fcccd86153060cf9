package control

import (
	"context"
	"encoding/hex"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// The CBOR codec of fleet provisioning, held to RFC 8949's examples
// (Appendix A) and round trips, and the CBOR topics end to end.

func TestCBORDecodeRFCExamples(t *testing.T) {
	tests := []struct {
		hex  string
		want any
	}{
		{"00", 0.0},
		{"1864", 100.0},
		{"1a000f4240", 1000000.0},
		{"20", -1.0},
		{"3903e7", -1000.0},
		{"f93c00", 1.0},
		{"f9c400", -4.0},
		{"fa47c35000", 100000.0},
		{"fb3ff199999999999a", 1.1},
		{"f4", false},
		{"f5", true},
		{"f6", nil},
		{"60", ""},
		{"6449455446", "IETF"},
		{"62225c", "\"\\"},
		{"80", []any{}},
		{"83010203", []any{1.0, 2.0, 3.0}},
		{"a201020304", nil}, // integer keys: refused below
		{"a26161016162820203", map[string]any{"a": 1.0, "b": []any{2.0, 3.0}}},
		{"7f657374726561646d696e67ff", "streaming"},
		{"9f018202039f0405ffff", []any{1.0, []any{2.0, 3.0}, []any{4.0, 5.0}}},
		{"bf61610161629f0203ffff", map[string]any{"a": 1.0, "b": []any{2.0, 3.0}}},
		{"c074323031332d30332d32315432303a30343a30305a", "2013-03-21T20:04:00Z"}, // a tag stands for its value
	}
	for _, tt := range tests {
		b, err := hex.DecodeString(tt.hex)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cborDecode(b)
		if tt.hex == "a201020304" {
			if err == nil {
				t.Errorf("cborDecode(%s) = %v, want an error for integer map keys", tt.hex, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("cborDecode(%s) = %v", tt.hex, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("cborDecode(%s) (-want +got):\n%s", tt.hex, diff)
		}
	}
}

func TestCBORDecodeRefusesMalformed(t *testing.T) {
	for _, h := range []string{"", "18", "62", "6261", "83", "830102", "a161", "ff", "1c", "0000", "7f6161", "7f01ff", "f8"} {
		b, _ := hex.DecodeString(h)
		if v, err := cborDecode(b); err == nil {
			t.Errorf("cborDecode(%s) = %v, want an error", h, v)
		}
	}
	deep := strings.Repeat("81", maxCBORDepth+2) + "00"
	b, _ := hex.DecodeString(deep)
	if _, err := cborDecode(b); err == nil {
		t.Errorf("cborDecode(nested %d deep) = nil error", maxCBORDepth+2)
	}
	// A length beyond the input is refused before anything is allocated.
	b, _ = hex.DecodeString("9bffffffffffffffff")
	if _, err := cborDecode(b); err == nil {
		t.Error("cborDecode(huge array) = nil error")
	}
}

func TestCBORRoundTrip(t *testing.T) {
	for _, v := range []any{
		map[string]any{"certificateId": "abc", "statusCode": 400.0, "nested": map[string]any{"k": "v"}},
		[]any{"x", 1.5, -7.0, true, nil, math.Pow(2, 40)},
		strings.Repeat("long string ", 40),
	} {
		b, err := cborEncode(v)
		if err != nil {
			t.Fatalf("cborEncode(%v) = %v", v, err)
		}
		got, err := cborDecode(b)
		if err != nil {
			t.Fatalf("cborDecode(cborEncode(%v)) = %v", v, err)
		}
		if diff := cmp.Diff(v, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func FuzzCBORDecode(f *testing.F) {
	for _, h := range []string{"a26161016162820203", "7f657374726561646d696e67ff", "bf61610161629f0203ffff", "f93c00", "c074323031332d30332d32315432303a30343a30305a"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := cborDecode(b)
		if err != nil {
			return
		}
		enc, err := cborEncode(v)
		if err != nil {
			t.Fatalf("cborEncode(%v) = %v", v, err)
		}
		again, err := cborDecode(enc)
		if err != nil {
			t.Fatalf("cborDecode(cborEncode(v)) = %v", err)
		}
		if !cmp.Equal(v, again, cmp.Comparer(func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) })) {
			t.Fatalf("round trip changed %v into %v", v, again)
		}
	})
}

type cborPublisher struct {
	mu    sync.Mutex
	topic string
	body  []byte
}

func (p *cborPublisher) Publish(_ context.Context, topic string, payload []byte, _ byte, _ bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.topic, p.body = topic, payload
	return nil
}

func TestFleetProvisioningOverCBOR(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cbor.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := NewFleetProvisioning(db, ca, ProvisioningOptions{Region: "us-east-1", AccountID: "123456789012"})
	pub := &cborPublisher{}
	p.SetPublisher(pub)
	ctx := t.Context()
	_, err = p.CreateProvisioningTemplate(ctx, &iotdm.CreateProvisioningTemplateInput{TemplateName: "t", Enabled: true,
		ProvisioningRoleARN: "arn:aws:iam::123456789012:role/provisioning",
		TemplateBody: `{"Parameters": {"Name": {"Type": "String"}}, "Resources": {
		  "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Name"}}},
		  "cert": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}}},
		  "DeviceConfiguration": {"name": {"Ref": "Name"}}}`})
	if err != nil {
		t.Fatal(err)
	}
	call := func(topic string, payload any) map[string]any {
		t.Helper()
		var body []byte
		if payload != nil {
			if body, err = cborEncode(payload); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.HandleMQTT(ctx, topic, body, "dev", ""); err != nil {
			t.Fatalf("HandleMQTT(%s) = %v", topic, err)
		}
		v, err := cborDecode(pub.body)
		if err != nil {
			t.Fatalf("%s: the reply is not CBOR: %v", pub.topic, err)
		}
		m, _ := v.(map[string]any)
		return m
	}
	keys := call("$aws/certificates/create/cbor", nil)
	if pub.topic != "$aws/certificates/create/cbor/accepted" || keys["certificateOwnershipToken"] == nil || keys["privateKey"] == nil {
		t.Fatalf("%s: %v", pub.topic, keys)
	}
	got := call("$aws/provisioning-templates/t/provision/cbor", map[string]any{
		"certificateOwnershipToken": keys["certificateOwnershipToken"], "parameters": map[string]any{"Name": "cbor-thing"}})
	want := map[string]any{"thingName": "cbor-thing", "deviceConfiguration": map[string]any{"name": "cbor-thing"}}
	if diff := cmp.Diff(want, got); diff != "" || pub.topic != "$aws/provisioning-templates/t/provision/cbor/accepted" {
		t.Errorf("%s (-want +got):\n%s", pub.topic, diff)
	}
	rej := call("$aws/provisioning-templates/t/provision/cbor", map[string]any{"certificateOwnershipToken": "used"})
	if pub.topic != "$aws/provisioning-templates/t/provision/cbor/rejected" || rej["statusCode"] != 400.0 || rej["errorCode"] != "InvalidCertificateOwnershipToken" {
		t.Errorf("%s: %v", pub.topic, rej)
	}
	if err := p.HandleMQTT(ctx, "$aws/certificates/create-from-csr/cbor", []byte{0xff}, "dev", ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := cborDecode(pub.body); pub.topic != "$aws/certificates/create-from-csr/cbor/rejected" || v.(map[string]any)["errorCode"] != "InvalidPayload" {
		t.Errorf("%s: %v", pub.topic, v)
	}
}
