// Command iot-device-management is IoTDeviceManagementStack as an AWS CDK app
// in Go: the same resources, names and outputs as the CloudFormation template
// stacks/iot-device-management.yaml, built from L1 (Cfn*) constructs.
//
//	npx cdk synth                          # cdk.out/IoTDeviceManagementStack.template.json
//	npx cdk deploy --parameters env=production
//	iotdm stack deploy -f cdk.out/IoTDeviceManagementStack.template.json
//
// Context values (cdk.json or -c key=value):
//
//	environmentName    default of the env parameter (default "development")
//	sampleThingPrefix  prefix of the sample things' names (default none), so
//	                   that two copies of the stack can share an account
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiot"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StackName is the name the original CDK app gave its stack.
const StackName = "IoTDeviceManagementStack"

// sampleDevice is one demo thing.
type sampleDevice struct {
	id, name, location, firmware, sensorType string
}

// sampleDevices are the demo things. Without a thing type a thing carries at
// most 3 attributes (CloudFormation cannot give AWS::IoT::Thing a type).
var sampleDevices = []sampleDevice{
	{"TempSensor01", "temp-sensor-01", "Building-A", "1.0.0", "temperature"},
	{"TempSensor02", "temp-sensor-02", "Building-B", "1.1.0", "temperature"},
	{"TempSensor03", "temp-sensor-03", "Building-C", "1.2.0", "temperature"},
	{"TempSensor04", "temp-sensor-04", "Building-D", "1.2.0", "temperature"},
	{"HumiditySensor01", "humidity-sensor-01", "Building-A", "1.1.0", "humidity"},
}

// dynamicGroup is a thing group whose members are the things matching a
// fleet-index query.
type dynamicGroup struct {
	id, name, query, description, output, outputDescription string
}

var dynamicGroups = []dynamicGroup{
	{"LegacyFirmwareGroup", "FirmwareLegacy", "attributes.firmware:1.0.0",
		"Devices on legacy firmware 1.0.0 (candidates for an update)",
		"LegacyFirmwareGroupName", "Dynamic thing group of devices on firmware 1.0.0"},
	{"LatestFirmwareGroup", "FirmwareLatest", "attributes.firmware:1.2.0",
		"Devices on the latest firmware 1.2.0",
		"LatestFirmwareGroupName", "Dynamic thing group of devices on firmware 1.2.0"},
	{"BuildingAGroup", "LocationBuildingA", "attributes.location:Building-A",
		"Devices located in Building-A",
		"BuildingAGroupName", "Dynamic thing group of devices in Building-A"},
	{"BuildingBGroup", "LocationBuildingB", "attributes.location:Building-B",
		"Devices located in Building-B",
		"BuildingBGroupName", "Dynamic thing group of devices in Building-B"},
	{"BuildingCGroup", "LocationBuildingC", "attributes.location:Building-C",
		"Devices located in Building-C",
		"BuildingCGroupName", "Dynamic thing group of devices in Building-C"},
	{"BuildingDGroup", "LocationBuildingD", "attributes.location:Building-D",
		"Devices located in Building-D",
		"BuildingDGroupName", "Dynamic thing group of devices in Building-D"},
}

// dashboardBody is the CloudWatch dashboard; Fn::Sub fills in the region and
// the fleet metrics' names (the Ref of ConnectedDevicesMetric and
// LatestFirmwareMetric).
const dashboardBody = `{
  "widgets": [
    {
      "type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
      "properties": {
        "title": "Connected Devices",
        "view": "timeSeries",
        "region": "${AWS::Region}",
        "period": 300,
        "stat": "Average",
        "metrics": [["IoTFleetMetrics", "${ConnectedDevicesMetric}", "AggregationType", "count"]]
      }
    },
    {
      "type": "metric", "x": 12, "y": 0, "width": 12, "height": 6,
      "properties": {
        "title": "Devices on Latest Firmware",
        "view": "timeSeries",
        "region": "${AWS::Region}",
        "period": 300,
        "stat": "Average",
        "metrics": [["IoTFleetMetrics", "${LatestFirmwareMetric}", "AggregationType", "count"]]
      }
    }
  ]
}
`

// sub is Fn::Sub of s.
func sub(s string) *string { return awscdk.Fn_Sub(jsii.String(s), nil) }

// contextString is a context value, or def when it is not set.
func contextString(scope constructs.Construct, key, def string) string {
	if v, ok := scope.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
		return v
	}
	return def
}

// Description is the stack's description.
const Description = "IoT Device Management (IoTDeviceManagementStack): sensor thing type, static and " +
	"dynamic thing groups, least-privilege device policy, fleet metrics, log group, sample things, " +
	"connected-devices alarm and dashboard."

// NewIoTDeviceManagementStack builds the stack (with Description unless props
// has one). Construct ids are the
// template's logical ids: every construct sits directly in the stack, so CDK
// keeps its id as the logical id, and the dashboard's Fn::Sub refers to the
// fleet metrics by those ids.
func NewIoTDeviceManagementStack(scope constructs.Construct, id string, props *awscdk.StackProps) awscdk.Stack {
	if props == nil {
		props = &awscdk.StackProps{}
	}
	if props.Description == nil {
		props.Description = jsii.String(Description)
	}
	stack := awscdk.NewStack(scope, jsii.String(id), props)

	env := awscdk.NewCfnParameter(stack, jsii.String("env"), &awscdk.CfnParameterProps{
		Type:                  jsii.String("String"),
		Default:               jsii.String(contextString(stack, "environmentName", "development")),
		AllowedPattern:        jsii.String("^[a-z][a-z0-9]{0,19}$"),
		ConstraintDescription: jsii.String("a lowercase word of at most 20 letters and digits, starting with a letter"),
		Description:           jsii.String("Deployment environment (development, staging, production, ...)"),
	})
	tags := func() *[]*awscdk.CfnTag {
		return &[]*awscdk.CfnTag{
			{Key: jsii.String("Application"), Value: jsii.String("IoTDeviceManagement")},
			{Key: jsii.String("Environment"), Value: env.ValueAsString()},
		}
	}
	output := func(key, description string, value *string, export bool) {
		p := &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)}
		if export {
			p.ExportName = sub("${AWS::StackName}-" + key)
		}
		awscdk.NewCfnOutput(stack, jsii.String(key), p)
	}

	// Template for sensor devices; at most 3 searchable attributes.
	thingType := awsiot.NewCfnThingType(stack, jsii.String("SensorThingType"), &awsiot.CfnThingTypeProps{
		ThingTypeName: sub("SensorDevice-${AWS::StackName}"),
		ThingTypeProperties: &awsiot.CfnThingType_ThingTypePropertiesProperty{
			ThingTypeDescription: sub("Sensor devices (temperature, humidity) of ${AWS::StackName}"),
			SearchableAttributes: jsii.Strings("location", "firmware"),
		},
		Tags: tags(),
	})

	// Static group for production sensors.
	production := awsiot.NewCfnThingGroup(stack, jsii.String("ProductionSensorsGroup"), &awsiot.CfnThingGroupProps{
		ThingGroupName: sub("ProductionSensors-${AWS::StackName}"),
		ThingGroupProperties: &awsiot.CfnThingGroup_ThingGroupPropertiesProperty{
			ThingGroupDescription: jsii.String("Static group for production sensors"),
			AttributePayload: &awsiot.CfnThingGroup_AttributePayloadProperty{
				Attributes: &map[string]*string{
					"environment":    env.ValueAsString(),
					"deviceCategory": jsii.String("sensor"),
				},
			},
		},
		Tags: tags(),
	})

	// Dynamic groups: a QueryString makes a thing group dynamic.
	groups := make([]awsiot.CfnThingGroup, len(dynamicGroups))
	for i, g := range dynamicGroups {
		groups[i] = awsiot.NewCfnThingGroup(stack, jsii.String(g.id), &awsiot.CfnThingGroupProps{
			ThingGroupName: sub(g.name + "-${AWS::StackName}"),
			QueryString:    jsii.String(g.query),
			ThingGroupProperties: &awsiot.CfnThingGroup_ThingGroupPropertiesProperty{
				ThingGroupDescription: jsii.String(g.description),
			},
			Tags: tags(),
		})
	}

	// Least-privilege device policy (the rules of
	// testdata/seed-device-policy.json): connect only as your own thing,
	// publish/receive/subscribe only on devices/<thing>/* and your own
	// shadow. ${!iot:...} is Fn::Sub's escape for a literal ${iot:...}.
	arn := "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:"
	thing := "${!iot:Connection.Thing.ThingName}"
	policy := awsiot.NewCfnPolicy(stack, jsii.String("DevicePolicy"), &awsiot.CfnPolicyProps{
		PolicyName: sub("device-policy-${AWS::StackName}"),
		PolicyDocument: map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{
				map[string]any{
					"Effect":   "Allow",
					"Action":   "iot:Connect",
					"Resource": sub(arn + "client/" + thing),
				},
				map[string]any{
					"Effect": "Allow",
					"Action": []string{"iot:Publish", "iot:Receive"},
					"Resource": []*string{
						sub(arn + "topic/$aws/things/" + thing + "/shadow/*"),
						sub(arn + "topic/devices/" + thing + "/*"),
					},
				},
				map[string]any{
					"Effect": "Allow",
					"Action": "iot:Subscribe",
					"Resource": []*string{
						sub(arn + "topicfilter/$aws/things/" + thing + "/shadow/*"),
						sub(arn + "topicfilter/devices/" + thing + "/*"),
					},
				},
			},
		},
		Tags: tags(),
	})

	// Fleet metrics, emitted to CloudWatch namespace IoTFleetMetrics with
	// dimension AggregationType. Both count over the managed field
	// registry.version: aggregating an attribute would need it configured as
	// a custom field of the index, which no CloudFormation resource does.
	connected := awsiot.NewCfnFleetMetric(stack, jsii.String("ConnectedDevicesMetric"), &awsiot.CfnFleetMetricProps{
		MetricName:   sub("ConnectedDevices-${AWS::StackName}"),
		Description:  jsii.String("Number of devices connected to IoT Core"),
		IndexName:    jsii.String("AWS_Things"),
		QueryString:  jsii.String("connectivity.connected:true"),
		QueryVersion: jsii.String("2017-09-30"),
		AggregationType: &awsiot.CfnFleetMetric_AggregationTypeProperty{
			Name:   jsii.String("Statistics"),
			Values: jsii.Strings("count"),
		},
		AggregationField: jsii.String("registry.version"),
		Period:           jsii.Number(300),
		Unit:             jsii.String("Count"),
		Tags:             tags(),
	})
	firmware := awsiot.NewCfnFleetMetric(stack, jsii.String("LatestFirmwareMetric"), &awsiot.CfnFleetMetricProps{
		MetricName:   sub("LatestFirmwareDevices-${AWS::StackName}"),
		Description:  jsii.String("Number of devices on the latest firmware 1.2.0"),
		IndexName:    jsii.String("AWS_Things"),
		QueryString:  jsii.String("attributes.firmware:1.2.0"),
		QueryVersion: jsii.String("2017-09-30"),
		AggregationType: &awsiot.CfnFleetMetric_AggregationTypeProperty{
			Name:   jsii.String("Statistics"),
			Values: jsii.Strings("count"),
		},
		AggregationField: jsii.String("registry.version"),
		Period:           jsii.Number(300),
		Unit:             jsii.String("Count"),
		Tags:             tags(),
	})

	// Centralized logging.
	logGroup := awslogs.NewCfnLogGroup(stack, jsii.String("DeviceLogGroup"), &awslogs.CfnLogGroupProps{
		LogGroupName:    sub("/aws/iot/device-management/${AWS::StackName}"),
		RetentionInDays: jsii.Number(30),
		Tags:            tags(),
	})

	// Sample things.
	prefix := contextString(stack, "sampleThingPrefix", "")
	for _, d := range sampleDevices {
		awsiot.NewCfnThing(stack, jsii.String(d.id), &awsiot.CfnThingProps{
			ThingName: jsii.String(prefix + d.name),
			AttributePayload: &awsiot.CfnThing_AttributePayloadProperty{
				Attributes: &map[string]*string{
					"location":   jsii.String(d.location),
					"firmware":   jsii.String(d.firmware),
					"sensorType": jsii.String(d.sensorType),
				},
			},
		})
	}

	// Fewer than 10 connected devices over two 5-minute periods; no data
	// means the fleet metric stopped reporting, which is unhealthy too.
	alarm := awscloudwatch.NewCfnAlarm(stack, jsii.String("DisconnectedDevicesAlarm"), &awscloudwatch.CfnAlarmProps{
		AlarmName:        sub("DisconnectedDevices-${AWS::StackName}"),
		AlarmDescription: jsii.String("Fewer than 10 devices connected for two consecutive periods"),
		Namespace:        jsii.String("IoTFleetMetrics"),
		MetricName:       connected.Ref(),
		Dimensions: &[]any{
			&awscloudwatch.CfnAlarm_DimensionProperty{Name: jsii.String("AggregationType"), Value: jsii.String("count")},
		},
		Statistic:          jsii.String("Average"),
		Period:             jsii.Number(300),
		EvaluationPeriods:  jsii.Number(2),
		Threshold:          jsii.Number(10),
		ComparisonOperator: jsii.String("LessThanThreshold"),
		TreatMissingData:   jsii.String("breaching"),
	})

	// The body's ${ConnectedDevicesMetric} and ${LatestFirmwareMetric}
	// make CloudFormation create the metrics first.
	dashboard := awscloudwatch.NewCfnDashboard(stack, jsii.String("FleetDashboard"), &awscloudwatch.CfnDashboardProps{
		DashboardName: sub("IoTFleet-${AWS::StackName}"),
		DashboardBody: sub(dashboardBody),
	})

	output("ThingTypeName", "Thing type for sensor devices", thingType.Ref(), true)
	output("ThingGroupName", "Static thing group for production sensors", production.Ref(), true)
	output("IoTPolicyName", "Least-privilege device policy; attach it to device certificates", policy.Ref(), true)
	for i, g := range dynamicGroups {
		output(g.output, g.outputDescription, groups[i].Ref(), true)
	}
	output("ConnectedDevicesMetricName", "Fleet metric counting connected devices", connected.Ref(), true)
	output("LatestFirmwareMetricName", "Fleet metric counting devices on the latest firmware", firmware.Ref(), true)
	output("LogGroupName", "CloudWatch log group for device logs", logGroup.Ref(), true)
	output("AlarmName", "Alarm on fewer than 10 connected devices", alarm.Ref(), false)
	output("DashboardName", "CloudWatch dashboard of the fleet", dashboard.Ref(), false)
	return stack
}

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	NewIoTDeviceManagementStack(app, StackName, nil)
	app.Synth(nil)
}
