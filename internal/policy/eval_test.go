package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

type evalCase struct {
	name     string
	docs     []string // name, document, name, document, ...
	ctx      Context
	action   string
	resource string
	want     Decision
	missing  []string
}

func pubVar(v string) []string {
	return []string{"p", allowDoc("iot:Publish", arn+"topic/v/"+v)}
}

var evalCases = []evalCase{
	// The seed stack's device policy, two devices.
	{name: "device connects as itself", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Connect", resource: arn + "client/temp-sensor-01", want: Allowed},
	{name: "device cannot connect as another", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Connect", resource: arn + "client/temp-sensor-02", want: ImplicitDeny},
	{name: "device updates own shadow", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/$aws/things/temp-sensor-01/shadow/update", want: Allowed},
	{name: "star crosses levels into named shadows", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/$aws/things/temp-sensor-01/shadow/name/cfg/update", want: Allowed},
	{name: "device cannot update another shadow", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/$aws/things/temp-sensor-02/shadow/update", want: ImplicitDeny},
	{name: "device receives own telemetry topic", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Receive", resource: arn + "topic/devices/temp-sensor-01/telemetry", want: Allowed},
	{name: "device receives nothing of another", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Receive", resource: arn + "topic/devices/temp-sensor-02/telemetry", want: ImplicitDeny},
	{name: "device subscribes own filter with literal #", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Subscribe", resource: arn + "topicfilter/devices/temp-sensor-01/#", want: Allowed},
	{name: "device cannot subscribe another filter", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Subscribe", resource: arn + "topicfilter/devices/temp-sensor-02/+", want: ImplicitDeny},
	{name: "subscribe needs a topicfilter resource", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Subscribe", resource: arn + "topic/devices/temp-sensor-01/x", want: ImplicitDeny},
	{name: "publish needs a topic resource", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topicfilter/devices/temp-sensor-01/x", want: ImplicitDeny},
	{name: "ungranted action", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:RetainPublish", resource: arn + "topic/devices/temp-sensor-01/x", want: ImplicitDeny},
	{name: "second device connects as itself", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-02"),
		action: "iot:Connect", resource: arn + "client/temp-sensor-02", want: Allowed},
	{name: "second device denied the first's topics", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-02"),
		action: "iot:Publish", resource: arn + "topic/devices/temp-sensor-01/telemetry", want: ImplicitDeny},
	{name: "second device denied the first's shadow filter", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-02"),
		action: "iot:Subscribe", resource: arn + "topicfilter/$aws/things/temp-sensor-01/shadow/#", want: ImplicitDeny},
	{name: "resources are case-sensitive", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/Devices/temp-sensor-01/x", want: ImplicitDeny},
	{name: "actions are case-insensitive", docs: []string{"device", devicePolicy}, ctx: device("temp-sensor-01"),
		action: "IOT:PUBLISH", resource: arn + "topic/devices/temp-sensor-01/x", want: Allowed},
	{name: "actions are case-insensitive in the pattern too", docs: []string{"p", allowDoc("IoT:pUbLiSh", arn+"topic/x")}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/x", want: Allowed},
	{name: "action prefix wildcard", docs: []string{"p", allowDoc("iot:*Shadow", arn+"thing/*")}, ctx: bare("c"),
		action: "iot:GetThingShadow", resource: arn + "thing/t1", want: Allowed},
	{name: "action prefix wildcard misses", docs: []string{"p", allowDoc("iot:Get*", arn+"thing/*")}, ctx: bare("c"),
		action: "iot:UpdateThingShadow", resource: arn + "thing/t1", want: ImplicitDeny},
	{name: "action star", docs: []string{"p", allowDoc("*", "*")}, ctx: bare("c"),
		action: "iot:DeleteThingShadow", resource: arn + "thing/t1/named", want: Allowed},
	{name: "action question mark", docs: []string{"p", allowDoc("iot:?eceive", "*")}, ctx: bare("c"),
		action: "iot:Receive", resource: arn + "topic/t", want: Allowed},

	// A thing that is not attached resolves no thing variable.
	{name: "unattached thing resolves nothing", docs: []string{"device", devicePolicy}, ctx: unattached(),
		action: "iot:Connect", resource: arn + "client/temp-sensor-01", want: ImplicitDeny,
		missing: []string{"iot:Connection.Thing.ThingName"}},
	{name: "no thing resolves nothing", docs: []string{"device", devicePolicy}, ctx: bare("temp-sensor-01"),
		action: "iot:Subscribe", resource: arn + "topicfilter/devices/temp-sensor-01/#", want: ImplicitDeny,
		missing: []string{"iot:Connection.Thing.ThingName"}},
	{name: "an unresolved variable matches only its own text", docs: []string{"device", devicePolicy}, ctx: unattached(),
		action: "iot:Publish", resource: arn + "topic/devices/${iot:Connection.Thing.ThingName}/x", want: Allowed,
		missing: []string{"iot:Connection.Thing.ThingName"}},
	{name: "an unresolved variable is not a wildcard", docs: []string{"p", allowDoc("iot:Publish", arn+"topic/a/${iot:Connection.Thing.Attributes[a*]}")},
		ctx: device("temp-sensor-01"), action: "iot:Publish", resource: arn + "topic/a/${iot:Connection.Thing.Attributes[abc]}", want: ImplicitDeny,
		missing: []string{"iot:Connection.Thing.Attributes[a*]"}},
	{name: "missing values only from statements whose action matches", docs: []string{"device", devicePolicy}, ctx: unattached(),
		action: "iot:GetThingShadow", resource: arn + "thing/temp-sensor-01", want: ImplicitDeny},

	// Every variable of §4.4.
	{name: "iot:ClientId", docs: pubVar("${iot:ClientId}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/temp-sensor-01", want: Allowed},
	{name: "iot:ClientId of another", docs: pubVar("${iot:ClientId}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/temp-sensor-02", want: ImplicitDeny},
	{name: "variable names are case-insensitive", docs: pubVar("${IOT:clientid}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/temp-sensor-01", want: Allowed},
	{name: "client id is substituted literally", docs: pubVar("${iot:ClientId}"), ctx: bare("*"),
		action: "iot:Publish", resource: arn + "topic/v/anything", want: ImplicitDeny},
	{name: "client id star matches only star", docs: pubVar("${iot:ClientId}"), ctx: bare("*"),
		action: "iot:Publish", resource: arn + "topic/v/*", want: Allowed},
	{name: "client id + names the filter my/+/topic (AWS security note)",
		docs: []string{"p", allowDoc("iot:Subscribe", arn+"topicfilter/my/${iot:ClientId}/topic")}, ctx: bare("+"),
		action: "iot:Subscribe", resource: arn + "topicfilter/my/+/topic", want: Allowed},
	{name: "empty client id is absent", docs: pubVar("${iot:ClientId}"), ctx: bare(""),
		action: "iot:Publish", resource: arn + "topic/v/", want: ImplicitDeny, missing: []string{"iot:ClientId"}},
	{name: "value over 1024 characters is not substituted", docs: pubVar("${iot:ClientId}"), ctx: bare(long(1025)),
		action: "iot:Publish", resource: arn + "topic/v/" + long(1025), want: ImplicitDeny, missing: []string{"iot:ClientId"}},
	{name: "value of 1024 characters is substituted", docs: pubVar("${iot:ClientId}"), ctx: bare(long(1024)),
		action: "iot:Publish", resource: arn + "topic/v/" + long(1024), want: Allowed},
	{name: "thing name", docs: pubVar("${iot:Connection.Thing.ThingName}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/temp-sensor-01", want: Allowed},
	{name: "thing type name", docs: pubVar("${iot:Connection.Thing.ThingTypeName}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/TemperatureSensor", want: Allowed},
	{name: "thing without a type", docs: pubVar("${iot:Connection.Thing.ThingTypeName}"),
		ctx:    Context{ClientID: "t", Thing: &Thing{Name: "t", IsAttached: true}},
		action: "iot:Publish", resource: arn + "topic/v/", want: ImplicitDeny, missing: []string{"iot:Connection.Thing.ThingTypeName"}},
	{name: "thing attribute", docs: pubVar("${iot:Connection.Thing.Attributes[location]}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/lab", want: Allowed},
	{name: "thing attribute names are case-sensitive", docs: pubVar("${iot:Connection.Thing.Attributes[Location]}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/lab", want: ImplicitDeny, missing: []string{"iot:Connection.Thing.Attributes[Location]"}},
	{name: "thing attribute with # is substituted", docs: pubVar("${iot:Connection.Thing.Attributes[zone]}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/a#b", want: Allowed},
	{name: "absent thing attribute", docs: pubVar("${iot:Connection.Thing.Attributes[building]}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/lab", want: ImplicitDeny, missing: []string{"iot:Connection.Thing.Attributes[building]"}},
	{name: "thing attribute of an unattached thing", docs: pubVar("${iot:Connection.Thing.Attributes[location]}"), ctx: unattached(),
		action: "iot:Publish", resource: arn + "topic/v/lab", want: ImplicitDeny, missing: []string{"iot:Connection.Thing.Attributes[location]"}},
	{name: "IsAttached true", docs: pubVar("${iot:Connection.Thing.IsAttached}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/true", want: Allowed},
	{name: "IsAttached false", docs: pubVar("${iot:Connection.Thing.IsAttached}"), ctx: unattached(),
		action: "iot:Publish", resource: arn + "topic/v/false", want: Allowed},
	{name: "IsAttached without a thing", docs: pubVar("${iot:Connection.Thing.IsAttached}"), ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/v/false", want: Allowed},
	{name: "subject common name", docs: pubVar("${iot:Certificate.Subject.CommonName}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/temp-sensor-01", want: Allowed},
	{name: "subject attribute first value", docs: pubVar("${iot:Certificate.Subject.Organization}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/Acme", want: Allowed},
	{name: "subject attribute .1 is the second value", docs: pubVar("${iot:Certificate.Subject.Organization.1}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/Acme Labs", want: Allowed},
	{name: "subject attribute index out of range", docs: pubVar("${iot:Certificate.Subject.Organization.2}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/Acme", want: ImplicitDeny, missing: []string{"iot:Certificate.Subject.Organization.2"}},
	{name: "certificate value with a wildcard character is not substituted", docs: pubVar("${iot:Certificate.Subject.OrganizationalUnit.1}"),
		ctx: device("temp-sensor-01"), action: "iot:Publish", resource: arn + "topic/v/Floor#3", want: ImplicitDeny,
		missing: []string{"iot:Certificate.Subject.OrganizationalUnit.1"}},
	{name: "only five certificate values count", docs: pubVar("${iot:Certificate.Subject.Organization.5}"),
		ctx:    withOrgs(device("d"), "o0", "o1", "o2", "o3", "o4", "o5"),
		action: "iot:Publish", resource: arn + "topic/v/o5", want: ImplicitDeny, missing: []string{"iot:Certificate.Subject.Organization.5"}},
	{name: "the fifth certificate value counts", docs: pubVar("${iot:Certificate.Subject.Organization.4}"),
		ctx:    withOrgs(device("d"), "o0", "o1", "o2", "o3", "o4", "o5"),
		action: "iot:Publish", resource: arn + "topic/v/o4", want: Allowed},
	{name: "a .List key is not substituted", docs: pubVar("${iot:Certificate.Subject.Organization.List}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/Acme", want: ImplicitDeny, missing: []string{"iot:Certificate.Subject.Organization.List"}},
	{name: "subject attributes", docs: pubVar("${iot:Certificate.Subject.Country}/${iot:Certificate.Subject.State}/${iot:Certificate.Subject.Title}/${iot:Certificate.Subject.Surname}/${iot:Certificate.Subject.GivenName}/${iot:Certificate.Subject.Initials}/${iot:Certificate.Subject.Pseudonym}/${iot:Certificate.Subject.GenerationQualifier}/${iot:Certificate.Subject.DistinguishedNameQualifier}/${iot:Certificate.Subject.SerialNumber}"),
		ctx: device("d"), action: "iot:Publish", resource: arn + "topic/v/US/WA/Sensor/Smith/Bulb/ZZ/RGB/4/Bulb001/123", want: Allowed},
	{name: "issuer attribute", docs: pubVar("${iot:Certificate.Issuer.CommonName}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/Acme Device CA", want: Allowed},
	{name: "absent issuer attribute", docs: pubVar("${iot:Certificate.Issuer.Country}"), ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/v/US", want: ImplicitDeny, missing: []string{"iot:Certificate.Issuer.Country"}},
	{name: "subject alternative names", docs: pubVar("${iot:Certificate.Subject.AlternativeName.DNSName}/${iot:Certificate.Subject.AlternativeName.IPAddress}/${iot:Certificate.Subject.AlternativeName.RFC822Name}/${iot:Certificate.Subject.AlternativeName.UniformResourceIdentifier}/${iot:Certificate.Subject.AlternativeName.DirectoryName}"),
		ctx: device("d"), action: "iot:Publish", resource: arn + "topic/v/d.devices.example.com/192.0.2.10/d@example.com/urn:acme:d/CN=d,O=Acme", want: Allowed},
	{name: "issuer alternative name", docs: pubVar("${iot:Certificate.Issuer.AlternativeName.DNSName}"), ctx: device("d"),
		action: "iot:Publish", resource: arn + "topic/v/ca.example.com", want: Allowed},
	{name: "certificate serial number", docs: pubVar("${iot:Certificate.SerialNumber}"), ctx: device("d"),
		action: "iot:Publish", resource: arn + "topic/v/10525622389124227206", want: Allowed},
	{name: "available keys is a list", docs: pubVar("${iot:Certificate.AvailableKeys}"), ctx: device("d"),
		action: "iot:Publish", resource: arn + "topic/v/iot:Certificate.Subject.CommonName", want: ImplicitDeny,
		missing: []string{"iot:Certificate.AvailableKeys"}},
	{name: "no certificate", docs: pubVar("${iot:Certificate.Subject.CommonName}"), ctx: bare("d"),
		action: "iot:Publish", resource: arn + "topic/v/d", want: ImplicitDeny, missing: []string{"iot:Certificate.Subject.CommonName"}},
	{name: "source ip", docs: pubVar("${aws:SourceIp}"), ctx: device("d"),
		action: "iot:Publish", resource: arn + "topic/v/192.0.2.10", want: Allowed},
	{name: "unknown variable", docs: pubVar("${iot:Nope}"), ctx: device("d"),
		action: "iot:Publish", resource: arn + "topic/v/x", want: ImplicitDeny, missing: []string{"iot:Nope"}},
	{name: "unclosed variable is text", docs: pubVar("${iot:ClientId"), ctx: device("d"),
		action: "iot:Publish", resource: arn + "topic/v/${iot:ClientId", want: Allowed},

	// Wildcards.
	{name: "? matches one character", docs: []string{"w", wildcardDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/sensors/abcd/data", want: Allowed},
	{name: "? does not match zero characters", docs: []string{"w", wildcardDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/sensors/abc/data", want: ImplicitDeny},
	{name: "? matches a slash", docs: []string{"w", wildcardDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/sensors/a/cd/data", want: Allowed},
	{name: "? matches one character, not one byte", docs: []string{"w", wildcardDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/sensors/äöüß/data", want: Allowed},
	{name: "+ and # are literal in topics", docs: []string{"w", wildcardDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/literal/+/#", want: Allowed},
	{name: "+ and # do not match levels", docs: []string{"w", wildcardDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/literal/x/y", want: ImplicitDeny},
	{name: "+ and # are literal in topic filters", docs: []string{"w", wildcardDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topicfilter/literal/x/#", want: ImplicitDeny},
	{name: "* in the middle", docs: []string{"w", wildcardDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/a/x/bb/b", want: Allowed},
	{name: "* in the middle, anchored end", docs: []string{"w", wildcardDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/a/x/bc", want: ImplicitDeny},
	{name: "the pattern is anchored at the start", docs: []string{"w", wildcardDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: "x" + arn + "topic/abb", want: ImplicitDeny},

	// Special variables.
	{name: "${*} is a literal star", docs: []string{"s", specialDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/star/*", want: Allowed},
	{name: "${*} is not a wildcard", docs: []string{"s", specialDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/star/x", want: ImplicitDeny},
	{name: "${?} is a literal question mark", docs: []string{"s", specialDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/q/?", want: Allowed},
	{name: "${?} is not a wildcard", docs: []string{"s", specialDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/q/x", want: ImplicitDeny},
	{name: "${$} writes a literal ${...}", docs: []string{"s", specialDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/dollar/${iot:ClientId}", want: Allowed},
	{name: "${$} keeps what follows from being a variable", docs: []string{"s", specialDoc}, ctx: bare("c"),
		action: "iot:Publish", resource: arn + "topic/dollar/c", want: ImplicitDeny},

	// Explicit deny wins across policies.
	{name: "deny wins over allow in another policy", docs: []string{"device", devicePolicy, "deny", denyDoc}, ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/devices/temp-sensor-01/secret/key", want: ExplicitDeny},
	{name: "deny does not touch other topics", docs: []string{"device", devicePolicy, "deny", denyDoc}, ctx: device("temp-sensor-01"),
		action: "iot:Publish", resource: arn + "topic/devices/temp-sensor-01/public", want: Allowed},
	{name: "deny alone", docs: []string{"deny", denyDoc}, ctx: device("temp-sensor-01"),
		action: "iot:Receive", resource: arn + "topic/devices/temp-sensor-01/secret", want: ExplicitDeny},
	{name: "deny in the same policy", docs: []string{"p", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:*","Resource":"*"},
		{"Effect":"Deny","Action":"iot:Connect","Resource":"` + arn + `client/admin"}]}`}, ctx: bare("admin"),
		action: "iot:Connect", resource: arn + "client/admin", want: ExplicitDeny},
	{name: "deny with an unresolved variable does not match", docs: []string{"allow", allowDoc("iot:*", "*"),
		"deny", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iot:Publish","Resource":"` + arn + `topic/${iot:Connection.Thing.Attributes[building]}/*"}}`},
		ctx: device("d"), action: "iot:Publish", resource: arn + "topic/hq/x", want: Allowed,
		missing: []string{"iot:Connection.Thing.Attributes[building]"}},

	// Conditions.
	{name: "Bool IsAttached true", docs: []string{"c", condDoc("Allow", `{"Bool":{"iot:Connection.Thing.IsAttached":["true"]}}`)},
		ctx: device("temp-sensor-01"), action: "iot:Connect", resource: arn + "client/temp-sensor-01", want: Allowed},
	{name: "Bool IsAttached, unattached", docs: []string{"c", condDoc("Allow", `{"Bool":{"iot:Connection.Thing.IsAttached":["true"]}}`)},
		ctx: unattached(), action: "iot:Connect", resource: arn + "client/temp-sensor-01", want: ImplicitDeny},
	{name: "Bool IsAttached, no thing", docs: []string{"c", condDoc("Allow", `{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}`)},
		ctx: bare("x"), action: "iot:Connect", resource: arn + "client/x", want: ImplicitDeny},
	{name: "Bool values are case-insensitive and may be JSON booleans", docs: []string{"c", condDoc("Allow", `{"Bool":{"iot:Connection.Thing.IsAttached":true}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "ForAllValues:StringEquals organizations", docs: []string{"c", condDoc("Allow", `{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":["Acme","Acme Labs","Other"]}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "ForAllValues:StringEquals with a foreign organization", docs: []string{"c", condDoc("Allow", `{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":["Acme","Acme Labs"]}}`)},
		ctx: withOrgs(device("d"), "Acme", "Evil"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "ForAllValues holds for an absent key (IAM)", docs: []string{"c", condDoc("Allow", `{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":["Acme"]}}`)},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed,
		missing: []string{"iot:Certificate.Subject.Organization.List"}},
	{name: "ForAnyValue:StringLike denies an organization", docs: []string{"allow", allowDoc("iot:*", "*"),
		"c", condDoc("Deny", `{"ForAnyValue:StringLike":{"iot:Certificate.Subject.Organization.List":"Ev*"}}`)},
		ctx: withOrgs(device("d"), "Acme", "Evil"), action: "iot:Connect", resource: arn + "client/d", want: ExplicitDeny},
	{name: "ForAnyValue fails for an absent key", docs: []string{"c", condDoc("Allow", `{"ForAnyValue:StringEquals":{"iot:Certificate.Subject.Organization.List":"Acme"}}`)},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny,
		missing: []string{"iot:Certificate.Subject.Organization.List"}},
	{name: "ForAnyValue:StringNotEquals", docs: []string{"c", condDoc("Allow", `{"ForAnyValue:StringNotEquals":{"iot:Certificate.Subject.Organization.List":"Acme"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "ForAllValues:StringNotEquals", docs: []string{"c", condDoc("Allow", `{"ForAllValues:StringNotEquals":{"iot:Certificate.Subject.Organization.List":"Acme"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "available keys", docs: []string{"c", condDoc("Allow", `{"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys":"iot:Certificate.Issuer.AlternativeName.DNSName"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "StringEquals with a variable value", docs: []string{"c", condDoc("Allow", `{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "StringEquals with a variable value, different", docs: []string{"c", condDoc("Allow", `{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}`)},
		ctx: withClientID(device("d"), "other"), action: "iot:Connect", resource: arn + "client/other", want: ImplicitDeny},
	{name: "StringEquals with an unresolved variable value", docs: []string{"c", condDoc("Allow", `{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}`)},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny, missing: []string{"iot:Connection.Thing.ThingName"}},
	{name: "StringEquals does not glob", docs: []string{"c", condDoc("Allow", `{"StringEquals":{"iot:ClientId":"d*"}}`)},
		ctx: bare("dx"), action: "iot:Connect", resource: arn + "client/dx", want: ImplicitDeny},
	{name: "StringLike globs", docs: []string{"c", condDoc("Allow", `{"StringLike":{"iot:ClientId":["x","d?"]}}`)},
		ctx: bare("dx"), action: "iot:Connect", resource: arn + "client/dx", want: Allowed},
	{name: "StringNotLike", docs: []string{"c", condDoc("Allow", `{"StringNotLike":{"iot:ClientId":["x","d?"]}}`)},
		ctx: bare("dx"), action: "iot:Connect", resource: arn + "client/dx", want: ImplicitDeny},
	{name: "StringEqualsIgnoreCase", docs: []string{"c", condDoc("Allow", `{"StringEqualsIgnoreCase":{"iot:Connection.Thing.ThingTypeName":"temperaturesensor"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "StringNotEqualsIgnoreCase", docs: []string{"c", condDoc("Allow", `{"StringNotEqualsIgnoreCase":{"iot:Connection.Thing.ThingTypeName":"temperaturesensor"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "StringNotEquals holds for an absent key (IAM)", docs: []string{"c", condDoc("Allow", `{"StringNotEquals":{"iot:Connection.Thing.ThingTypeName":"Camera"}}`)},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed,
		missing: []string{"iot:Connection.Thing.ThingTypeName"}},
	{name: "StringEquals fails for an absent key", docs: []string{"c", condDoc("Allow", `{"StringEquals":{"iot:Connection.Thing.ThingTypeName":"Camera"}}`)},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny,
		missing: []string{"iot:Connection.Thing.ThingTypeName"}},
	{name: "StringLikeIfExists holds for an absent key", docs: []string{"c", condDoc("Allow", `{"StringLikeIfExists":{"iot:Connection.Thing.ThingTypeName":"Temp*"}}`)},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "StringLikeIfExists tests a present key", docs: []string{"c", condDoc("Allow", `{"StringLikeIfExists":{"iot:Connection.Thing.ThingTypeName":"Cam*"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "condition keys are case-insensitive", docs: []string{"c", condDoc("Allow", `{"StringEquals":{"IOT:CLIENTID":"d"}}`)},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "all condition blocks must hold", docs: []string{"c", condDoc("Allow", `{"StringEquals":{"iot:ClientId":"d"},"Bool":{"iot:Connection.Thing.IsAttached":"true"}}`)},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "IpAddress", docs: []string{"c", condDoc("Allow", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.0/24"]}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "IpAddress single address", docs: []string{"c", condDoc("Allow", `{"IpAddress":{"aws:SourceIp":"192.0.2.11"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "NotIpAddress", docs: []string{"c", condDoc("Deny", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`), "a", allowDoc("iot:Connect", "*")},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: ExplicitDeny},
	{name: "NumericLessThan on an attribute", docs: []string{"c", condDoc("Allow", `{"NumericLessThan":{"iot:Connection.Thing.Attributes[floor]":5}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "NumericGreaterThanEquals", docs: []string{"c", condDoc("Allow", `{"NumericGreaterThanEquals":{"iot:Connection.Thing.Attributes[floor]":"3.5"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "NumericEquals", docs: []string{"c", condDoc("Allow", `{"NumericEquals":{"iot:Connection.Thing.Attributes[floor]":"3.0"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "NumericNotEquals on a non-number", docs: []string{"c", condDoc("Allow", `{"NumericNotEquals":{"iot:Connection.Thing.Attributes[location]":"3"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "DateLessThan current time", docs: []string{"c", condDoc("Allow", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "DateGreaterThan epoch", docs: []string{"c", condDoc("Allow", `{"DateGreaterThan":{"aws:EpochTime":1800000000}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "DateEquals mixes forms", docs: []string{"c", condDoc("Allow", `{"DateEquals":{"aws:CurrentTime":"1748779200"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "Null true for an absent key", docs: []string{"c", condDoc("Allow", `{"Null":{"iot:Certificate.Subject.CommonName":"true"}}`)},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "Null false for a present key", docs: []string{"c", condDoc("Allow", `{"Null":{"iot:Certificate.Subject.CommonName":false}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "Null false for an absent key", docs: []string{"c", condDoc("Allow", `{"Null":{"iot:Certificate.Subject.CommonName":"false"}}`)},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "ArnLike on an attribute", docs: []string{"c", condDoc("Allow", `{"ArnLike":{"iot:Connection.Thing.Attributes[arn]":"arn:aws:iot:*:123456789012:thing/${iot:ClientId}"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},
	{name: "ArnLike wildcards stay within a part", docs: []string{"c", condDoc("Allow", `{"ArnLike":{"iot:Connection.Thing.Attributes[arn]":"arn:aws:*:thing/d"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "ArnNotEquals", docs: []string{"c", condDoc("Allow", `{"ArnNotEquals":{"iot:Connection.Thing.Attributes[arn]":"arn:aws:iot:us-east-1:123456789012:thing/other"}}`)},
		ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: Allowed},

	// Version 2008-10-17 (or none) substitutes nothing.
	{name: "2008 does not substitute", docs: []string{"old", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn + `client/${iot:ClientId}"}}`},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "2008 matches the text as written", docs: []string{"old", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn + `client/${iot:ClientId}"}}`},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/${iot:ClientId}", want: Allowed},
	{name: "no Version does not substitute", docs: []string{"old", `{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn + `client/${iot:ClientId}"}}`},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
	{name: "2008 ${*} is text with a wildcard", docs: []string{"old", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn + `client/${*}"}}`},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/${anything}", want: Allowed},
	{name: "2008 condition values are not substituted", docs: []string{"old", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":"${iot:ClientId}"}}}}`},
		ctx: bare("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},

	// No policies.
	{name: "no policies", ctx: device("d"), action: "iot:Connect", resource: arn + "client/d", want: ImplicitDeny},
}

func TestEvaluate(t *testing.T) {
	for _, c := range evalCases {
		t.Run(c.name, func(t *testing.T) {
			pols := mustParse(t, c.docs...)
			r := Evaluate(pols, c.ctx, c.action, c.resource)
			if r.Decision != c.want {
				t.Errorf("Evaluate(%s, %s) = %v, want %v (%+v)", c.action, c.resource, r.Decision, c.want, r)
			}
			if diff := cmp.Diff(c.missing, r.MissingContextValues); diff != "" {
				t.Errorf("Evaluate(%s, %s) missing context values (-want +got):\n%s", c.action, c.resource, diff)
			}
			if n := len(r.Allowed) + len(r.ExplicitDeny) + len(r.ImplicitDeny); n != len(pols) {
				t.Errorf("Evaluate reports %d policies, want %d: %+v", n, len(pols), r)
			}
		})
	}
}

func TestEvaluateReportsPolicies(t *testing.T) {
	pols := mustParse(t,
		"device", devicePolicy,
		"deny", denyDoc,
		"admin", allowDoc("iot:*", "*"),
		"unrelated", allowDoc("iot:Connect", arn+"client/${iot:Connection.Thing.Attributes[building]}"),
	)
	pols = append(pols, Named{Name: "empty"})
	tests := []struct {
		resource string
		want     Result
	}{
		{arn + "topic/devices/temp-sensor-01/secret", Result{
			Decision:     ExplicitDeny,
			Allowed:      []string{"device", "admin"},
			ExplicitDeny: []string{"deny"},
			ImplicitDeny: []string{"unrelated", "empty"},
		}},
		{arn + "topic/devices/temp-sensor-01/public", Result{
			Decision:     Allowed,
			Allowed:      []string{"device", "admin"},
			ImplicitDeny: []string{"deny", "unrelated", "empty"},
		}},
		{arn + "topic/elsewhere", Result{
			Decision:     Allowed,
			Allowed:      []string{"admin"},
			ImplicitDeny: []string{"device", "deny", "unrelated", "empty"},
		}},
	}
	for _, tt := range tests {
		got := Evaluate(pols, device("temp-sensor-01"), "iot:Publish", tt.resource)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Evaluate(iot:Publish, %s) (-want +got):\n%s", tt.resource, diff)
		}
	}
	got := Evaluate(pols[3:4], device("temp-sensor-01"), "iot:Connect", arn+"client/temp-sensor-01")
	want := Result{ImplicitDeny: []string{"unrelated"}, MissingContextValues: []string{"iot:Connection.Thing.Attributes[building]"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate(iot:Connect) (-want +got):\n%s", diff)
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{Allowed: "ALLOWED", ExplicitDeny: "EXPLICIT_DENY", ImplicitDeny: "IMPLICIT_DENY"} {
		if got := d.String(); got != want {
			t.Errorf("Decision(%d).String() = %q, want %q", d, got, want)
		}
	}
}

func TestKeys(t *testing.T) {
	pols := mustParse(t, "p", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"`+arn+`client/${iot:ClientId}",
		 "Condition":{"StringEquals":{"iot:Connection.Thing.ThingName":"${iot:ClientId}-${iot:Certificate.Subject.CommonName}"}}},
		{"Effect":"Allow","Action":"iot:Publish","Resource":"`+arn+`topic/${iot:Connection.Thing.Attributes[a]}/${*}"}]}`)
	want := []string{"iot:ClientId", "iot:Connection.Thing.ThingName", "iot:Certificate.Subject.CommonName", "iot:Connection.Thing.Attributes[a]"}
	if diff := cmp.Diff(want, pols[0].Doc.Keys()); diff != "" {
		t.Errorf("Keys() (-want +got):\n%s", diff)
	}
}
