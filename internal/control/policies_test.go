package control_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/policy"
)

// iotARN is the ARN prefix of the test account.
const iotARN = "arn:aws:iot:us-east-1:123456789012:"

// seedDevicePolicy is the seed stack's least-privilege device policy: a
// device connects only as its thing name and uses only its own topics.
var seedDevicePolicy = func() string {
	b, err := os.ReadFile("../../testdata/seed-device-policy.json")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// allowPolicy allows action on one resource.
func allowPolicy(action, resource string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"}]}`
}

// security is a policy service beside the certificate service and the
// registry of a certFixture: certificates are registered and attached to
// things the way the API does it.
type security struct {
	*certFixture
	t    *testing.T
	pols *control.Policies
}

func newSecurity(t *testing.T) *security {
	t.Helper()
	f := newCertFixture(t)
	return &security{certFixture: f, t: t,
		pols: control.NewPolicies(f.db, control.PoliciesOptions{Region: "us-east-1", AccountID: "123456789012", Now: f.clk.Now})}
}

// certificate registers an ACTIVE certificate with subject CN cn and
// returns its ARN.
func (s *security) certificate(cn string) string {
	s.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	der, err := s.ext.IssueFromPublicKey(key.Public(), pkix.Name{CommonName: cn, Organization: []string{"iotdm"}}, pki.IssueOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	out, err := s.certs.RegisterCertificateWithoutCA(s.t.Context(), &iotdm.RegisterCertificateWithoutCAInput{
		CertificatePem: string(pki.EncodeCertificatePEM(der)), Status: iotdm.CertificateActive})
	if err != nil {
		s.t.Fatalf("RegisterCertificateWithoutCA: %v", err)
	}
	return out.CertificateARN
}

// attachThing attaches a principal to a thing.
func (s *security) attachThing(thing, principal string) {
	s.t.Helper()
	if _, err := s.certs.AttachThingPrincipal(s.t.Context(), &iotdm.AttachThingPrincipalInput{ThingName: thing, Principal: principal}); err != nil {
		s.t.Fatalf("AttachThingPrincipal(%s, %s): %v", thing, principal, err)
	}
}

// device registers a thing with its own certificate attached and returns
// the certificate ARN.
func (s *security) device(name string, attrs map[string]string) string {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.reg.CreateThing(ctx, &iotdm.CreateThingInput{ThingName: name, AttributePayload: &iotdm.AttributePayload{Attributes: attrs}}); err != nil {
		s.t.Fatal(err)
	}
	arn := s.certificate(name)
	s.attachThing(name, arn)
	return arn
}

func (s *security) createPolicy(name, doc string) {
	s.t.Helper()
	if _, err := s.pols.CreatePolicy(context.Background(), &iotdm.CreatePolicyInput{PolicyName: name, PolicyDocument: doc}); err != nil {
		s.t.Fatalf("CreatePolicy(%s): %v", name, err)
	}
}

func (s *security) attach(policyName, target string) {
	s.t.Helper()
	if _, err := s.pols.AttachPolicy(context.Background(), &iotdm.AttachPolicyInput{PolicyName: policyName, Target: target}); err != nil {
		s.t.Fatalf("AttachPolicy(%s, %s): %v", policyName, target, err)
	}
}

func (s *security) group(name, parent string) string {
	s.t.Helper()
	out, err := s.reg.CreateThingGroup(context.Background(), &iotdm.CreateThingGroupInput{ThingGroupName: name, ParentGroupName: parent})
	if err != nil {
		s.t.Fatal(err)
	}
	return out.ThingGroupARN
}

func names(ps []iotdm.Policy) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.PolicyName)
	}
	return out
}

// TestTestAuthorizationSeedDevicePolicy holds TestAuthorization to the seed
// stack's least-privilege device policy for two devices, each with its own
// certificate attached to its own thing.
func TestTestAuthorizationSeedDevicePolicy(t *testing.T) {
	s := newSecurity(t)
	ctx := context.Background()
	dev1 := s.device("temp-sensor-01", map[string]string{"location": "Building-A"})
	dev2 := s.device("temp-sensor-02", map[string]string{"location": "Building-B"})
	dev3 := s.device("temp-sensor-03", nil) // in BuildingA, under Sensors
	s.createPolicy("DevicePolicy", seedDevicePolicy)
	s.attach("DevicePolicy", dev1)
	s.attach("DevicePolicy", dev2)
	s.attach("DevicePolicy", dev3)
	s.createPolicy("DenySecrets", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"`+iotARN+`topic/devices/*/secret"}]}`)
	s.createPolicy("SitePolicy", allowPolicy("iot:Publish", iotARN+"topic/site/${iot:Connection.Thing.Attributes[site]}/data"))
	s.createPolicy("CNPolicy", allowPolicy("iot:Publish", iotARN+"topic/cn/${iot:Certificate.Subject.CommonName}"))
	s.createPolicy("GroupPolicy", allowPolicy("iot:Publish", iotARN+"topic/fleet/broadcast"))
	s.group("Sensors", "")
	s.group("BuildingA", "Sensors")
	if _, err := s.reg.AddThingToThingGroup(ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "BuildingA", ThingName: "temp-sensor-03"}); err != nil {
		t.Fatal(err)
	}
	s.attach("GroupPolicy", iotARN+"thinggroup/Sensors")

	none := []string{}
	for _, tc := range []struct {
		name                        string
		principal, clientID, action string
		resources                   []string
		add, skip                   []string
		decision                    string
		allowed, explicit, implicit []string
		missing                     []string
	}{
		{name: "connect as own thing name", principal: dev1, clientID: "temp-sensor-01", action: "CONNECT",
			resources: []string{iotARN + "client/temp-sensor-01"}, decision: "ALLOWED", allowed: []string{"DevicePolicy"}},
		{name: "second device connects as its own name", principal: dev2, clientID: "temp-sensor-02", action: "CONNECT",
			resources: []string{iotARN + "client/temp-sensor-02"}, decision: "ALLOWED", allowed: []string{"DevicePolicy"}},
		{name: "connect as the other device's name", principal: dev1, clientID: "temp-sensor-02", action: "CONNECT",
			resources: []string{iotARN + "client/temp-sensor-02"}, decision: "IMPLICIT_DENY", implicit: []string{"DevicePolicy"},
			missing: []string{"iot:Connection.Thing.ThingName"}},
		{name: "connect as an unregistered client", principal: dev1, clientID: "laptop", action: "CONNECT",
			resources: []string{iotARN + "client/laptop"}, decision: "IMPLICIT_DENY", implicit: []string{"DevicePolicy"},
			missing: []string{"iot:Connection.Thing.ThingName"}},
		{name: "publish to own topic", principal: dev1, clientID: "temp-sensor-01", action: "PUBLISH",
			resources: []string{iotARN + "topic/devices/temp-sensor-01/telemetry"}, decision: "ALLOWED", allowed: []string{"DevicePolicy"}},
		{name: "publish to the other device's topic", principal: dev1, clientID: "temp-sensor-01", action: "PUBLISH",
			resources: []string{iotARN + "topic/devices/temp-sensor-02/telemetry"}, decision: "IMPLICIT_DENY", implicit: []string{"DevicePolicy"}},
		{name: "subscribe to own shadow", principal: dev2, clientID: "temp-sensor-02", action: "SUBSCRIBE",
			resources: []string{iotARN + "topicfilter/$aws/things/temp-sensor-02/shadow/update/#"}, decision: "ALLOWED", allowed: []string{"DevicePolicy"}},
		{name: "subscribe to the other device's shadow", principal: dev2, clientID: "temp-sensor-02", action: "SUBSCRIBE",
			resources: []string{iotARN + "topicfilter/$aws/things/temp-sensor-01/shadow/update/#"}, decision: "IMPLICIT_DENY", implicit: []string{"DevicePolicy"}},
		{name: "receive on own topic", principal: dev1, clientID: "temp-sensor-01", action: "RECEIVE",
			resources: []string{iotARN + "topic/$aws/things/temp-sensor-01/shadow/update/accepted"}, decision: "ALLOWED", allowed: []string{"DevicePolicy"}},
		{name: "receive on the other device's topic", principal: dev1, clientID: "temp-sensor-01", action: "RECEIVE",
			resources: []string{iotARN + "topic/devices/temp-sensor-02/commands"}, decision: "IMPLICIT_DENY", implicit: []string{"DevicePolicy"}},
		{name: "an added deny policy wins", principal: dev1, clientID: "temp-sensor-01", action: "PUBLISH",
			resources: []string{iotARN + "topic/devices/temp-sensor-01/secret"}, add: []string{"DenySecrets"},
			decision: "EXPLICIT_DENY", allowed: []string{"DevicePolicy"}, explicit: []string{"DenySecrets"}},
		{name: "a skipped policy no longer allows", principal: dev1, clientID: "temp-sensor-01", action: "PUBLISH",
			resources: []string{iotARN + "topic/devices/temp-sensor-01/telemetry"}, skip: []string{"DevicePolicy"}, decision: "IMPLICIT_DENY"},
		{name: "every resource must be allowed", principal: dev1, clientID: "temp-sensor-01", action: "PUBLISH",
			resources: []string{iotARN + "topic/devices/temp-sensor-01/a", iotARN + "topic/devices/temp-sensor-02/a"},
			decision:  "IMPLICIT_DENY", allowed: []string{"DevicePolicy"}},
		{name: "parent group policy applies when the client id is the thing name", principal: dev3, clientID: "temp-sensor-03", action: "PUBLISH",
			resources: []string{iotARN + "topic/fleet/broadcast"}, decision: "ALLOWED", allowed: []string{"GroupPolicy"}, implicit: []string{"DevicePolicy"}},
		{name: "group policy does not apply under another client id", principal: dev3, clientID: "temp-sensor-03-debug", action: "PUBLISH",
			resources: []string{iotARN + "topic/fleet/broadcast"}, decision: "IMPLICIT_DENY", implicit: []string{"DevicePolicy"},
			missing: []string{"iot:Connection.Thing.ThingName"}},
		{name: "group policy does not apply to a certificate not attached to the thing", principal: dev1, clientID: "temp-sensor-03", action: "PUBLISH",
			resources: []string{iotARN + "topic/fleet/broadcast"}, decision: "IMPLICIT_DENY", implicit: []string{"DevicePolicy"},
			missing: []string{"iot:Connection.Thing.ThingName"}},
		{name: "an attribute the thing lacks is a missing context value", principal: dev1, clientID: "temp-sensor-01", action: "PUBLISH",
			resources: []string{iotARN + "topic/site/x/data"}, add: []string{"SitePolicy"}, decision: "IMPLICIT_DENY",
			implicit: []string{"DevicePolicy", "SitePolicy"}, missing: []string{"iot:Connection.Thing.Attributes[site]"}},
		{name: "certificate variables come from the principal's certificate", principal: dev2, clientID: "temp-sensor-02", action: "PUBLISH",
			resources: []string{iotARN + "topic/cn/temp-sensor-02"}, add: []string{"CNPolicy"}, decision: "ALLOWED",
			allowed: []string{"CNPolicy"}, implicit: []string{"DevicePolicy"}},
		{name: "a bare certificate id is a principal", principal: strings.TrimPrefix(dev1, iotARN+"cert/"), clientID: "temp-sensor-01", action: "CONNECT",
			resources: []string{iotARN + "client/temp-sensor-01"}, decision: "ALLOWED", allowed: []string{"DevicePolicy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &iotdm.TestAuthorizationInput{Principal: tc.principal, ClientID: tc.clientID,
				AuthInfos:        []iotdm.AuthInfo{{ActionType: tc.action, Resources: tc.resources}},
				PolicyNamesToAdd: tc.add, PolicyNamesToSkip: tc.skip}
			out, err := s.pols.TestAuthorization(ctx, in)
			if err != nil {
				t.Fatalf("TestAuthorization: %v", err)
			}
			if len(out.AuthResults) != 1 {
				t.Fatalf("TestAuthorization returned %d results, want 1", len(out.AuthResults))
			}
			r := out.AuthResults[0]
			or := func(s []string) []string {
				if s == nil {
					return none
				}
				return s
			}
			got := []any{r.AuthDecision, names(r.Allowed.Policies), names(r.Denied.ExplicitDeny.Policies), names(r.Denied.ImplicitDeny.Policies), r.MissingContextValues}
			want := []any{tc.decision, or(tc.allowed), or(tc.explicit), or(tc.implicit), or(tc.missing)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("TestAuthorization(%s %v as %s) [decision allowed explicit implicit missing] (-want +got):\n%s", tc.action, tc.resources, tc.clientID, diff)
			}
			if r.AuthInfo.ActionType != tc.action || !cmp.Equal(r.AuthInfo.Resources, tc.resources) {
				t.Errorf("AuthInfo = %+v, want the request's", r.AuthInfo)
			}
			for _, p := range append(r.Allowed.Policies, r.Denied.ImplicitDeny.Policies...) {
				if p.PolicyARN != iotARN+"policy/"+p.PolicyName {
					t.Errorf("policy %s ARN = %s", p.PolicyName, p.PolicyARN)
				}
			}
		})
	}
}

// ConnectionPolicies is what the broker asks at CONNECT: the same policies
// and context TestAuthorization evaluates.
func TestConnectionPolicies(t *testing.T) {
	s := newSecurity(t)
	ctx := context.Background()
	dev1 := s.device("temp-sensor-01", map[string]string{"location": "Building-A"})
	s.createPolicy("DevicePolicy", seedDevicePolicy)
	s.createPolicy("GroupPolicy", allowPolicy("iot:Publish", iotARN+"topic/fleet/*"))
	s.createPolicy("RootPolicy", allowPolicy("iot:Subscribe", iotARN+"topicfilter/fleet/*"))
	s.attach("DevicePolicy", dev1)
	s.group("Root", "")
	s.group("Child", "Root")
	s.attach("RootPolicy", iotARN+"thinggroup/Root")
	s.attach("GroupPolicy", iotARN+"thinggroup/Child")
	s.attach("DevicePolicy", iotARN+"thinggroup/Child") // once in the result
	if _, err := s.reg.AddThingToThingGroup(ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "Child", ThingName: "temp-sensor-01"}); err != nil {
		t.Fatal(err)
	}

	named, pctx, err := s.pols.ConnectionPolicies(ctx, dev1, "temp-sensor-01")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range named {
		if n.Doc == nil {
			t.Errorf("policy %s has no document", n.Name)
		}
		got = append(got, n.Name)
	}
	if diff := cmp.Diff([]string{"DevicePolicy", "GroupPolicy", "RootPolicy"}, got); diff != "" {
		t.Errorf("ConnectionPolicies names (-want +got):\n%s", diff)
	}
	if pctx.ClientID != "temp-sensor-01" || pctx.Thing == nil || !pctx.Thing.IsAttached || pctx.Thing.Attributes["location"] != "Building-A" {
		t.Errorf("ConnectionPolicies context = %+v, thing %+v", pctx, pctx.Thing)
	}
	if pctx.Certificate == nil || !cmp.Equal(pctx.Certificate.Subject["CommonName"], []string{"temp-sensor-01"}) {
		t.Errorf("ConnectionPolicies certificate = %+v, want CN temp-sensor-01", pctx.Certificate)
	}
	checker := policy.Compile(named, pctx)
	for _, c := range []struct {
		action, resource string
		want             policy.Decision
	}{
		{"iot:Connect", iotARN + "client/temp-sensor-01", policy.Allowed},
		{"iot:Publish", iotARN + "topic/fleet/alerts", policy.Allowed},
		{"iot:Subscribe", iotARN + "topicfilter/fleet/#", policy.Allowed},
		{"iot:Publish", iotARN + "topic/devices/temp-sensor-02/x", policy.ImplicitDeny},
	} {
		if got := checker.Check(c.action, c.resource); got != c.want {
			t.Errorf("Check(%s, %s) = %v, want %v", c.action, c.resource, got, c.want)
		}
	}

	named, pctx, err = s.pols.ConnectionPolicies(ctx, dev1, "someone-else")
	if err != nil {
		t.Fatal(err)
	}
	if len(named) != 1 || named[0].Name != "DevicePolicy" || pctx.Thing != nil {
		t.Errorf("ConnectionPolicies(other client id) = %d policies, thing %+v; want DevicePolicy only and no thing", len(named), pctx.Thing)
	}
	_, _, err = s.pols.ConnectionPolicies(ctx, iotARN+"cert/"+strings.Repeat("ab", 32), "temp-sensor-01")
	wantCode(t, "ConnectionPolicies(unknown certificate)", err, iotdm.ErrResourceNotFound)
}

func TestTestAuthorizationErrors(t *testing.T) {
	s := newSecurity(t)
	ctx := context.Background()
	dev := s.device("temp-sensor-01", nil)
	connect := []iotdm.AuthInfo{{ActionType: "CONNECT", Resources: []string{iotARN + "client/temp-sensor-01"}}}
	eleven := make([]iotdm.AuthInfo, 11)
	for i := range eleven {
		eleven[i] = connect[0]
	}
	for _, tc := range []struct {
		name string
		in   iotdm.TestAuthorizationInput
		code iotdm.ErrorCode
	}{
		{"no authInfos", iotdm.TestAuthorizationInput{Principal: dev}, iotdm.ErrInvalidRequest},
		{"eleven authInfos", iotdm.TestAuthorizationInput{Principal: dev, AuthInfos: eleven}, iotdm.ErrInvalidRequest},
		{"unknown action type", iotdm.TestAuthorizationInput{Principal: dev, AuthInfos: []iotdm.AuthInfo{{ActionType: "DELETE", Resources: []string{"*"}}}}, iotdm.ErrInvalidRequest},
		{"no resources", iotdm.TestAuthorizationInput{Principal: dev, AuthInfos: []iotdm.AuthInfo{{ActionType: "PUBLISH"}}}, iotdm.ErrInvalidRequest},
		{"no principal", iotdm.TestAuthorizationInput{AuthInfos: connect}, iotdm.ErrInvalidRequest},
		{"malformed principal", iotdm.TestAuthorizationInput{Principal: "not-a-principal", AuthInfos: connect}, iotdm.ErrInvalidRequest},
		{"thing group principal", iotdm.TestAuthorizationInput{Principal: iotARN + "thinggroup/g", AuthInfos: connect}, iotdm.ErrInvalidRequest},
		{"unknown certificate", iotdm.TestAuthorizationInput{Principal: iotARN + "cert/" + strings.Repeat("0", 64), AuthInfos: connect}, iotdm.ErrResourceNotFound},
		{"unknown policy to add", iotdm.TestAuthorizationInput{Principal: dev, AuthInfos: connect, PolicyNamesToAdd: []string{"nope"}}, iotdm.ErrResourceNotFound},
		{"bad policy name to skip", iotdm.TestAuthorizationInput{Principal: dev, AuthInfos: connect, PolicyNamesToSkip: []string{"bad name"}}, iotdm.ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.pols.TestAuthorization(ctx, &tc.in)
			wantCode(t, "TestAuthorization", err, tc.code)
		})
	}
	// A Cognito identity is a principal without certificate variables.
	out, err := s.pols.TestAuthorization(ctx, &iotdm.TestAuthorizationInput{Principal: "us-east-1:12345678-1234-1234-1234-123456789012", AuthInfos: connect})
	if err != nil || out.AuthResults[0].AuthDecision != iotdm.AuthDecisionImplicitDeny {
		t.Errorf("TestAuthorization(Cognito identity) = %+v, %v; want IMPLICIT_DENY", out, err)
	}
}

func TestPolicyVersions(t *testing.T) {
	s := newSecurity(t)
	ctx := context.Background()
	doc := func(i int) string { return allowPolicy("iot:Publish", fmt.Sprintf("%stopic/v%d", iotARN, i)) }
	s.createPolicy("p", doc(1))
	for i := 2; i <= 5; i++ {
		out, err := s.pols.CreatePolicyVersion(ctx, &iotdm.CreatePolicyVersionInput{PolicyName: "p", PolicyDocument: doc(i), SetAsDefault: i == 3})
		if err != nil {
			t.Fatalf("CreatePolicyVersion %d: %v", i, err)
		}
		if out.PolicyVersionID != fmt.Sprint(i) || out.IsDefaultVersion != (i == 3) {
			t.Errorf("CreatePolicyVersion %d = id %s default %v", i, out.PolicyVersionID, out.IsDefaultVersion)
		}
	}
	seq := s.lastSeq(t)
	_, err := s.pols.CreatePolicyVersion(ctx, &iotdm.CreatePolicyVersionInput{PolicyName: "p", PolicyDocument: doc(6)})
	wantCode(t, "CreatePolicyVersion(sixth)", err, iotdm.ErrVersionsLimitExceeded)
	_, err = s.pols.CreatePolicyVersion(ctx, &iotdm.CreatePolicyVersionInput{PolicyName: "p", PolicyDocument: `{"Statement":[]}`})
	wantCode(t, "CreatePolicyVersion(malformed)", err, iotdm.ErrMalformedPolicy)
	_, err = s.pols.DeletePolicyVersion(ctx, &iotdm.DeletePolicyVersionInput{PolicyName: "p", PolicyVersionID: "3"})
	wantCode(t, "DeletePolicyVersion(default)", err, iotdm.ErrDeleteConflict)
	_, err = s.pols.DeletePolicy(ctx, &iotdm.DeletePolicyInput{PolicyName: "p"})
	wantCode(t, "DeletePolicy(with versions)", err, iotdm.ErrDeleteConflict)
	_, err = s.pols.GetPolicyVersion(ctx, &iotdm.GetPolicyVersionInput{PolicyName: "p", PolicyVersionID: "x"})
	wantCode(t, "GetPolicyVersion(x)", err, iotdm.ErrInvalidRequest)
	_, err = s.pols.SetDefaultPolicyVersion(ctx, &iotdm.SetDefaultPolicyVersionInput{PolicyName: "p", PolicyVersionID: "9"})
	wantCode(t, "SetDefaultPolicyVersion(9)", err, iotdm.ErrResourceNotFound)
	if got := s.lastSeq(t); got != seq {
		t.Errorf("refused calls committed changes: seq %d, want %d", got, seq)
	}

	get, err := s.pols.GetPolicy(ctx, &iotdm.GetPolicyInput{PolicyName: "p"})
	if err != nil || get.DefaultVersionID != "3" || get.PolicyDocument != doc(3) {
		t.Fatalf("GetPolicy = %+v, %v; want version 3's document", get, err)
	}
	// Ids are never reused: delete 5, then the next is 6.
	for _, v := range []string{"5", "4"} {
		if _, err := s.pols.DeletePolicyVersion(ctx, &iotdm.DeletePolicyVersionInput{PolicyName: "p", PolicyVersionID: v}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.pols.CreatePolicyVersion(ctx, &iotdm.CreatePolicyVersionInput{PolicyName: "p", PolicyDocument: doc(6), SetAsDefault: true})
	if err != nil || out.PolicyVersionID != "6" {
		t.Fatalf("CreatePolicyVersion after deletes = %+v, %v; want version 6", out, err)
	}
	after, err := s.pols.GetPolicy(ctx, &iotdm.GetPolicyInput{PolicyName: "p"})
	if err != nil || after.GenerationID == get.GenerationID || after.DefaultVersionID != "6" {
		t.Errorf("GetPolicy after a new default = %+v, %v; want version 6 and a new generationId", after, err)
	}
	list, err := s.pols.ListPolicyVersions(ctx, &iotdm.ListPolicyVersionsInput{PolicyName: "p"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range list.PolicyVersions {
		ids = append(ids, fmt.Sprintf("%s:%v", v.VersionID, v.IsDefaultVersion))
	}
	if diff := cmp.Diff([]string{"6:true", "3:false", "2:false", "1:false"}, ids); diff != "" {
		t.Errorf("ListPolicyVersions (-want +got):\n%s", diff)
	}
	if _, err := s.pols.SetDefaultPolicyVersion(ctx, &iotdm.SetDefaultPolicyVersionInput{PolicyName: "p", PolicyVersionID: "1"}); err != nil {
		t.Fatal(err)
	}
	v1, err := s.pols.GetPolicyVersion(ctx, &iotdm.GetPolicyVersionInput{PolicyName: "p", PolicyVersionID: "1"})
	if err != nil || !v1.IsDefaultVersion || v1.PolicyDocument != doc(1) {
		t.Errorf("GetPolicyVersion(1) = %+v, %v; want the default with document 1", v1, err)
	}
	for _, v := range []string{"2", "3", "6"} {
		if _, err := s.pols.DeletePolicyVersion(ctx, &iotdm.DeletePolicyVersionInput{PolicyName: "p", PolicyVersionID: v}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pols.DeletePolicy(ctx, &iotdm.DeletePolicyInput{PolicyName: "p"}); err != nil {
		t.Fatalf("DeletePolicy: %v", err)
	}
	// Nothing of it is left: a new policy of the same name starts at 1.
	err = s.db.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, iotdm.KindPolicyVersion, "p/", "", 0, func(key string, _ []byte) error {
			return fmt.Errorf("version %s left after DeletePolicy", key)
		})
	})
	if err != nil {
		t.Error(err)
	}
}

func TestCreatePolicyValidation(t *testing.T) {
	s := newSecurity(t)
	ctx := context.Background()
	ok := allowPolicy("iot:Connect", "*")
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"` + strings.Repeat("a", 2048) + `"}]}`
	for _, tc := range []struct {
		name, policy, doc string
		code              iotdm.ErrorCode
	}{
		{"bad name", "bad name", ok, iotdm.ErrInvalidRequest},
		{"long name", strings.Repeat("p", 129), ok, iotdm.ErrInvalidRequest},
		{"not json", "p", "{", iotdm.ErrMalformedPolicy},
		{"empty", "p", "", iotdm.ErrMalformedPolicy},
		{"no statement", "p", `{"Version":"2012-10-17"}`, iotdm.ErrMalformedPolicy},
		{"bad effect", "p", `{"Version":"2012-10-17","Statement":{"Effect":"Maybe","Action":"iot:*","Resource":"*"}}`, iotdm.ErrMalformedPolicy},
		{"over 2048 characters", "p", big, iotdm.ErrMalformedPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.pols.CreatePolicy(ctx, &iotdm.CreatePolicyInput{PolicyName: tc.policy, PolicyDocument: tc.doc})
			wantCode(t, "CreatePolicy", err, tc.code)
		})
	}
	// Whitespace does not count against the 2048 characters.
	spaced := `{"Version":"2012-10-17",` + strings.Repeat(" \n", 3000) + `"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`
	s.createPolicy("spaced", spaced)
	_, err := s.pols.CreatePolicy(ctx, &iotdm.CreatePolicyInput{PolicyName: "spaced", PolicyDocument: ok})
	if e := wantCode(t, "CreatePolicy(existing name)", err, iotdm.ErrResourceAlreadyExists); e.ResourceARN != iotARN+"policy/spaced" {
		t.Errorf("ResourceAlreadyExistsException resourceArn = %q", e.ResourceARN)
	}
	_, err = s.pols.GetPolicy(ctx, &iotdm.GetPolicyInput{PolicyName: "missing"})
	wantCode(t, "GetPolicy(missing)", err, iotdm.ErrResourceNotFound)
}

func TestPolicyAttachment(t *testing.T) {
	s := newSecurity(t)
	ctx := context.Background()
	cert := s.device("temp-sensor-01", nil)
	s.createPolicy("p", allowPolicy("iot:Connect", "*"))
	root := s.group("Root", "")
	mid := s.group("Mid", "Root")
	leaf := s.group("Leaf", "Mid")
	cognito := "us-east-1:12345678-1234-1234-1234-123456789012"
	for _, target := range []string{cert, root, mid, leaf, cognito} {
		s.attach("p", target)
		s.attach("p", target) // idempotent
	}
	s.createPolicy("q", allowPolicy("iot:Publish", "*"))
	s.attach("q", root)
	s.attach("q", leaf)
	s.createPolicy("r", allowPolicy("iot:Receive", "*"))
	s.attach("r", mid)

	t.Run("refusals change nothing", func(t *testing.T) {
		if _, err := s.reg.CreateDynamicThingGroup(ctx, &iotdm.CreateDynamicThingGroupInput{ThingGroupName: "Dyn", QueryString: "thingName:temp*"}); err != nil {
			t.Fatal(err)
		}
		seq := s.lastSeq(t)
		for _, tc := range []struct {
			name, policy, target string
			code                 iotdm.ErrorCode
		}{
			{"dynamic group", "p", iotARN + "thinggroup/Dyn", iotdm.ErrInvalidRequest},
			{"missing group", "p", iotARN + "thinggroup/Nope", iotdm.ErrResourceNotFound},
			{"missing certificate", "p", iotARN + "cert/" + strings.Repeat("1", 64), iotdm.ErrResourceNotFound},
			{"missing policy", "nope", cert, iotdm.ErrResourceNotFound},
			{"thing ARN", "p", iotARN + "thing/temp-sensor-01", iotdm.ErrInvalidRequest},
			{"garbage", "p", "garbage", iotdm.ErrInvalidRequest},
			{"other account", "p", "arn:aws:iot:us-east-1:999999999999:thinggroup/Root", iotdm.ErrResourceNotFound},
		} {
			_, err := s.pols.AttachPolicy(ctx, &iotdm.AttachPolicyInput{PolicyName: tc.policy, Target: tc.target})
			wantCode(t, "AttachPolicy("+tc.name+")", err, tc.code)
		}
		_, err := s.pols.AttachPrincipalPolicy(ctx, &iotdm.AttachPrincipalPolicyInput{PolicyName: "p", Principal: root})
		wantCode(t, "AttachPrincipalPolicy(group)", err, iotdm.ErrInvalidRequest)
		_, err = s.pols.DeletePolicy(ctx, &iotdm.DeletePolicyInput{PolicyName: "p"})
		wantCode(t, "DeletePolicy(attached)", err, iotdm.ErrDeleteConflict)
		if got := s.lastSeq(t); got != seq {
			t.Errorf("refused calls committed changes: seq %d, want %d", got, seq)
		}
	})
	t.Run("limit of 10 per target", func(t *testing.T) {
		other := s.certificate("spare")
		for i := range 10 {
			name := fmt.Sprintf("limit-%02d", i)
			s.createPolicy(name, allowPolicy("iot:Connect", "*"))
			s.attach(name, other)
		}
		s.createPolicy("limit-10", allowPolicy("iot:Connect", "*"))
		_, err := s.pols.AttachPolicy(ctx, &iotdm.AttachPolicyInput{PolicyName: "limit-10", Target: other})
		wantCode(t, "AttachPolicy(eleventh)", err, iotdm.ErrLimitExceeded)
		s.attach("limit-09", other) // re-attaching is no new attachment
	})
	t.Run("recursive ListAttachedPolicies", func(t *testing.T) {
		list := func(target string, recursive bool) []string {
			t.Helper()
			out, err := s.pols.ListAttachedPolicies(ctx, &iotdm.ListAttachedPoliciesInput{Target: target, Recursive: recursive})
			if err != nil {
				t.Fatalf("ListAttachedPolicies(%s): %v", target, err)
			}
			return names(out.Policies)
		}
		if diff := cmp.Diff([]string{"p", "q"}, list(leaf, false)); diff != "" {
			t.Errorf("ListAttachedPolicies(Leaf) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"p", "q", "r"}, list(leaf, true)); diff != "" {
			t.Errorf("ListAttachedPolicies(Leaf, recursive) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"p"}, list(cert, true)); diff != "" {
			t.Errorf("ListAttachedPolicies(certificate) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{}, list(iotARN+"thinggroup/Dyn", true)); diff != "" {
			t.Errorf("ListAttachedPolicies(dynamic group) (-want +got):\n%s", diff)
		}
		// One per page.
		var paged []string
		marker := ""
		for range 5 {
			out, err := s.pols.ListAttachedPolicies(ctx, &iotdm.ListAttachedPoliciesInput{Target: leaf, Recursive: true, PageSize: 1, Marker: marker})
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, names(out.Policies)...)
			if marker = out.NextMarker; marker == "" {
				break
			}
		}
		if diff := cmp.Diff([]string{"p", "q", "r"}, paged); diff != "" {
			t.Errorf("paged ListAttachedPolicies (-want +got):\n%s", diff)
		}
	})
	t.Run("ListTargetsForPolicy", func(t *testing.T) {
		out, err := s.pols.ListTargetsForPolicy(ctx, &iotdm.ListTargetsForPolicyInput{PolicyName: "p"})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{cert, leaf, mid, root, cognito}
		if diff := cmp.Diff(want, out.Targets); diff != "" {
			t.Errorf("ListTargetsForPolicy (-want +got):\n%s", diff)
		}
	})
	t.Run("GetEffectivePolicies", func(t *testing.T) {
		if _, err := s.reg.AddThingToThingGroup(ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "Leaf", ThingName: "temp-sensor-01"}); err != nil {
			t.Fatal(err)
		}
		s.createPolicy("own", allowPolicy("iot:Connect", "*"))
		s.attach("own", cert)
		out, err := s.pols.GetEffectivePolicies(ctx, &iotdm.GetEffectivePoliciesInput{Principal: cert, ThingName: "temp-sensor-01"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range out.EffectivePolicies {
			got = append(got, e.PolicyName)
			if e.PolicyARN != iotARN+"policy/"+e.PolicyName || e.PolicyDocument == "" {
				t.Errorf("effective policy %+v", e)
			}
		}
		if diff := cmp.Diff([]string{"own", "p", "q", "r"}, got); diff != "" {
			t.Errorf("GetEffectivePolicies (-want +got):\n%s", diff)
		}
		_, err = s.pols.GetEffectivePolicies(ctx, &iotdm.GetEffectivePoliciesInput{Principal: cert, ThingName: "nope"})
		wantCode(t, "GetEffectivePolicies(missing thing)", err, iotdm.ErrResourceNotFound)
	})
	t.Run("detach", func(t *testing.T) {
		for _, target := range []string{cert, root, mid, leaf, cognito} {
			if _, err := s.pols.DetachPolicy(ctx, &iotdm.DetachPolicyInput{PolicyName: "p", Target: target}); err != nil {
				t.Fatalf("DetachPolicy(%s): %v", target, err)
			}
		}
		if _, err := s.pols.DetachPolicy(ctx, &iotdm.DetachPolicyInput{PolicyName: "p", Target: cert}); err != nil {
			t.Errorf("DetachPolicy(not attached) = %v, want success", err)
		}
		if _, err := s.pols.DeletePolicy(ctx, &iotdm.DeletePolicyInput{PolicyName: "p"}); err != nil {
			t.Errorf("DeletePolicy(detached) = %v", err)
		}
	})
}

func TestListPoliciesOrderAndPaging(t *testing.T) {
	s := newSecurity(t)
	pols, clk := s.pols, s.clk
	ctx := context.Background()
	for _, name := range []string{"b", "a", "c"} {
		if _, err := pols.CreatePolicy(ctx, &iotdm.CreatePolicyInput{PolicyName: name, PolicyDocument: allowPolicy("iot:*", "*")}); err != nil {
			t.Fatal(err)
		}
		clk.advance(time.Second)
	}
	list := func(ascending bool) []string {
		var got []string
		marker := ""
		for range 5 {
			out, err := pols.ListPolicies(ctx, &iotdm.ListPoliciesInput{PageSize: 2, Marker: marker, AscendingOrder: ascending})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, names(out.Policies)...)
			if marker = out.NextMarker; marker == "" {
				break
			}
		}
		return got
	}
	if diff := cmp.Diff([]string{"c", "a", "b"}, list(false)); diff != "" {
		t.Errorf("ListPolicies newest first (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b", "a", "c"}, list(true)); diff != "" {
		t.Errorf("ListPolicies ascending (-want +got):\n%s", diff)
	}
	for _, in := range []iotdm.ListPoliciesInput{{PageSize: 251}, {PageSize: -1}, {Marker: "!!"}} {
		_, err := pols.ListPolicies(ctx, &in)
		wantCode(t, fmt.Sprintf("ListPolicies(%+v)", in), err, iotdm.ErrInvalidRequest)
	}
}

// Deleting a group deletes its policy attachments: ListTargetsForPolicy no
// longer names it, a group recreated under the name has no policies, and
// the policy can be deleted.
func TestDeletedGroupLosesItsPolicies(t *testing.T) {
	s := newSecurity(t)
	ctx := context.Background()
	s.createPolicy("p", allowPolicy("iot:Connect", "*"))
	gone := s.group("Gone", "")
	s.attach("p", gone)
	if _, err := s.reg.DeleteThingGroup(ctx, &iotdm.DeleteThingGroupInput{ThingGroupName: "Gone"}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []struct{ kind, key string }{{iotdm.KindPolicyTarget, "p/" + gone}, {iotdm.KindTargetPolicy, gone + "/p"}} {
		if s.exists(t, key.kind, key.key) {
			t.Errorf("DeleteThingGroup left %s %s", key.kind, key.key)
		}
	}
	out, err := s.pols.ListTargetsForPolicy(ctx, &iotdm.ListTargetsForPolicyInput{PolicyName: "p"})
	if err != nil || len(out.Targets) != 0 {
		t.Errorf("ListTargetsForPolicy = %+v, %v; want no targets", out, err)
	}
	s.group("Gone", "")
	att, err := s.pols.ListAttachedPolicies(ctx, &iotdm.ListAttachedPoliciesInput{Target: gone})
	if err != nil || len(att.Policies) != 0 {
		t.Errorf("recreated group: ListAttachedPolicies = %+v, %v; want none", att, err)
	}
	if _, err := s.pols.DeletePolicy(ctx, &iotdm.DeletePolicyInput{PolicyName: "p"}); err != nil {
		t.Fatalf("DeletePolicy = %v, want success", err)
	}
}
