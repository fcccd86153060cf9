package template

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCDKTemplate takes the seed stack as `cdk synth` writes it through
// everything the stack engine does before creating resources.
func TestCDKTemplate(t *testing.T) {
	tm, err := Parse(readFile(t, "testdata/cdk-iot-device-management.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.Validate(iotTypes); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	p := tm.Parameters["BootstrapVersion"]
	if p == nil || p.Type != "AWS::SSM::Parameter::Value<String>" || p.Default == nil || *p.Default != "/cdk-bootstrap/hnb659fds/version" {
		t.Fatalf("BootstrapVersion = %+v", p)
	}

	// Without a parameter store the version is the parameter's name, which
	// is not one of the old versions the rule refuses.
	params, err := tm.ResolveParameters(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Context{
		Parameters: params,
		Pseudo:     Pseudo{AccountID: "000000000000", Region: "us-east-1", StackName: "IoTDeviceManagementStack"},
		Ref:        func(id string) (string, error) { return "phys-" + id, nil },
		GetAtt:     func(id, attr string) (any, error) { return "arn:" + id + ":" + attr, nil },
	}
	if err := tm.CheckRules(c); err != nil {
		t.Errorf("CheckRules(nil ssm) = %v", err)
	}
	for _, v := range []string{"1", "5"} {
		old, err := tm.ResolveParameters(nil, func(string) (string, bool) { return v, true })
		if err != nil {
			t.Fatal(err)
		}
		err = tm.CheckRules(&Context{Parameters: old})
		if err == nil || !strings.Contains(err.Error(), "Rule 'CheckBootstrapVersion' failed: CDK bootstrap stack version 6 required.") {
			t.Errorf("CheckRules(BootstrapVersion=%s) = %v, want the CDK bootstrap message", v, err)
		}
	}
	if newer, _ := tm.ResolveParameters(nil, func(string) (string, bool) { return "21", true }); tm.CheckRules(&Context{Parameters: newer}) != nil {
		t.Errorf("CheckRules(BootstrapVersion=21) failed")
	}

	for region, want := range map[string]bool{"us-east-1": true, "af-south-1": true, "us-west-2": true, "eu-west-3": true, "xx-nowhere-1": false, "": false} {
		c.Pseudo.Region = region
		conds, err := tm.EvalConditions(c)
		if err != nil {
			t.Fatal(err)
		}
		if conds["CDKMetadataAvailable"] != want {
			t.Errorf("CDKMetadataAvailable in %q = %v, want %v", region, conds["CDKMetadataAvailable"], want)
		}
	}
	c.Pseudo.Region = "us-east-1"
	conds, _ := tm.EvalConditions(c)
	c.Conditions = conds

	order, err := tm.Order(func(id string) bool {
		r := tm.Resources[id]
		return r.Condition == "" || c.Conditions[r.Condition]
	})
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{"CDKMetadata", "DeviceLogGroup3F4B2E71", "DevicePolicy", "ProductionSensorsGroup",
		"BuildingADevicesGroup", "SensorThingType", "ConnectedDevicesMetric", "FirmwareUpdateGroup", "FirmwareVersionMetric",
		"SampleThing1", "SampleThing2", "SampleThing3", "SampleThing4"}
	if !cmp.Equal(order, wantOrder) {
		t.Errorf("Order = %v, want %v", order, wantOrder)
	}

	props, err := tm.Eval(c, "Resources/DevicePolicy/Properties", tm.Resources["DevicePolicy"].Properties)
	if err != nil {
		t.Fatal(err)
	}
	stmts := props.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any)
	for i, want := range []string{
		"arn:aws:iot:us-east-1:000000000000:client/${iot:Connection.Thing.ThingName}",
		"arn:aws:iot:us-east-1:000000000000:topic/devices/${iot:Connection.Thing.ThingName}/*",
	} {
		if got := stmts[i].(map[string]any)["Resource"]; got != want {
			t.Errorf("statement %d Resource = %v, want %v", i, got, want)
		}
	}
	if got := props.(map[string]any)["PolicyName"]; got != "IoTDeviceManagementStack-DevicePolicy" {
		t.Errorf("PolicyName = %v", got)
	}
	for _, id := range order {
		if _, err := tm.Eval(c, "Resources/"+id+"/Properties", tm.Resources[id].Properties); err != nil {
			t.Errorf("Eval(%s) = %v", id, err)
		}
	}
	for _, name := range tm.OutputOrder {
		o := tm.Outputs[name]
		v, err := tm.Eval(c, "Outputs/"+name+"/Value", o.Value)
		if err != nil {
			t.Errorf("Eval(output %s) = %v", name, err)
		}
		if name == "ThingTypeArn" && v != "arn:SensorThingType:Arn" {
			t.Errorf("ThingTypeArn = %v", v)
		}
		if o.ExportName != nil {
			e, err := tm.Eval(c, "Outputs/"+name+"/Export/Name", o.ExportName)
			if err != nil || e != "IoTDeviceManagementStack-ThingTypeName" {
				t.Errorf("export name of %s = %v, %v", name, e, err)
			}
		}
	}
}
