package policy

import (
	"strings"
	"testing"
	"time"
)

// arn is the ARN prefix of the test account.
const arn = "arn:aws:iot:us-east-1:123456789012:"

// devicePolicy is the seed stack's least-privilege device policy.
const devicePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "iot:Connect",
      "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"
    },
    {
      "Effect": "Allow",
      "Action": ["iot:Publish", "iot:Receive"],
      "Resource": [
        "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
        "arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/*"
      ]
    },
    {
      "Effect": "Allow",
      "Action": "iot:Subscribe",
      "Resource": [
        "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
        "arn:aws:iot:us-east-1:123456789012:topicfilter/devices/${iot:Connection.Thing.ThingName}/*"
      ]
    }
  ]
}`

// allowDoc is a 2012-10-17 document with one Allow statement.
func allowDoc(action, resource string) string {
	return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"}}`
}

// condDoc is a 2012-10-17 document allowing iot:Connect on every client
// under one condition block.
func condDoc(effect, condition string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"` + effect + `","Action":"iot:Connect","Resource":"` + arn + `client/*","Condition":` + condition + `}]}`
}

// denyDoc denies every iot action on the secret topics of temp-sensor-01.
const denyDoc = `{"Version":"2012-10-17","Statement":[{"Sid":"NoSecrets","Effect":"Deny","Action":"iot:*","Resource":"` + arn + `topic/devices/temp-sensor-01/secret*"}]}`

const wildcardDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Publish"],"Resource":[
  "` + arn + `topic/sensors/????/data",
  "` + arn + `topic/literal/+/#",
  "` + arn + `topicfilter/literal/+/#",
  "` + arn + `topic/a*b"]}]}`

const specialDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":[
  "` + arn + `topic/star/${*}",
  "` + arn + `topic/q/${?}",
  "` + arn + `topic/dollar/${$}{iot:ClientId}"]}]}`

func fixedTime() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

// device returns the context of a certificate-authenticated device whose
// client id names a thing attached to its certificate.
func device(name string) Context {
	return Context{
		ClientID: name,
		SourceIP: "192.0.2.10",
		Thing: &Thing{
			Name:       name,
			TypeName:   "TemperatureSensor",
			Attributes: map[string]string{"location": "lab", "floor": "3", "zone": "a#b", "arn": arn + "thing/" + name},
			IsAttached: true,
		},
		Certificate: &CertInfo{
			SerialNumber: "10525622389124227206",
			Subject: map[string][]string{
				"CommonName":                 {name},
				"Organization":               {"Acme", "Acme Labs"},
				"OrganizationalUnit":         {"Sensors", "Floor#3"},
				"Country":                    {"US"},
				"State":                      {"WA"},
				"Title":                      {"Sensor"},
				"Surname":                    {"Smith"},
				"GivenName":                  {"Bulb"},
				"Initials":                   {"ZZ"},
				"Pseudonym":                  {"RGB"},
				"GenerationQualifier":        {"4"},
				"DistinguishedNameQualifier": {"Bulb001"},
				"SerialNumber":               {"123"},
			},
			Issuer: map[string][]string{
				"CommonName":   {"Acme Device CA"},
				"Organization": {"Acme"},
			},
			SubjectAltNames: map[string][]string{
				"DNSName":                   {name + ".devices.example.com"},
				"IPAddress":                 {"192.0.2.10"},
				"RFC822Name":                {name + "@example.com"},
				"UniformResourceIdentifier": {"urn:acme:" + name},
				"DirectoryName":             {"CN=" + name + ",O=Acme"},
			},
			IssuerAltNames: map[string][]string{
				"DNSName": {"ca.example.com"},
			},
		},
		Time: fixedTime(),
	}
}

// unattached is temp-sensor-01 connecting with a certificate its thing is
// not attached to.
func unattached() Context {
	c := device("temp-sensor-01")
	c.Thing.IsAttached = false
	return c
}

// bare is a connection with a client id only: no thing, no certificate.
func bare(clientID string) Context {
	return Context{ClientID: clientID}
}

func withOrgs(c Context, orgs ...string) Context {
	ci := *c.Certificate
	ci.Subject = map[string][]string{}
	for k, v := range c.Certificate.Subject {
		ci.Subject[k] = v
	}
	ci.Subject["Organization"] = orgs
	c.Certificate = &ci
	return c
}

func withClientID(c Context, id string) Context {
	c.ClientID = id
	return c
}

// mustParse parses the documents named name=doc, in order.
func mustParse(t testing.TB, docs ...string) []Named {
	t.Helper()
	var out []Named
	for i := 0; i+1 < len(docs); i += 2 {
		d, err := Parse([]byte(docs[i+1]))
		if err != nil {
			t.Fatalf("Parse(%s) = %v", docs[i], err)
		}
		out = append(out, Named{Name: docs[i], Doc: d})
	}
	return out
}

func long(n int) string { return strings.Repeat("x", n) }
