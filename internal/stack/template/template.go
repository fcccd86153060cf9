package template

// MaxBodySize is the largest template body Parse accepts. AWS limits a
// TemplateBody to 51,200 bytes and a template fetched from TemplateURL to
// 1 MB; iotdm accepts the larger of the two for either.
const MaxBodySize = 1 << 20

// Limits on the number of members of a section.
// AWS: CloudFormation quotas — 500 resources, 200 parameters, 200 outputs.
const (
	MaxResources  = 500
	MaxParameters = 200
	MaxOutputs    = 200
)

// MaxDepth bounds the nesting of maps and lists in a template (a short-form
// tag counts as one level, like the map it stands for).
const MaxDepth = 64

// MaxValues bounds the number of values (maps, lists and scalars) in a parsed
// template, counting each expansion of a YAML alias again, so that a small
// document of nested aliases cannot expand into a huge one.
const MaxValues = 250_000

// FormatVersion is the only AWSTemplateFormatVersion there is.
const FormatVersion = "2010-09-09"

// Template is a parsed CloudFormation template. Values below the section
// level are plain Go values: map[string]any, []any, string, int64, float64,
// bool and nil, with YAML short forms expanded to their long form.
type Template struct {
	FormatVersion string // AWSTemplateFormatVersion; "" when absent
	Description   string
	Metadata      map[string]any
	Transform     any

	Parameters     map[string]*Parameter
	ParameterOrder []string // names in the order written

	Mappings   map[string]map[string]map[string]any
	Conditions map[string]any
	Rules      map[string]*Rule

	Resources     map[string]*Resource
	ResourceOrder []string // logical IDs in the order written

	Outputs     map[string]*Output
	OutputOrder []string // names in the order written

	// Recorded by Parse: where each value was written, keyed by path, and
	// problems Validate reports (unknown attributes) that Parse tolerates.
	pos      map[string]position
	deferred []Problem
	// sectionOrder is the order the top-level sections were written in.
	conditionOrder []string
	mappingOrder   []string
	ruleOrder      []string
}

// Parameter is one member of the Parameters section.
type Parameter struct {
	Type                  string
	Default               *string // numbers are kept as their text, lists joined with ","
	AllowedValues         []string
	AllowedPattern        string
	MinLength, MaxLength  *int
	MinValue, MaxValue    *float64
	NoEcho                bool
	Description           string
	ConstraintDescription string
}

// Rule is one member of the Rules section.
type Rule struct {
	RuleCondition any // nil: the rule always applies
	Assertions    []Assertion
}

// Assertion is one member of a rule's Assertions.
type Assertion struct {
	Assert            any
	AssertDescription string
}

// Resource is one member of the Resources section.
type Resource struct {
	Type                string
	Properties          map[string]any
	DependsOn           []string // a single name is a one-element list
	Condition           string
	DeletionPolicy      string
	UpdateReplacePolicy string
	Metadata            map[string]any
	CreationPolicy      map[string]any
	UpdatePolicy        map[string]any
}

// Output is one member of the Outputs section.
type Output struct {
	Value       any
	Description string
	ExportName  any // Export.Name; nil when the output has no Export
	Condition   string
}
