package policy

import "testing"

// benchDoc is a 10-statement device policy with variables.
const benchDoc = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/devices/${iot:Connection.Thing.ThingName}/*"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/fleet/${iot:Connection.Thing.Attributes[location]}/${iot:ClientId}/telemetry"},
    {"Effect": "Allow", "Action": ["iot:Receive", "iot:Subscribe"], "Resource": [
      "arn:aws:iot:us-east-1:123456789012:topic/broadcast/${iot:Connection.Thing.ThingTypeName}/*",
      "arn:aws:iot:us-east-1:123456789012:topicfilter/broadcast/${iot:Connection.Thing.ThingTypeName}/*"]},
    {"Effect": "Allow", "Action": ["iot:Get*", "iot:Update*"], "Resource": [
      "arn:aws:iot:us-east-1:123456789012:thing/${iot:Connection.Thing.ThingName}",
      "arn:aws:iot:us-east-1:123456789012:thing/${iot:Connection.Thing.ThingName}/*"]},
    {"Effect": "Deny", "Action": "iot:*", "Resource": [
      "arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/secret*",
      "arn:aws:iot:us-east-1:123456789012:topicfilter/devices/${iot:Connection.Thing.ThingName}/secret*"]},
    {"Effect": "Allow", "Action": "iot:RetainPublish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/state",
     "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}}
  ]
}`

func benchPolicies(tb testing.TB) []Named {
	return mustParse(tb, "device", benchDoc)
}

type benchRequest struct {
	action, resource string
	want             Decision
}

// benchRequests is a mix of allowed and denied requests of temp-sensor-01.
func benchRequests() []benchRequest {
	return []benchRequest{
		{"iot:Connect", arn + "client/temp-sensor-01", Allowed},
		{"iot:Connect", arn + "client/temp-sensor-02", ImplicitDeny},
		{"iot:Publish", arn + "topic/devices/temp-sensor-01/telemetry", Allowed},
		{"iot:Publish", arn + "topic/devices/temp-sensor-02/telemetry", ImplicitDeny},
		{"iot:Subscribe", arn + "topicfilter/$aws/things/temp-sensor-01/shadow/#", Allowed},
		{"iot:Subscribe", arn + "topicfilter/$aws/things/+/shadow/#", ImplicitDeny},
		{"iot:Receive", arn + "topic/broadcast/TemperatureSensor/firmware", Allowed},
		{"iot:Publish", arn + "topic/devices/temp-sensor-01/secret/key", ExplicitDeny},
		{"iot:RetainPublish", arn + "topic/devices/temp-sensor-01/state", Allowed},
		{"iot:GetThingShadow", arn + "thing/temp-sensor-01", Allowed},
		{"iot:Publish", arn + "topic/fleet/lab/temp-sensor-01/telemetry", Allowed},
		{"iot:Publish", arn + "topic/$aws/things/temp-sensor-02/shadow/update", ImplicitDeny},
	}
}

func TestBenchRequests(t *testing.T) {
	pols := benchPolicies(t)
	ctx := device("temp-sensor-01")
	chk := Compile(pols, ctx)
	for _, r := range benchRequests() {
		if got := chk.Check(r.action, r.resource); got != r.want {
			t.Errorf("Check(%s, %s) = %v, want %v", r.action, r.resource, got, r.want)
		}
		if got := Evaluate(pols, ctx, r.action, r.resource).Decision; got != r.want {
			t.Errorf("Evaluate(%s, %s) = %v, want %v", r.action, r.resource, got, r.want)
		}
	}
}

// BenchmarkChecker measures one Check of a 10-statement policy with
// variables, over a mix of allowed and denied requests.
func BenchmarkChecker(b *testing.B) {
	chk := Compile(benchPolicies(b), device("temp-sensor-01"))
	reqs := benchRequests()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r := &reqs[i%len(reqs)]
		chk.Check(r.action, r.resource)
	}
}

// BenchmarkCompile measures compiling the policy for one connection.
func BenchmarkCompile(b *testing.B) {
	pols := benchPolicies(b)
	ctx := device("temp-sensor-01")
	b.ReportAllocs()
	for b.Loop() {
		Compile(pols, ctx)
	}
}

// BenchmarkEvaluate measures the reference evaluator on the same mix.
func BenchmarkEvaluate(b *testing.B) {
	pols := benchPolicies(b)
	ctx := device("temp-sensor-01")
	reqs := benchRequests()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := &reqs[i%len(reqs)]
		Evaluate(pols, ctx, r.action, r.resource)
	}
}

// BenchmarkParse measures parsing the policy.
func BenchmarkParse(b *testing.B) {
	doc := []byte(benchDoc)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}
