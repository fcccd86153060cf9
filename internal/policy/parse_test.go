package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want *Document
	}{
		{
			name: "statement object, strings",
			doc:  `{"Version":"2012-10-17","Statement":{"Sid":"s1","Effect":"Allow","Action":"iot:Connect","Resource":"*"}}`,
			want: &Document{Version: Version2012, Statements: []Statement{
				{Sid: "s1", Effect: Allow, Actions: []string{"iot:Connect"}, Resources: []string{"*"}},
			}},
		},
		{
			name: "statement array, lists, Id",
			doc: `{"Version":"2008-10-17","Id":"p1","Statement":[
				{"Effect":"Deny","Action":["iot:Publish","iot:Receive"],"Resource":["arn:aws:iot:us-east-1:1:topic/a","arn:aws:iot:us-east-1:1:topic/b"]},
				{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
			want: &Document{Version: Version2008, ID: "p1", Statements: []Statement{
				{Effect: Deny, Actions: []string{"iot:Publish", "iot:Receive"}, Resources: []string{"arn:aws:iot:us-east-1:1:topic/a", "arn:aws:iot:us-east-1:1:topic/b"}},
				{Effect: Allow, Actions: []string{"*"}, Resources: []string{"*"}},
			}},
		},
		{
			name: "no Version",
			doc:  `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`,
			want: &Document{Statements: []Statement{{Effect: Allow, Actions: []string{"iot:*"}, Resources: []string{"*"}}}},
		},
		{
			name: "condition values normalised to strings, in document order",
			doc: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{
				"NumericLessThan":{"iot:Connection.Thing.Attributes[n]":1.50},
				"Bool":{"iot:Connection.Thing.IsAttached":true},
				"ForAnyValue:StringLike":{"iot:Certificate.Subject.Organization.List":["a*",2,false]},
				"StringEqualsIfExists":{"iot:ClientId":"c","aws:SourceIp":"1.2.3.4"}}}}`,
			want: &Document{Version: Version2012, Statements: []Statement{{Effect: Allow, Actions: []string{"iot:Connect"}, Resources: []string{"*"},
				Conditions: []Condition{
					{Operator: "NumericLessThan", Key: "iot:Connection.Thing.Attributes[n]", Values: []string{"1.50"}},
					{Operator: "Bool", Key: "iot:Connection.Thing.IsAttached", Values: []string{"true"}},
					{Operator: "ForAnyValue:StringLike", Key: "iot:Certificate.Subject.Organization.List", Values: []string{"a*", "2", "false"}},
					{Operator: "StringEqualsIfExists", Key: "iot:ClientId", Values: []string{"c"}},
					{Operator: "StringEqualsIfExists", Key: "aws:SourceIp", Values: []string{"1.2.3.4"}},
				}}}},
		},
		{
			name: "empty condition",
			doc:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{}}}`,
			want: &Document{Version: Version2012, Statements: []Statement{{Effect: Allow, Actions: []string{"iot:Connect"}, Resources: []string{"*"}}}},
		},
		{
			name: "operators are case-insensitive",
			doc:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"forallvalues:stringequalsifexists":{"iot:ClientId":"c"}}}}`,
			want: &Document{Version: Version2012, Statements: []Statement{{Effect: Allow, Actions: []string{"iot:Connect"}, Resources: []string{"*"},
				Conditions: []Condition{{Operator: "forallvalues:stringequalsifexists", Key: "iot:ClientId", Values: []string{"c"}}}}}},
		},
		{
			name: "the seed device policy",
			doc:  devicePolicy,
			want: &Document{Version: Version2012, Statements: []Statement{
				{Effect: Allow, Actions: []string{"iot:Connect"}, Resources: []string{arn + "client/${iot:Connection.Thing.ThingName}"}},
				{Effect: Allow, Actions: []string{"iot:Publish", "iot:Receive"}, Resources: []string{
					arn + "topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*", arn + "topic/devices/${iot:Connection.Thing.ThingName}/*"}},
				{Effect: Allow, Actions: []string{"iot:Subscribe"}, Resources: []string{
					arn + "topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*", arn + "topicfilter/devices/${iot:Connection.Thing.ThingName}/*"}},
			}},
		},
	}
	opts := cmp.Options{
		cmpopts.IgnoreUnexported(Document{}, Statement{}, Condition{}),
		cmpopts.EquateEmpty(),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse() = %v", err)
			}
			if diff := cmp.Diff(tt.want, got, opts); diff != "" {
				t.Errorf("Parse() (-want +got):\n%s", diff)
			}
		})
	}
}

// parseErrorCases are documents Parse refuses, with a part of the message.
var parseErrorCases = []struct {
	name, doc, msg string
}{
	{"empty", ``, "unexpected end"},
	{"not JSON", `Version: 2012`, "invalid JSON"},
	{"truncated", `{"Version":"2012-10-17","Statement":[`, "unexpected end"},
	{"trailing data", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}} {}`, "unexpected data after"},
	{"array document", `[]`, "must be a JSON object, not an array"},
	{"string document", `"policy"`, "must be a JSON object, not a string"},
	{"duplicate key", `{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"iot:*","Resource":"*"}}`, `duplicate key "Effect"`},
	{"bad version", `{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`, `Version: "2012-10-18" is not a policy language version`},
	{"version not a string", `{"Version":2012,"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`, "Version: must be a string, not a number"},
	{"unknown top-level element", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"},"Foo":1}`, `unknown element "Foo"`},
	{"no statement", `{"Version":"2012-10-17"}`, "has no Statement"},
	{"empty statement list", `{"Version":"2012-10-17","Statement":[]}`, "Statement: must not be empty"},
	{"statement is a string", `{"Statement":"x"}`, "Statement: must be an object or an array of objects, not a string"},
	{"statement element is a string", `{"Statement":["x"]}`, "Statement[0]: must be an object, not a string"},
	{"missing effect", `{"Statement":[{"Action":"iot:*","Resource":"*"}]}`, "Statement[0]: missing Effect"},
	{"missing action", `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`, "Statement[0]: missing Action"},
	{"missing resource", `{"Statement":[{"Effect":"Allow","Action":"iot:*"}]}`, "Statement[0]: missing Resource"},
	{"lower-case effect", `{"Statement":[{"Effect":"allow","Action":"iot:*","Resource":"*"}]}`, `Statement[0].Effect: "allow" is not an effect`},
	{"effect not a string", `{"Statement":[{"Effect":true,"Action":"iot:*","Resource":"*"}]}`, "Statement[0].Effect: must be a string, not a boolean"},
	{"empty action", `{"Statement":[{"Effect":"Allow","Action":"","Resource":"*"}]}`, "Statement[0].Action: must not be empty"},
	{"empty action list", `{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}`, "Statement[0].Action: must not be an empty list"},
	{"action not a string", `{"Statement":[{"Effect":"Allow","Action":[1],"Resource":"*"}]}`, "Statement[0].Action[0]: must be a string, not a number"},
	{"action without service", `{"Statement":[{"Effect":"Allow","Action":"Publish","Resource":"*"}]}`, `Statement[0].Action[0]: "Publish" is not an action`},
	{"action with space", `{"Statement":[{"Effect":"Allow","Action":"iot:Pub lish","Resource":"*"}]}`, `"iot:Pub lish" is not an action`},
	{"action object", `{"Statement":[{"Effect":"Allow","Action":{},"Resource":"*"}]}`, "Statement[0].Action: must be a string or a list of strings, not an object"},
	{"resource not an ARN", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"topic/x"}]}`, `Statement[0].Resource[0]: "topic/x" is not a resource`},
	{"empty resource list", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":[]}]}`, "Statement[0].Resource: must not be an empty list"},
	{"null resource", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":null}]}`, "Statement[0].Resource: must be a string or a list of strings, not null"},
	{"NotAction", `{"Statement":[{"Effect":"Allow","NotAction":"iot:*","Resource":"*"}]}`, "Statement[0].NotAction: NotAction is not supported"},
	{"Principal", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"iot:*","Resource":"*"}]}`, "Statement[0].Principal: Principal is not supported"},
	{"unknown statement element", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Actions":"x"}]}`, `Statement[0]: unknown element "Actions"`},
	{"element names are case-sensitive", `{"Statement":[{"effect":"Allow","Action":"iot:*","Resource":"*"}]}`, `unknown element "effect"`},
	{"condition not an object", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":[]}]}`, "Statement[0].Condition: must be an object of condition operators, not an array"},
	{"unknown operator", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringSortOf":{"iot:ClientId":"x"}}}]}`, `Statement[0].Condition.StringSortOf: "StringSortOf" is not a condition operator`},
	{"unsupported operator", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"BinaryEquals":{"iot:ClientId":"eA=="}}}]}`, `"BinaryEquals" is not a condition operator`},
	{"unknown qualifier", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"iot:ClientId":"x"}}}]}`, "is not a condition operator"},
	{"NullIfExists", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"NullIfExists":{"iot:ClientId":"true"}}}]}`, `"NullIfExists" is not a condition operator`},
	{"qualified Null", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"ForAnyValue:Null":{"iot:ClientId":"true"}}}]}`, "Null takes no ForAnyValue or ForAllValues qualifier"},
	{"bare IfExists", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"IfExists":{"iot:ClientId":"x"}}}]}`, `"IfExists" is not a condition operator`},
	{"operator block not an object", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":"x"}}]}`, "Condition.StringEquals: must be an object of condition keys, not a string"},
	{"condition key without vendor", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"ClientId":"x"}}}]}`, `Condition.StringEquals.ClientId: "ClientId" is not a condition key`},
	{"null condition value", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":null}}}]}`, "a condition value must be a string, number or boolean, not null"},
	{"nested condition value", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":[["x"]]}}}]}`, "iot:ClientId[0]: a condition value must be a string, number or boolean, not an array"},
	{"too deep", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":[[[[[["x"]]]]]]}}}]}`, "nested more than"},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, want an error containing %q", tt.doc, d, tt.msg)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%s) error %T %v, want *Error", tt.doc, err, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Parse(%s) = %q, want it to contain %q", tt.doc, err, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "Policy document is malformed: ") {
				t.Errorf("Parse(%s) = %q, want the AWS-style prefix", tt.doc, err)
			}
		})
	}
}

// sizedDoc returns a valid document of exactly n characters excluding
// whitespace, padded with whitespace (outside strings) to several times that.
func sizedDoc(t *testing.T, n int) []byte {
	t.Helper()
	head := "{\n\t\"Version\" : \"2012-10-17\",\n  \"Statement\" : {\r\n \"Sid\" : \""
	tail := "\",\n    \"Effect\" : \"Allow\" ,\n \"Action\" : [ \"iot:Connect\" ] ,\n \"Resource\" : \"*\"\n }\n}\n"
	fixed := Size([]byte(head + tail))
	if n < fixed {
		t.Fatalf("sizedDoc(%d): the skeleton alone has %d characters", n, fixed)
	}
	doc := head + strings.Repeat("s", n-fixed) + tail
	doc = strings.ReplaceAll(doc, ",", strings.Repeat(" ", 500)+","+strings.Repeat("\n", 500))
	if got := Size([]byte(doc)); got != n {
		t.Fatalf("sizedDoc(%d) has size %d", n, got)
	}
	return []byte(doc)
}

func TestParseSizeLimit(t *testing.T) {
	doc := sizedDoc(t, MaxSize)
	if len(doc) < 2*MaxSize {
		t.Fatalf("test document is only %d bytes; want lots of whitespace", len(doc))
	}
	if _, err := Parse(doc); err != nil {
		t.Errorf("Parse(%d characters excluding whitespace) = %v, want success", MaxSize, err)
	}
	_, err := Parse(sizedDoc(t, MaxSize+1))
	const want = "the document has 2049 characters excluding whitespace; the maximum is 2048"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Parse(%d characters excluding whitespace) = %v, want %q", MaxSize+1, err, want)
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{" \t\r\n", 0},
		{`{"a": "b c"}`, 10},
		{"é€", 2},      // characters, not bytes
		{"\u00a0x", 1}, // Unicode spaces are whitespace
		{"\xff\xfe", 2},
	}
	for _, tt := range tests {
		if got := Size([]byte(tt.in)); got != tt.want {
			t.Errorf("Size(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
