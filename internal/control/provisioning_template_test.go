package control_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/pki"
)

// These tests hold the provisioning template language (AWS §5.4) to its
// contract: the CloudFormation subset of internal/stack/template, the
// DeviceConfiguration section, the certificate pseudo parameters and the
// three resource types, with every problem reported at create time.

// provLeafWith issues a certificate with subject from a throwaway CA.
func provLeafWith(t testing.TB, subject pkix.Name) *x509.Certificate {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "Template CA"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.IssueFromPublicKey(key.Public(), subject, pki.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func provSHA256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// provFleetTemplate is a fleet provisioning template in AWS's style, using
// most of the language.
const provFleetTemplate = `{
  "Parameters": {
    "SerialNumber": {"Type": "String", "AllowedPattern": "[A-Z0-9]+"},
    "Model": {"Type": "String", "Default": "m1", "AllowedValues": ["m1", "m2"]},
    "Location": {"Type": "String", "Default": "eu-west/paris"},
    "Fleet": {"Type": "CommaDelimitedList", "Default": "north,south"}
  },
  "Mappings": {
    "ModelTypes": {"m1": {"Type": "sensor"}, "m2": {"Type": "gateway"}}
  },
  "Conditions": {
    "IsGateway": {"Fn::Equals": [{"Ref": "Model"}, "m2"]}
  },
  "Resources": {
    "thing": {
      "Type": "AWS::IoT::Thing",
      "Properties": {
        "ThingName": {"Fn::Join": ["-", ["dev", {"Ref": "SerialNumber"}]]},
        "ThingTypeName": {"Fn::FindInMap": ["ModelTypes", {"Ref": "Model"}, "Type"]},
        "AttributePayload": {
          "serial": {"Ref": "SerialNumber"},
          "region": {"Fn::Select": [0, {"Fn::Split": ["/", {"Ref": "Location"}]}]},
          "role": {"Fn::If": ["IsGateway", "gateway", "leaf"]},
          "version": 3
        },
        "ThingGroups": [{"Fn::Select": [1, {"Ref": "Fleet"}]}, "all"],
        "OverrideSettings": {"AttributePayload": "MERGE", "ThingTypeName": "REPLACE", "ThingGroups": "DO_NOTHING"}
      }
    },
    "certificate": {
      "Type": "AWS::IoT::Certificate",
      "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}
    },
    "policy": {
      "Type": "AWS::IoT::Policy",
      "Properties": {"PolicyName": "device-policy"}
    },
    "gatewayPolicy": {
      "Type": "AWS::IoT::Policy",
      "Condition": "IsGateway",
      "Properties": {"PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\"}]}"}
    }
  },
  "DeviceConfiguration": {
    "serial": {"Ref": "SerialNumber"},
    "endpoint": {"Fn::Sub": "${AWS::Region}.example.com"},
    "certificate": {"Fn::Sub": "cert-${AWS::IoT::Certificate::Id}"},
    "fleet": {"Ref": "Fleet"},
    "interval": 30
  }
}`

func TestProvisioningTemplatePlan(t *testing.T) {
	pt, err := control.ParseProvisioningTemplate(provFleetTemplate)
	if err != nil {
		t.Fatalf("ParseProvisioningTemplate: %v", err)
	}
	cert := provLeafWith(t, pkix.Name{CommonName: "claim"})
	id := pki.CertificateID(cert.Raw)
	pc := control.PlanContext{Region: "eu-west-1", AccountID: "123456789012", Certificate: cert}
	const gatewayDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`

	tests := []struct {
		name   string
		params map[string]string
		want   *control.ProvisioningPlan
	}{
		{
			name:   "defaults and intrinsics",
			params: map[string]string{"SerialNumber": "A1", "Unknown": "ignored", control.CertParamID: "forged"},
			want: &control.ProvisioningPlan{
				Thing: &control.ThingProvisioning{
					LogicalID: "thing", ThingName: "dev-A1", ThingTypeName: "sensor",
					Attributes:  map[string]string{"serial": "A1", "region": "eu-west", "role": "leaf", "version": "3"},
					ThingGroups: []string{"south", "all"},
					Overrides:   map[string]string{"AttributePayload": "MERGE", "ThingTypeName": "REPLACE", "ThingGroups": "DO_NOTHING"},
				},
				Certificate: &control.CertificateProvisioning{LogicalID: "certificate", CertificateID: id, Status: iotdm.CertificateActive},
				Policies:    []control.PolicyProvisioning{{LogicalID: "policy", PolicyName: "device-policy"}},
				DeviceConfiguration: map[string]string{"serial": "A1", "endpoint": "eu-west-1.example.com", "certificate": "cert-" + id,
					"fleet": `["north","south"]`, "interval": "30"},
			},
		},
		{
			name:   "a condition that holds",
			params: map[string]string{"SerialNumber": "B2", "Model": "m2", "Location": "us", "Fleet": "a, b"},
			want: &control.ProvisioningPlan{
				Thing: &control.ThingProvisioning{
					LogicalID: "thing", ThingName: "dev-B2", ThingTypeName: "gateway",
					Attributes:  map[string]string{"serial": "B2", "region": "us", "role": "gateway", "version": "3"},
					ThingGroups: []string{"b", "all"},
					Overrides:   map[string]string{"AttributePayload": "MERGE", "ThingTypeName": "REPLACE", "ThingGroups": "DO_NOTHING"},
				},
				Certificate: &control.CertificateProvisioning{LogicalID: "certificate", CertificateID: id, Status: iotdm.CertificateActive},
				Policies: []control.PolicyProvisioning{{LogicalID: "policy", PolicyName: "device-policy"},
					{LogicalID: "gatewayPolicy", PolicyName: provSHA256Hex(gatewayDoc), Document: gatewayDoc}},
				DeviceConfiguration: map[string]string{"serial": "B2", "endpoint": "eu-west-1.example.com", "certificate": "cert-" + id,
					"fleet": `["a","b"]`, "interval": "30"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pt.Plan(tt.params, pc)
			if err != nil {
				t.Fatalf("Plan(%v) = %v", tt.params, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Plan(%v) (-want +got):\n%s", tt.params, diff)
			}
		})
	}
}

func TestProvisioningTemplateCertificateParameters(t *testing.T) {
	// A JITP template in AWS's style declares the pseudo parameters it
	// uses; DistinguishedNameQualifier has no field of its own in Go.
	const body = `{
	  "Parameters": {
	    "AWS::IoT::Certificate::CommonName": {"Type": "String"},
	    "AWS::IoT::Certificate::Country": {"Type": "String"},
	    "AWS::IoT::Certificate::Organization": {"Type": "String", "Default": "none"},
	    "AWS::IoT::Certificate::OrganizationalUnit": {"Type": "String"},
	    "AWS::IoT::Certificate::DistinguishedNameQualifier": {"Type": "String"},
	    "AWS::IoT::Certificate::StateName": {"Type": "String"},
	    "AWS::IoT::Certificate::SerialNumber": {"Type": "String"},
	    "AWS::IoT::Certificate::Id": {"Type": "String"}
	  },
	  "Resources": {
	    "thing": {"Type": "AWS::IoT::Thing", "Properties": {
	      "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
	      "AttributePayload": {
	        "country": {"Ref": "AWS::IoT::Certificate::Country"},
	        "org": {"Ref": "AWS::IoT::Certificate::Organization"},
	        "unit": {"Ref": "AWS::IoT::Certificate::OrganizationalUnit"}
	      }}},
	    "cert": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}}
	  },
	  "DeviceConfiguration": {
	    "dnq": {"Ref": "AWS::IoT::Certificate::DistinguishedNameQualifier"},
	    "where": {"Fn::Sub": "${AWS::IoT::Certificate::StateName}/${AWS::IoT::Certificate::SerialNumber}"},
	    "locality": {"Ref": "AWS::IoT::Certificate::Locality"}
	  }
	}`
	pt, err := control.ParseProvisioningTemplate(body)
	if err != nil {
		t.Fatalf("ParseProvisioningTemplate: %v", err)
	}
	subject := pkix.Name{CommonName: "sensor-42", Country: []string{"FR"}, OrganizationalUnit: []string{"lab"},
		Province: []string{"IDF"}, Locality: []string{"Paris"}, SerialNumber: "SN-9",
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 46}, Value: "q1"}}}
	cert := provLeafWith(t, subject)
	got, err := pt.Plan(nil, control.PlanContext{Certificate: cert})
	if err != nil {
		t.Fatalf("Plan = %v", err)
	}
	want := &control.ProvisioningPlan{
		Thing: &control.ThingProvisioning{LogicalID: "thing", ThingName: "sensor-42",
			Attributes: map[string]string{"country": "FR", "org": "none", "unit": "lab"}, Overrides: map[string]string{}},
		Certificate:         &control.CertificateProvisioning{LogicalID: "cert", CertificateID: pki.CertificateID(cert.Raw), Status: iotdm.CertificateActive},
		DeviceConfiguration: map[string]string{"dnq": "q1", "where": "IDF/SN-9", "locality": "Paris"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Plan (-want +got):\n%s", diff)
	}

	t.Run("a field the certificate lacks", func(t *testing.T) {
		_, err := pt.Plan(nil, control.PlanContext{Certificate: provLeafWith(t, pkix.Name{CommonName: "bare"})})
		if !iotdm.IsCode(err, iotdm.ErrInvalidRequest) || !strings.Contains(err.Error(), "AWS::IoT::Certificate::Country") {
			t.Errorf("Plan(no Country) = %v, want InvalidRequestException naming the parameter", err)
		}
	})
}

func TestProvisioningTemplatePlanErrors(t *testing.T) {
	cert := provLeafWith(t, pkix.Name{CommonName: "c"})
	pc := control.PlanContext{Region: "us-east-1", AccountID: "123456789012", Certificate: cert}
	tests := []struct {
		name   string
		body   string
		params map[string]string
		code   iotdm.ErrorCode
		want   string // in the message
	}{
		{"missing parameter", provFleetTemplate, nil, iotdm.ErrInvalidRequest, "SerialNumber"},
		{"AllowedValues", provFleetTemplate, map[string]string{"SerialNumber": "A", "Model": "m9"}, iotdm.ErrInvalidRequest, "AllowedValues"},
		{"AllowedPattern", provFleetTemplate, map[string]string{"SerialNumber": "a-b"}, iotdm.ErrInvalidRequest, "pattern"},
		{"invalid thing name", `{"Parameters": {"N": {"Type": "String"}}, "Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "N"}}}}}`,
			map[string]string{"N": "bad name!"}, iotdm.ErrInvalidRequest, "thing name"},
		{"another certificate", `{"Parameters": {"C": {"Type": "String"}}, "Resources": {"c": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "C"}}}}}`,
			map[string]string{"C": strings.Repeat("a", 64)}, iotdm.ErrInvalidRequest, "AWS::IoT::Certificate::Id"},
		{"Fn::Select out of range", `{"Parameters": {"L": {"Type": "CommaDelimitedList"}}, "Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::Select": [3, {"Ref": "L"}]}}}}}`,
			map[string]string{"L": "a,b"}, iotdm.ErrInvalidRequest, "Fn::Select"},
		{"document from a parameter", `{"Parameters": {"D": {"Type": "String"}}, "Resources": {"p": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": {"Ref": "D"}}}}}`,
			map[string]string{"D": "{not a policy"}, iotdm.ErrMalformedPolicy, ""},
		{"too many attributes", `{"Parameters": {"A": {"Type": "String"}}, "Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "x", "AttributePayload": {"a b": {"Ref": "A"}}}}}}`,
			map[string]string{"A": "v"}, iotdm.ErrInvalidRequest, "attribute name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := control.ParseProvisioningTemplate(tt.body)
			if err != nil {
				t.Fatalf("ParseProvisioningTemplate = %v", err)
			}
			_, err = pt.Plan(tt.params, pc)
			if !iotdm.IsCode(err, tt.code) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Plan(%v) = %v, want %s containing %q", tt.params, err, tt.code, tt.want)
			}
		})
	}
}

func TestProvisioningTemplateParseErrors(t *testing.T) {
	const thing = `"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "x"}}`
	tests := []struct {
		name string
		body string
		want []string // each in the message
	}{
		{"empty", ``, []string{"JSON object"}},
		{"YAML", "Resources:\n  t:\n    Type: AWS::IoT::Thing\n", []string{"JSON object"}},
		{"not well-formed", `{"Resources": {`, []string{"not well-formed"}},
		{"no resources", `{"Parameters": {}}`, []string{"At least one Resources member"}},
		{"unknown section", `{"Resources": {` + thing + `}, "Outputs": {"o": {"Value": "v"}}}`, []string{"[Outputs]"}},
		{"unknown resource type", `{"Resources": {"q": {"Type": "AWS::SQS::Queue", "Properties": {}}}}`, []string{"Unsupported resource type: AWS::SQS::Queue"}},
		{"unknown property", `{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "x", "Colour": "red"}}}}`, []string{"Invalid property Colour"}},
		{"thing without name", `{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {}}}}`, []string{"must have a ThingName"}},
		{"two things", `{"Resources": {` + thing + `, "u": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "y"}}}}`, []string{"at most one AWS::IoT::Thing"}},
		{"certificate without id", `{"Resources": {"c": {"Type": "AWS::IoT::Certificate", "Properties": {"Status": "ACTIVE"}}}}`, []string{"must have a CertificateId"}},
		{"bad status", `{"Resources": {"c": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "REVOKED"}}}}`, []string{"ACTIVE or INACTIVE"}},
		{"policy with name and document", `{"Resources": {"p": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "a", "PolicyDocument": "{}"}}}}`, []string{"either a PolicyName or a PolicyDocument"}},
		{"malformed literal document", `{"Resources": {"p": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": "{\"Version\": 7}"}}}}`, []string{"PolicyDocument"}},
		{"bad override", `{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "x", "OverrideSettings": {"ThingTypeName": "MERGE"}}}}}`, []string{"ThingTypeName must be one of REPLACE, FAIL, DO_NOTHING"}},
		{"undefined parameter", `{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Nope"}}}}}`, []string{"Unresolved resource dependencies [Nope]"}},
		{"Ref to a resource", `{"Resources": {` + thing + `, "p": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": {"Ref": "t"}}}}}`, []string{"refers to resource t"}},
		{"Fn::GetAtt", `{"Resources": {` + thing + `, "p": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": {"Fn::GetAtt": ["t", "Arn"]}}}}}`, []string{"unsupported function: Fn::GetAtt"}},
		{"Fn::ImportValue", `{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::ImportValue": "x"}}}}}`, []string{"unsupported function: Fn::ImportValue"}},
		{"stack pseudo parameter", `{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "AWS::StackName"}}}}}`, []string{"AWS::StackName"}},
		{"unknown certificate parameter", `{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::Colour"}}}}}`, []string{"Unknown pseudo parameter AWS::IoT::Certificate::Colour"}},
		{"undefined parameter in DeviceConfiguration", `{"Resources": {` + thing + `}, "DeviceConfiguration": {"a": {"Ref": "Nope"}}}`, []string{"[Nope] in the DeviceConfiguration"}},
		{"DeviceConfiguration not an object", `{"Resources": {` + thing + `}, "DeviceConfiguration": [1]}`, []string{"DeviceConfiguration must be an object"}},
		{"every problem at once", `{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"Colour": 1}}, "q": {"Type": "AWS::SNS::Topic"}}}`,
			[]string{"Invalid property Colour", "must have a ThingName", "Unsupported resource type: AWS::SNS::Topic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := control.ParseProvisioningTemplate(tt.body)
			if !iotdm.IsCode(err, iotdm.ErrInvalidRequest) {
				t.Fatalf("ParseProvisioningTemplate = %v, want InvalidRequestException", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseProvisioningTemplate = %v, want %q in it", err, w)
				}
			}
		})
	}
}

func TestProvisioningTemplateErrorsHavePositions(t *testing.T) {
	body := "{\n  \"Resources\": {\n    \"t\": {\"Type\": \"AWS::IoT::Thing\",\n      \"Properties\": {\"ThingName\": {\"Ref\": \"Nope\"}}}\n  }\n}"
	_, err := control.ParseProvisioningTemplate(body)
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("ParseProvisioningTemplate = %v, want the problem located on line 4", err)
	}
}

func FuzzParseProvisioningTemplate(f *testing.F) {
	f.Add(provFleetTemplate)
	f.Add(`{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::Sub": "${AWS::IoT::Certificate::Id}"}}}}}`)
	f.Add(`{"Resources": {}, "DeviceConfiguration": {"a": {"Fn::Join": ["", [1, 2]]}}}`)
	cert := provLeafWith(f, pkix.Name{CommonName: "fuzz"})
	f.Fuzz(func(t *testing.T, body string) {
		pt, err := control.ParseProvisioningTemplate(body)
		if err != nil {
			if !iotdm.IsCode(err, iotdm.ErrInvalidRequest) {
				t.Fatalf("ParseProvisioningTemplate = %v, want only InvalidRequestException", err)
			}
			return
		}
		if _, err := pt.Plan(map[string]string{"SerialNumber": "A1"}, control.PlanContext{Certificate: cert}); err != nil && iotdm.CodeOf(err) == "" {
			t.Fatalf("Plan = %v, want an *iotdm.Error", err)
		}
	})
}
