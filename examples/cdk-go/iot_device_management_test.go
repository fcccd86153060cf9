package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"go.yaml.in/yaml/v3"
)

// synth builds the stack in a new app with the given context and returns its
// template.
func synth(t *testing.T, context map[string]any) assertions.Template {
	t.Helper()
	app := awscdk.NewApp(&awscdk.AppProps{Context: &context})
	stack := NewIoTDeviceManagementStack(app, StackName, &awscdk.StackProps{})
	return assertions.Template_FromStack(stack, nil)
}

// check runs an assertion; the jsii runtime reports a failed assertion as a
// panic, which would end the whole test binary.
func check(t *testing.T, what string, assert func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assert()
}

func subOf(s string) map[string]any { return map[string]any{"Fn::Sub": s} }

var (
	refEnv = map[string]any{"Ref": "env"}
	tags   = []any{
		map[string]any{"Key": "Application", "Value": "IoTDeviceManagement"},
		map[string]any{"Key": "Environment", "Value": refEnv},
	}
)

func TestResources(t *testing.T) {
	tmpl := synth(t, nil)
	for typ, n := range map[string]float64{
		"AWS::IoT::ThingType":        1,
		"AWS::IoT::ThingGroup":       7,
		"AWS::IoT::Policy":           1,
		"AWS::IoT::FleetMetric":      2,
		"AWS::IoT::Thing":            5,
		"AWS::Logs::LogGroup":        1,
		"AWS::CloudWatch::Alarm":     1,
		"AWS::CloudWatch::Dashboard": 1,
	} {
		check(t, typ, func() { tmpl.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
	}

	check(t, "env parameter", func() {
		tmpl.HasParameter(jsii.String("env"), map[string]any{"Type": "String", "Default": "development"})
	})
	check(t, "thing type", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IoT::ThingType"), map[string]any{
			"ThingTypeName":       subOf("SensorDevice-${AWS::StackName}"),
			"ThingTypeProperties": map[string]any{"SearchableAttributes": []any{"location", "firmware"}},
			"Tags":                tags,
		})
	})
	check(t, "static group", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IoT::ThingGroup"), map[string]any{
			"ThingGroupName": subOf("ProductionSensors-${AWS::StackName}"),
			"QueryString":    assertions.Match_Absent(),
			"ThingGroupProperties": map[string]any{
				"AttributePayload": map[string]any{"Attributes": map[string]any{"environment": refEnv}},
			},
		})
	})
	for _, g := range dynamicGroups {
		check(t, "dynamic group "+g.id, func() {
			tmpl.HasResourceProperties(jsii.String("AWS::IoT::ThingGroup"), map[string]any{
				"ThingGroupName": subOf(g.name + "-${AWS::StackName}"),
				"QueryString":    g.query,
			})
		})
	}

	arn := "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:"
	thing := "${!iot:Connection.Thing.ThingName}"
	check(t, "device policy", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IoT::Policy"), map[string]any{
			"PolicyName": subOf("device-policy-${AWS::StackName}"),
			"PolicyDocument": map[string]any{
				"Version": "2012-10-17",
				"Statement": []any{
					map[string]any{"Effect": "Allow", "Action": "iot:Connect", "Resource": subOf(arn + "client/" + thing)},
					map[string]any{"Effect": "Allow", "Action": []any{"iot:Publish", "iot:Receive"}, "Resource": []any{
						subOf(arn + "topic/$aws/things/" + thing + "/shadow/*"),
						subOf(arn + "topic/devices/" + thing + "/*"),
					}},
					map[string]any{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": []any{
						subOf(arn + "topicfilter/$aws/things/" + thing + "/shadow/*"),
						subOf(arn + "topicfilter/devices/" + thing + "/*"),
					}},
				},
			},
		})
	})

	check(t, "connected devices metric", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IoT::FleetMetric"), map[string]any{
			"MetricName":       subOf("ConnectedDevices-${AWS::StackName}"),
			"QueryString":      "connectivity.connected:true",
			"AggregationType":  map[string]any{"Name": "Statistics", "Values": []any{"count"}},
			"AggregationField": "registry.version",
			"Period":           300,
		})
	})
	check(t, "firmware metric", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IoT::FleetMetric"), map[string]any{
			"MetricName":       subOf("LatestFirmwareDevices-${AWS::StackName}"),
			"QueryString":      "attributes.firmware:1.2.0",
			"AggregationType":  map[string]any{"Name": "Statistics", "Values": []any{"count"}},
			"AggregationField": "registry.version",
		})
	})
	check(t, "log group", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{
			"LogGroupName":    subOf("/aws/iot/device-management/${AWS::StackName}"),
			"RetentionInDays": 30,
		})
	})
	for _, d := range sampleDevices {
		check(t, "thing "+d.name, func() {
			tmpl.HasResourceProperties(jsii.String("AWS::IoT::Thing"), map[string]any{
				"ThingName": d.name,
				"AttributePayload": map[string]any{"Attributes": map[string]any{
					"location": d.location, "firmware": d.firmware, "sensorType": d.sensorType,
				}},
			})
		})
	}
	check(t, "alarm", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Namespace":          "IoTFleetMetrics",
			"MetricName":         map[string]any{"Ref": "ConnectedDevicesMetric"},
			"Dimensions":         []any{map[string]any{"Name": "AggregationType", "Value": "count"}},
			"Threshold":          10,
			"EvaluationPeriods":  2,
			"ComparisonOperator": "LessThanThreshold",
		})
	})

	// The dashboard body is JSON once Fn::Sub has run, and its metric names
	// are the Refs of resources that exist.
	dashboards := tmpl.FindResources(jsii.String("AWS::CloudWatch::Dashboard"), nil)
	for id, r := range *dashboards {
		body := (*r)["Properties"].(map[string]any)["DashboardBody"].(map[string]any)["Fn::Sub"].(string)
		resolved := strings.NewReplacer("${AWS::Region}", "us-east-1",
			"${ConnectedDevicesMetric}", "ConnectedDevices-x", "${LatestFirmwareMetric}", "LatestFirmwareDevices-x").Replace(body)
		var doc struct {
			Widgets []struct {
				Properties struct {
					Title   string
					Metrics [][]string
				}
			}
		}
		if err := json.Unmarshal([]byte(resolved), &doc); err != nil || strings.Contains(resolved, "${") {
			t.Fatalf("dashboard %s: body is not JSON after Fn::Sub (%v):\n%s", id, err, resolved)
		}
		if len(doc.Widgets) == 0 || doc.Widgets[0].Properties.Title != "Connected Devices" ||
			!reflect.DeepEqual(doc.Widgets[0].Properties.Metrics, [][]string{{"IoTFleetMetrics", "ConnectedDevices-x", "AggregationType", "count"}}) {
			t.Errorf("dashboard %s: first widget %+v", id, doc.Widgets)
		}
	}
}

func TestOutputs(t *testing.T) {
	tmpl := synth(t, nil)
	refs := map[string]string{
		"ThingTypeName":              "SensorThingType",
		"ThingGroupName":             "ProductionSensorsGroup",
		"IoTPolicyName":              "DevicePolicy",
		"LegacyFirmwareGroupName":    "LegacyFirmwareGroup",
		"LatestFirmwareGroupName":    "LatestFirmwareGroup",
		"BuildingAGroupName":         "BuildingAGroup",
		"BuildingBGroupName":         "BuildingBGroup",
		"BuildingCGroupName":         "BuildingCGroup",
		"BuildingDGroupName":         "BuildingDGroup",
		"ConnectedDevicesMetricName": "ConnectedDevicesMetric",
		"LatestFirmwareMetricName":   "LatestFirmwareMetric",
		"LogGroupName":               "DeviceLogGroup",
		"AlarmName":                  "DisconnectedDevicesAlarm",
		"DashboardName":              "FleetDashboard",
	}
	for key, ref := range refs {
		check(t, "output "+key, func() {
			tmpl.HasOutput(jsii.String(key), map[string]any{
				"Value":       map[string]any{"Ref": ref},
				"Description": assertions.Match_AnyValue(),
			})
		})
	}
	check(t, "export", func() {
		tmpl.HasOutput(jsii.String("ThingTypeName"), map[string]any{
			"Export": map[string]any{"Name": subOf("${AWS::StackName}-ThingTypeName")},
		})
	})
	outputs := tmpl.FindOutputs(jsii.String("*"), nil)
	if len(*outputs) != len(refs) {
		t.Errorf("%d outputs, want %d", len(*outputs), len(refs))
	}
}

func TestContext(t *testing.T) {
	tmpl := synth(t, map[string]any{"environmentName": "production", "sampleThingPrefix": "cdk-"})
	check(t, "env default from context", func() {
		tmpl.HasParameter(jsii.String("env"), map[string]any{"Default": "production"})
	})
	check(t, "prefixed thing", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IoT::Thing"), map[string]any{"ThingName": "cdk-temp-sensor-01"})
	})
	check(t, "no unprefixed thing", func() {
		tmpl.ResourcePropertiesCountIs(jsii.String("AWS::IoT::Thing"), map[string]any{"ThingName": "temp-sensor-01"}, jsii.Number(0))
	})
}

// TestSameAsTemplate holds this app to stacks/iot-device-management.yaml:
// the same parameter, resources and outputs, apart from what CDK adds (its
// metadata and bootstrap-version check).
func TestSameAsTemplate(t *testing.T) {
	const path = "../../stacks/iot-device-management.yaml"
	src, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("%s not found (example used outside the iotdm repository)", path)
	} else if err != nil {
		t.Fatal(err)
	}
	var node yaml.Node
	if err := yaml.Unmarshal(src, &node); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	want, err := cfnValue(&node)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	got := map[string]any(*synth(t, nil).ToJSON())
	for _, r := range got["Resources"].(map[string]any) {
		delete(r.(map[string]any), "Metadata")
	}
	delete(got["Resources"].(map[string]any), "CDKMetadata")
	delete(got["Parameters"].(map[string]any), "BootstrapVersion")
	delete(got, "Rules")
	delete(got, "Conditions")
	delete(want.(map[string]any), "AWSTemplateFormatVersion")
	gotJSON, wantJSON := normalize(t, got), normalize(t, want)
	for _, section := range []string{"Description", "Parameters", "Resources", "Outputs"} {
		g, w := gotJSON[section], wantJSON[section]
		if gm, ok := g.(map[string]any); ok {
			wm, _ := w.(map[string]any)
			for _, k := range union(gm, wm) {
				if !reflect.DeepEqual(gm[k], wm[k]) {
					t.Errorf("%s.%s differs:\n CDK:  %s\n YAML: %s", section, k, compact(gm[k]), compact(wm[k]))
				}
			}
		} else if !reflect.DeepEqual(g, w) {
			t.Errorf("%s differs:\n CDK:  %v\n YAML: %v", section, g, w)
		}
	}
	if len(gotJSON) != len(wantJSON) {
		t.Errorf("sections: CDK %v, YAML %v", keys(gotJSON), keys(wantJSON))
	}
}

// cfnValue decodes a YAML CloudFormation template, turning the short forms
// (!Ref x, !Sub s, !GetAtt a.b, !Join [...], ...) into their JSON forms.
func cfnValue(n *yaml.Node) (any, error) {
	if n.Kind == yaml.DocumentNode {
		return cfnValue(n.Content[0])
	}
	custom := strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!")
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			x, err := cfnValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = x
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			x, err := cfnValue(c)
			if err != nil {
				return nil, err
			}
			l = append(l, x)
		}
		v = l
	case yaml.ScalarNode:
		if custom {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	switch tag := strings.TrimPrefix(n.Tag, "!"); {
	case !custom:
		return v, nil
	case tag == "Ref" || tag == "Condition":
		return map[string]any{tag: v}, nil
	case tag == "GetAtt" && n.Kind == yaml.ScalarNode:
		res, attr, _ := strings.Cut(n.Value, ".")
		return map[string]any{"Fn::GetAtt": []any{res, attr}}, nil
	default:
		return map[string]any{"Fn::" + tag: v}, nil
	}
}

// normalize round-trips v through JSON so that numbers and maps compare
// alike whatever decoded them.
func normalize(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func union(a, b map[string]any) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	return keys(set)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
