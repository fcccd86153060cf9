package template

import (
	"fmt"
	"strings"
	"testing"
)

// validateCases are templates with problems Validate must report. Each
// case's template has exactly the problems listed; every class of problem
// has a case.
var validateCases = []struct {
	name string
	body string
	want []want
}{
	// Structure.
	{"unknown section", "Resourcez: {}\nResources:\n  R: {Type: T}\n",
		[]want{{"Resourcez", "Invalid template property or properties [Resourcez]"}}},
	{"unknown resource attribute", "Resources:\n  R:\n    Type: T\n    Propertes: {}\n",
		[]want{{"Resources/R/Propertes", "Invalid template resource property 'Propertes'"}}},
	{"unknown parameter attribute", "Parameters:\n  P: {Type: String, Defualt: x}\nResources:\n  R: {Type: T}\n",
		[]want{{"Parameters/P/Defualt", "Invalid template parameter property 'Defualt'"}}},
	{"unknown output attribute", "Resources:\n  R: {Type: T}\nOutputs:\n  O: {Value: x, Exprt: y}\n",
		[]want{{"Outputs/O/Exprt", "Invalid outputs property : [Exprt]"}}},
	{"unknown export attribute", "Resources:\n  R: {Type: T}\nOutputs:\n  O: {Value: x, Export: {Name: n, Nmae: y}}\n",
		[]want{{"Outputs/O/Export/Nmae", "Invalid outputs property : [Export.Nmae]"}}},
	{"unknown rule attribute", "Rules:\n  Rl:\n    Assertions: [{Assert: !Equals [a, a], Descr: x}]\n    When: x\nResources:\n  R: {Type: T}\n",
		[]want{{"Rules/Rl/When", "Invalid rule property 'When'"}, {"Rules/Rl/Assertions/0/Descr", "Invalid rule assertion property 'Descr'"}}},
	{"format version", "AWSTemplateFormatVersion: 2011-01-01\nResources:\n  R: {Type: T}\n",
		[]want{{"AWSTemplateFormatVersion", "Unsupported AWSTemplateFormatVersion 2011-01-01"}}},
	{"description too long", "Description: " + strings.Repeat("d", 1025) + "\nResources:\n  R: {Type: T}\n",
		[]want{{"Description", "'Description' length is greater than 1024."}}},
	{"transform", "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\nResources:\n  R: {Type: T}\n",
		[]want{{"Transform/1", "Transform AWS::Serverless-2016-10-31 is not supported"}}},
	{"no resources", "Resources: {}\n",
		[]want{{"Resources", "At least one Resources member must be defined."}}},
	{"no Resources section", "Description: x\n",
		[]want{{"Resources", "At least one Resources member must be defined."}}},
	{"null value", "Resources:\n  R:\n    Type: T\n    Properties:\n      Tags: [{Key: a, Value: null}]\n",
		[]want{{"Resources/R/Properties/Tags/0/Value", "'null' values are not allowed in templates"}}},

	// Names.
	{"resource name", "Resources:\n  my-thing: {Type: T}\n",
		[]want{{"Resources/my-thing", "Resource name my-thing is non alphanumeric."}}},
	{"parameter name", "Parameters:\n  my_param: {Type: String}\nResources:\n  R: {Type: T}\n",
		[]want{{"Parameters/my_param", "Parameter name my_param is non alphanumeric."}}},
	{"output name", "Resources:\n  R: {Type: T}\nOutputs:\n  out.put: {Value: x}\n",
		[]want{{"Outputs/out.put", "Output name out.put is non alphanumeric."}}},
	{"mapping name", "Mappings:\n  region-map: {a: {b: c}}\nResources:\n  R: {Type: T}\n",
		[]want{{"Mappings/region-map", "Mapping name region-map is non alphanumeric."}}},
	{"resource name too long", "Resources:\n  " + strings.Repeat("R", 256) + ": {Type: T}\n",
		[]want{{"Resources/" + strings.Repeat("R", 256), "is non alphanumeric."}}},
	{"parameter and resource share a name", "Parameters:\n  X: {Type: String}\nResources:\n  X: {Type: T}\n",
		[]want{{"Parameters/X", "X is the name of both a parameter and a resource"}}},

	// Resources.
	{"missing Type", "Resources:\n  R:\n    Properties: {}\n",
		[]want{{"Resources/R", "Every Resources object must contain a Type member."}}},
	{"unsupported type", "Resources:\n  B: {Type: AWS::S3::Bucket}\n",
		[]want{{"Resources/B/Type", "Unsupported resource type: AWS::S3::Bucket"}}},
	{"custom resource", "Resources:\n  C: {Type: Custom::Seed}\n  D: {Type: AWS::CloudFormation::CustomResource}\n",
		[]want{{"Resources/C/Type", "Unsupported resource type: Custom::Seed"}, {"Resources/D/Type", "Unsupported resource type: AWS::CloudFormation::CustomResource"}}},
	{"resource Condition undefined", "Resources:\n  R: {Type: T, Condition: Nope}\n",
		[]want{{"Resources/R/Condition", "Unresolved condition dependency Nope in resource R"}}},
	{"DependsOn undefined", "Resources:\n  R: {Type: T, DependsOn: Nope}\n  S: {Type: T, DependsOn: [R, Nada]}\n",
		[]want{{"Resources/R/DependsOn", "Unresolved resource dependencies [Nope] in the Resources block of the template"},
			{"Resources/S/DependsOn/1", "Unresolved resource dependencies [Nada] in the Resources block of the template"}}},
	{"DeletionPolicy", "Resources:\n  R: {Type: T, DeletionPolicy: Keep}\n",
		[]want{{"Resources/R/DeletionPolicy", "Unrecognized DeletionPolicy Keep for resource R"}}},
	{"UpdateReplacePolicy", "Resources:\n  R: {Type: T, UpdateReplacePolicy: RetainExceptOnCreate}\n",
		[]want{{"Resources/R/UpdateReplacePolicy", "Unrecognized UpdateReplacePolicy RetainExceptOnCreate for resource R"}}},
	{"cycle through Ref and GetAtt", "Resources:\n  A: {Type: T, Properties: {X: !Ref B}}\n  B: {Type: T, Properties: {X: !GetAtt C.Arn}}\n  C: {Type: T, Properties: {X: !Ref A}}\n  D: {Type: T, Properties: {X: !Ref A}}\n",
		[]want{{"Resources", "Circular dependency between resources: [A, B, C]"}}},
	{"cycle through Sub and DependsOn", "Resources:\n  A: {Type: T, Properties: {X: !Sub \"${B.Arn}\"}}\n  B: {Type: T, DependsOn: A}\n",
		[]want{{"Resources", "Circular dependency between resources: [A, B]"}}},
	{"self reference", "Resources:\n  A: {Type: T, Properties: {X: !Ref A}}\n",
		[]want{{"Resources", "Circular dependency between resources: [A]"}}},

	// Parameters.
	{"parameter without Type", "Parameters:\n  P: {Default: x}\nResources:\n  R: {Type: T}\n",
		[]want{{"Parameters/P", "Every Parameters object must contain a Type member."}}},
	{"parameter type", "Parameters:\n  P: {Type: Strng}\n  Q: {Type: \"List<String>\"}\nResources:\n  R: {Type: T}\n",
		[]want{{"Parameters/P/Type", "Unrecognized parameter type: Strng"}, {"Parameters/Q/Type", "Unrecognized parameter type: List<String>"}}},
	{"Default not allowed", "Parameters:\n  P: {Type: String, Default: qa, AllowedValues: [dev, prod]}\nResources:\n  R: {Type: T}\n",
		[]want{{"Parameters/P/Default", "Parameter 'P' must be one of AllowedValues"}}},
	{"Default pattern", "Parameters:\n  P: {Type: String, Default: ABC, AllowedPattern: \"[a-z]+\"}\nResources:\n  R: {Type: T}\n",
		[]want{{"Parameters/P/Default", "Parameter 'P' must match pattern [a-z]+"}}},
	{"Default length", "Parameters:\n  P: {Type: String, Default: ab, MinLength: 3}\n  Q: {Type: String, Default: abcd, MaxLength: 3}\nResources:\n  R: {Type: T}\n",
		[]want{{"Parameters/P/Default", "must contain at least 3 characters"}, {"Parameters/Q/Default", "must contain at most 3 characters"}}},
	{"Default number", "Parameters:\n  P: {Type: Number, Default: ten}\n  Q: {Type: Number, Default: 0, MinValue: 1}\n  S: {Type: \"List<Number>\", Default: \"1,x\"}\nResources:\n  R: {Type: T}\n",
		[]want{{"Parameters/P/Default", "Parameter 'P' must be a number"}, {"Parameters/Q/Default", "must be a number not less than 1"}, {"Parameters/S/Default", "Parameter 'S' must be a number"}}},
	{"Default with ConstraintDescription", "Parameters:\n  P: {Type: String, Default: x, AllowedPattern: \"[0-9]+\", ConstraintDescription: digits only}\nResources:\n  R: {Type: T}\n",
		[]want{{"Parameters/P/Default", "Parameter 'P' failed to satisfy constraint: digits only"}}},
	{"AllowedPattern invalid", "Parameters:\n  P: {Type: String, AllowedPattern: \"(\"}\nResources:\n  R: {Type: T}\n",
		[]want{{"Parameters/P/AllowedPattern", "AllowedPattern is not a valid regular expression"}}},

	// Outputs.
	{"output without Value", "Resources:\n  R: {Type: T}\nOutputs:\n  O: {Description: d}\n",
		[]want{{"Outputs/O", "Every Outputs member must contain a Value object"}}},
	{"output Condition undefined", "Resources:\n  R: {Type: T}\nOutputs:\n  O: {Value: x, Condition: Nope}\n",
		[]want{{"Outputs/O/Condition", "Unresolved condition dependency Nope in output O"}}},
	{"export name", "Resources:\n  R: {Type: T}\nOutputs:\n  O: {Value: x, Export: {Name: \"my export\"}}\n",
		[]want{{"Outputs/O/Export/Name", "Output O is malformed."}}},
	{"duplicate export", "Resources:\n  R: {Type: T}\nOutputs:\n  O: {Value: x, Export: {Name: e}}\n  P: {Value: y, Export: {Name: e}}\n",
		[]want{{"Outputs/P/Export/Name", "Outputs O and P export the same name e"}}},

	// Mappings, Conditions, Rules.
	{"mapping value", "Mappings:\n  M: {a: {b: {c: d}}}\nResources:\n  R: {Type: T}\n",
		[]want{{"Mappings/M/a/b", "Every Mappings attribute must be a String or a List."}}},
	{"condition unknown condition", "Conditions:\n  A: !Not [!Condition B]\nResources:\n  R: {Type: T}\n",
		[]want{{"Conditions/A/Fn::Not/0/Condition", "Unresolved condition dependency B"}}},
	{"condition not boolean", "Parameters:\n  P: {Type: String}\nConditions:\n  A: !Ref P\n  B: !And [!Condition A, yes]\nResources:\n  R: {Type: T}\n",
		[]want{{"Conditions/A", "Conditions can only be boolean operations on parameters and other conditions"},
			{"Conditions/B/Fn::And/1", "Conditions can only be boolean operations on parameters and other conditions"}}},
	{"condition cycle", "Conditions:\n  A: !Not [!Condition B]\n  B: !And [!Condition A, !Condition C]\n  C: !Equals [a, b]\nResources:\n  R: {Type: T}\n",
		[]want{{"Conditions", "Circular dependency between conditions: [A, B]"}}},
	{"condition refers to a resource", "Conditions:\n  A: !Equals [!Ref R, x]\n  B: !Equals [!Sub \"${R}\", x]\nResources:\n  R: {Type: T}\n",
		[]want{{"Conditions/A/Fn::Equals/0/Ref", "Unresolved dependencies [R]. Cannot reference resources in the Conditions block of the template"},
			{"Conditions/B/Fn::Equals/0/Fn::Sub", "Cannot reference resources in the Conditions block"}}},
	{"rule without assertions", "Rules:\n  Rl: {Assertions: []}\nResources:\n  R: {Type: T}\n",
		[]want{{"Rules/Rl", "Every Rules member must contain at least one Assertions member"}}},
	{"rule assert not a rule function", "Rules:\n  Rl:\n    RuleCondition: x\n    Assertions: [{Assert: !Ref AWS::Region}, {AssertDescription: d}]\nResources:\n  R: {Type: T}\n",
		[]want{{"Rules/Rl/RuleCondition", "must be a rule-specific intrinsic function"},
			{"Rules/Rl/Assertions/0/Assert", "must be a rule-specific intrinsic function"},
			{"Rules/Rl/Assertions/1", "Every Assertions member must contain an Assert"}}},

	// References.
	{"Ref undefined in resources", "Resources:\n  R: {Type: T, Properties: {X: !Ref Nope}}\n",
		[]want{{"Resources/R/Properties/X/Ref", "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template"}}},
	{"Ref undefined in outputs", "Resources:\n  R: {Type: T}\nOutputs:\n  O: {Value: !Ref Nope}\n",
		[]want{{"Outputs/O/Value/Ref", "Unresolved resource dependencies [Nope] in the Outputs block of the template"}}},
	{"Ref undefined pseudo parameter", "Resources:\n  R: {Type: T, Properties: {X: !Ref AWS::Regoin}}\n",
		[]want{{"Resources/R/Properties/X/Ref", "Unresolved resource dependencies [AWS::Regoin]"}}},
	{"Ref not a string", "Resources:\n  R: {Type: T, Properties: {X: {Ref: [a]}}}\n",
		[]want{{"Resources/R/Properties/X/Ref", "Every Ref object must have a single String value."}}},
	{"GetAtt undefined resource", "Parameters:\n  P: {Type: String}\nResources:\n  R: {Type: T, Properties: {X: !GetAtt Nope.Arn, Y: !GetAtt [P, Arn]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::GetAtt", "Template error: instance of Fn::GetAtt references undefined resource Nope"},
			{"Resources/R/Properties/Y/Fn::GetAtt", "instance of Fn::GetAtt references undefined resource P"}}},
	{"GetAtt attribute Ref undefined", "Resources:\n  R: {Type: T, Properties: {X: !GetAtt [R2, !Ref Nope]}}\n  R2: {Type: T}\n",
		[]want{{"Resources/R/Properties/X/Fn::GetAtt/1/Ref", "Unresolved resource dependencies [Nope]"}}},
	{"Sub variable undefined", "Resources:\n  R: {Type: T, Properties: {X: !Sub \"a-${Nope}-${AWS::Region}\", Y: !Sub \"${Gone.Arn}\"}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Sub", "Unresolved resource dependencies [Nope]"},
			{"Resources/R/Properties/Y/Fn::Sub", "Unresolved resource dependencies [Gone]"}}},
	{"Sub variable name", "Resources:\n  R: {Type: T, Properties: {X: !Sub \"${a-b}\"}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Sub", "variable names in Fn::Sub syntax must contain only alphanumeric characters"}}},
	{"Sub list variable undefined", "Resources:\n  R: {Type: T, Properties: {X: !Sub [\"${A}${B}\", {A: !Ref Nope}]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Sub/1/A/Ref", "Unresolved resource dependencies [Nope]"},
			{"Resources/R/Properties/X/Fn::Sub", "Unresolved resource dependencies [B]"}}},
	{"FindInMap unknown mapping", "Resources:\n  R: {Type: T, Properties: {X: !FindInMap [Nope, a, b]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::FindInMap/0", "Mapping named 'Nope' is not present in the 'Mappings' section of template."}}},
	{"Fn::If unknown condition", "Resources:\n  R: {Type: T, Properties: {X: !If [Nope, a, b]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::If/0", "unresolved condition dependency Nope in Fn::If"}}},

	// Argument shapes.
	{"Join shape", "Resources:\n  R: {Type: T, Properties: {X: !Join [\"-\"], Y: !Join [[a], [b]], Z: !Join [\"-\", abc]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Join", "every Fn::Join object requires two parameters"},
			{"Resources/R/Properties/Y/Fn::Join", "every Fn::Join object requires two parameters"},
			{"Resources/R/Properties/Z/Fn::Join", "every Fn::Join object requires two parameters"}}},
	{"Select shape", "Resources:\n  R: {Type: T, Properties: {X: !Select [a, [b]], Y: !Select [3, [a, b]], Z: !Select [0, x]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Select", "Fn::Select requires a list argument with two elements"},
			{"Resources/R/Properties/Y/Fn::Select", "Fn::Select cannot select nonexistent value at index 3"},
			{"Resources/R/Properties/Z/Fn::Select", "Fn::Select requires a list argument"}}},
	{"Split shape", "Resources:\n  R: {Type: T, Properties: {X: !Split [\"\", abc]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Split", "every Fn::Split object requires two parameters"}}},
	{"If shape", "Conditions:\n  C: !Equals [a, a]\nResources:\n  R: {Type: T, Properties: {X: !If [C, a]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::If", "every Fn::If object requires three parameters"}}},
	{"GetAtt shape", "Resources:\n  R: {Type: T, Properties: {X: !GetAtt [R2, a, b]}}\n  R2: {Type: T}\n",
		[]want{{"Resources/R/Properties/X/Fn::GetAtt", "every Fn::GetAtt object requires two non-empty parameters"}}},
	{"Sub shape", "Resources:\n  R: {Type: T, Properties: {X: !Sub [a, b, c]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Sub", "One or more Fn::Sub intrinsic functions don't specify expected arguments"}}},
	{"FindInMap shape", "Mappings:\n  M: {a: {b: c}}\nResources:\n  R: {Type: T, Properties: {X: !FindInMap [M, a], Y: !FindInMap [M, a, b, {Default: d}]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::FindInMap", "every Fn::FindInMap object requires three parameters"},
			{"Resources/R/Properties/Y/Fn::FindInMap", "every Fn::FindInMap object requires three parameters"}}},
	{"condition function shapes", "Conditions:\n  A: !Equals [a, b, c]\n  B: !Not [!Condition A, !Condition A]\n  C: !And [!Condition A]\n  D: !Or [" + strings.TrimSuffix(strings.Repeat("!Condition A, ", 11), ", ") + "]\nResources:\n  R: {Type: T}\n",
		[]want{{"Conditions/A/Fn::Equals", "every Fn::Equals object requires a list of 2 string parameters."},
			{"Conditions/B/Fn::Not", "every Fn::Not object requires a list of 1 condition."},
			{"Conditions/C/Fn::And", "every Fn::And object requires a list of at least 2 and at most 10 conditions."},
			{"Conditions/D/Fn::Or", "every Fn::Or object requires a list of at least 2 and at most 10 conditions."}}},
	{"Cidr", "Resources:\n  R: {Type: T, Properties: {X: !Cidr [10.0.0.0/16, 4], Y: !Cidr [10.0.0.0/24, 4, 8], Z: !Cidr [nonsense, 1, 8]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Cidr", "Fn::Cidr requires a list argument with three elements"},
			{"Resources/R/Properties/Y/Fn::Cidr", "holds only 1 subnets of 8 bits"},
			{"Resources/R/Properties/Z/Fn::Cidr", `"nonsense" is not a CIDR block`}}},
	{"Length, ToJsonString, Base64 shapes", "Resources:\n  R: {Type: T, Properties: {X: !Length abc, Y: !ToJsonString abc, Z: !Base64 [a]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Length", "invalid arguments to Fn::Length"},
			{"Resources/R/Properties/Y/Fn::ToJsonString", "invalid arguments to Fn::ToJsonString"},
			{"Resources/R/Properties/Z/Fn::Base64", "invalid arguments to Fn::Base64"}}},
	{"rule function shapes", "Rules:\n  Rl:\n    Assertions: [{Assert: !Contains [a, b]}, {Assert: !EachMemberIn [[a], b]}]\nResources:\n  R: {Type: T}\n",
		[]want{{"Rules/Rl/Assertions/0/Assert/Fn::Contains", "every Fn::Contains object requires a list of 2 parameters"},
			{"Rules/Rl/Assertions/1/Assert/Fn::EachMemberIn", "every Fn::EachMemberIn object requires a list of 2 parameters"}}},

	// Where functions may appear.
	{"Fn::If in Conditions", "Conditions:\n  A: !Equals [a, a]\n  B: !Equals [!If [A, x, y], x]\nResources:\n  R: {Type: T}\n",
		[]want{{"Conditions/B/Fn::Equals/0/Fn::If", "Fn::If can only be used in the Resources and Outputs sections"}}},
	{"Fn::Equals in Properties", "Resources:\n  R: {Type: T, Properties: {X: !Equals [a, b]}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Equals", "Fn::Equals can only be used in the Conditions and Rules sections"}}},
	{"Fn::Contains in Conditions", "Conditions:\n  A: !Contains [[a], a]\nResources:\n  R: {Type: T}\n",
		[]want{{"Conditions/A", "Conditions can only be boolean operations"}}},
	{"Fn::Contains in Outputs", "Resources:\n  R: {Type: T}\nOutputs:\n  O: {Value: !Contains [[a], a]}\n",
		[]want{{"Outputs/O/Value/Fn::Contains", "Fn::Contains can only be used in the Rules section"}}},
	{"GetAtt in Conditions", "Conditions:\n  A: !Equals [!GetAtt R.Arn, x]\nResources:\n  R: {Type: T}\n",
		[]want{{"Conditions/A/Fn::Equals/0/Fn::GetAtt", "Fn::GetAtt cannot be used in the Conditions section"}}},
	{"unsupported functions", "Resources:\n  R: {Type: T, Properties: {X: {\"Fn::Foo\": a}, Y: {\"Fn::Transform\": {Name: M}}}}\n",
		[]want{{"Resources/R/Properties/X/Fn::Foo", "Encountered unsupported function: Fn::Foo"},
			{"Resources/R/Properties/Y/Fn::Transform", "Encountered unsupported function: Fn::Transform"}}},
	{"ValueOf", "Parameters:\n  V: {Type: \"AWS::EC2::VPC::Id\"}\nRules:\n  Rl:\n    Assertions: [{Assert: !Equals [!ValueOf [V, Tags], x]}]\nResources:\n  R: {Type: T}\n",
		[]want{{"Rules/Rl/Assertions/0/Assert/Fn::Equals/0/Fn::ValueOf", "Fn::ValueOf is not supported"}}},
}

func TestValidateProblems(t *testing.T) {
	for _, c := range validateCases {
		t.Run(c.name, func(t *testing.T) {
			tm := mustParse(t, c.body)
			ps := problemsOf(t, tm.Validate(iotTypes))
			if len(ps) != len(c.want) {
				t.Errorf("Validate problems = %v, want %d", ps, len(c.want))
			}
			for _, w := range c.want {
				if !hasProblem(ps, w) {
					t.Errorf("Validate problems = %v\nwant one at %q containing %q", ps, w.path, w.msg)
				}
			}
			for _, p := range ps {
				if p.Line == 0 {
					t.Errorf("problem %+v has no position", p)
				}
			}
		})
	}
}

// validTemplates must validate without a problem.
var validTemplates = []struct{ name, body string }{
	{"minimal", "Resources:\n  R: {Type: T}\n"},
	{"everything the engine might meet", `
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::LanguageExtensions
Metadata:
  AWS::CloudFormation::Interface: {ParameterGroups: []}
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Attr: {Type: String, Default: Arn}
  Zones: {Type: CommaDelimitedList, Default: "a,b"}
  Index: {Type: Number, Default: 1, MinValue: 0, MaxValue: 1}
  Vpc: {Type: "AWS::EC2::VPC::Id", Default: vpc-1}
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>", Default: "subnet-1,subnet-2"}
  Latest: {Type: "AWS::SSM::Parameter::Value<String>", Default: /my/param}
Mappings:
  RegionMap:
    us-east-1: {Zone: use1}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Zoned: !Equals [!FindInMap [RegionMap, !Ref "AWS::Region", Zone, {DefaultValue: none}], use1]
  Any: !Or [!Condition IsProd, !Condition Zoned, !Equals [!Select [0, !Ref Zones], a]]
Rules:
  ProdOnly:
    RuleCondition: !Equals [!Ref Env, prod]
    Assertions:
      - Assert: !EachMemberIn [!Ref Zones, [a, b]]
      - Assert: !Not [!Contains [!RefAll "AWS::EC2::VPC::Id", vpc-0]]
        AssertDescription: not vpc-0
      - Assert: !And [!EachMemberEquals [!Ref Zones, a], !Or [!Equals [a, a], !Equals [b, b]]]
Resources:
  Group:
    Type: AWS::IoT::ThingGroup
    Condition: NotProd
    Metadata: {Env: !Ref Env}
    Properties:
      ThingGroupName: !Sub "${AWS::StackName}-${!Literal}-${Env}"
      Policy:
        Statement:
          - Effect: Allow
            Condition: {StringEquals: {"aws:SourceAccount": !Ref AWS::AccountId}}
        Condition: IsProd
      Data: {Condition: NotACondition}
      Shadow: !Sub ["${Group}-${Local.Attr}", {Group: g, Local.Attr: x}]
  Thing:
    Type: AWS::IoT::Thing
    DependsOn: [Group]
    DeletionPolicy: RetainExceptOnCreate
    UpdateReplacePolicy: Retain
    Properties:
      ThingName: !Join ["-", [!Ref Env, !Select [!Ref Index, !Ref Zones], !Select ["0", !GetAZs ""]]]
      Attr: !GetAtt [Group, !Ref Attr]
      Json: !ToJsonString {a: [!Ref Env]}
      Count: !Length {Ref: Subnets}
      Cidr: !Cidr [!Ref Env, 2, 4]
      Prod: !If [IsProd, !Ref "AWS::NoValue", !Ref "AWS::Partition"]
      Imported: !ImportValue {"Fn::Sub": "${Env}-export"}
      Encoded: !Base64 {"Fn::Join": ["", [a, b]]}
      Split: !Split [",", !ImportValue x]
      Urls: [!Ref "AWS::URLSuffix", !Ref "AWS::NotificationARNs", !Ref "AWS::StackId", !Ref Vpc, !Ref Latest]
Outputs:
  GroupName:
    Condition: NotProd
    Value: !If [NotProd, !Ref Group, !Ref "AWS::NoValue"]
    Export: {Name: !Sub "${AWS::StackName}-group"}
  Arn:
    Value: !GetAtt Thing.Arn
    Export: {Name: "stack:thing-arn"}
`},
}

func TestValidateAccepts(t *testing.T) {
	for _, c := range validTemplates {
		t.Run(c.name, func(t *testing.T) {
			tm := mustParse(t, c.body)
			if err := tm.Validate(iotTypes); err != nil {
				t.Errorf("Validate = %v", err)
			}
		})
	}
	for _, f := range []string{"testdata/short-forms.yaml", "testdata/short-forms.json"} {
		tm, err := Parse(readFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := tm.Validate(iotTypes); err != nil {
			t.Errorf("%s: Validate = %v", f, err)
		}
	}
}

func TestValidateNilSupportedAcceptsEveryType(t *testing.T) {
	tm := mustParse(t, "Resources:\n  B: {Type: AWS::S3::Bucket}\n  C: {Type: Custom::X}\n")
	if err := tm.Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v", err)
	}
}

func TestValidateLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("Parameters:\n")
	for i := range MaxParameters + 1 {
		fmt.Fprintf(&b, "  P%d: {Type: String, Default: x}\n", i)
	}
	b.WriteString("Resources:\n")
	for i := range MaxResources + 1 {
		fmt.Fprintf(&b, "  R%d: {Type: T}\n", i)
	}
	b.WriteString("Outputs:\n")
	for i := range MaxOutputs + 1 {
		fmt.Fprintf(&b, "  O%d: {Value: x}\n", i)
	}
	tm := mustParse(t, b.String())
	ps := problemsOf(t, tm.Validate(iotTypes))
	for _, w := range []want{
		{"Parameters", "Number of parameters, 201, is greater than maximum allowed, 200"},
		{"Resources", "Number of resources, 501, is greater than maximum allowed, 500"},
		{"Outputs", "Number of outputs, 201, is greater than maximum allowed, 200"},
	} {
		if !hasProblem(ps, w) {
			t.Errorf("Validate problems = %v\nwant %+v", ps, w)
		}
	}
}

// TestValidateEveryProblemAtOnce checks that problems of different kinds
// in different sections come back together, located by line, in order.
func TestValidateEveryProblemAtOnce(t *testing.T) {
	body := `Parameters:
  P: {Type: Strng}
Resources:
  A:
    Type: AWS::S3::Bucket
    Properties:
      X: !Ref Nope
  B:
    Type: T
    DependsOn: Gone
Outputs:
  O: {Value: !GetAtt Missing.Arn}
`
	tm := mustParse(t, body)
	ps := problemsOf(t, tm.Validate(iotTypes))
	want := []struct {
		line int
		msg  string
	}{
		{2, "Unrecognized parameter type: Strng"},
		{5, "Unsupported resource type: AWS::S3::Bucket"},
		{7, "Unresolved resource dependencies [Nope]"},
		{10, "Unresolved resource dependencies [Gone]"},
		{12, "instance of Fn::GetAtt references undefined resource Missing"},
	}
	if len(ps) != len(want) {
		t.Fatalf("Validate problems = %v, want %d", ps, len(want))
	}
	for i, w := range want {
		if ps[i].Line != w.line || !strings.Contains(ps[i].Message, w.msg) {
			t.Errorf("problem %d = %+v, want line %d containing %q", i, ps[i], w.line, w.msg)
		}
	}
}

func TestValidateJSONPositions(t *testing.T) {
	body := "{\n  \"Resources\": {\n    \"R\": {\n      \"Type\": \"AWS::S3::Bucket\"\n    }\n  }\n}"
	tm := mustParse(t, body)
	ps := problemsOf(t, tm.Validate(iotTypes))
	if len(ps) != 1 || ps[0].Path != "Resources/R/Type" || ps[0].Line != 4 || ps[0].Column != 15 {
		t.Errorf("Validate problems = %+v, want one at Resources/R/Type, line 4, column 15", ps)
	}
}

func TestLocate(t *testing.T) {
	tm := mustParse(t, "Resources:\n  R:\n    Type: T\n    Properties:\n      Name: x\n      Tags:\n        - {Key: a}\n")
	for path, line := range map[string]int{
		"Resources/R/Properties/Name":         5,
		"Resources/R/Properties/Tags/0/Key":   7,
		"Resources/R/Properties/Tags/0/Value": 7, // absent: the enclosing map
		"Resources/R/Properties/Unknown":      5, // a block map starts at its first key
		"Elsewhere":                           1,
	} {
		if got := tm.Locate(Problem{Path: path}); got.Line != line {
			t.Errorf("Locate(%s) = %+v, want line %d", path, got, line)
		}
	}
	if got := (&Template{}).Locate(Problem{Path: "Resources/R"}); got.Line != 0 {
		t.Errorf("Locate on a template built by hand = %+v, want no position", got)
	}
}
