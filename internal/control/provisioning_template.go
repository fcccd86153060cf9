package control

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/stack/template"
)

// The provisioning template language (AWS §5.4) is a subset of
// CloudFormation's, which internal/stack/template parses, validates and
// evaluates: Parameters, Mappings, Conditions and Resources as there, plus a
// DeviceConfiguration section of values returned to the device, and the
// pseudo parameters AWS::IoT::Certificate::* taken from the certificate
// being provisioned. A template may declare those in Parameters (as JITP
// templates do) or just refer to them (as fleet provisioning templates do
// with AWS::IoT::Certificate::Id).
//
// Resources are of three types:
//
//   - AWS::IoT::Thing: ThingName (required), ThingTypeName, ThingGroups,
//     AttributePayload (a map of attribute values) and OverrideSettings,
//     which says what to do with each of AttributePayload, ThingTypeName and
//     ThingGroups when the thing exists already: REPLACE, MERGE (attributes
//     and groups only), FAIL or DO_NOTHING (the default);
//   - AWS::IoT::Certificate: CertificateId (required; it must evaluate to the
//     certificate being provisioned, AWS::IoT::Certificate::Id) and Status
//     (ACTIVE, the default, or INACTIVE);
//   - AWS::IoT::Policy: PolicyName (an existing policy) or PolicyDocument (a
//     policy created on first use, named by the hex SHA-256 of its document,
//     so that every device provisioned with it shares it).
//
// At most one thing and one certificate; the intrinsic functions are Ref,
// Fn::Join, Fn::Sub, Fn::Split, Fn::Select, Fn::FindInMap, Fn::If and
// Fn::Base64 in values, Fn::Equals, Fn::Not, Fn::And and Fn::Or in
// Conditions. A Ref names a parameter or a pseudo parameter, never a
// resource.

// Resource types of provisioning templates.
const (
	provThingType  = "AWS::IoT::Thing"
	provCertType   = "AWS::IoT::Certificate"
	provPolicyType = "AWS::IoT::Policy"
)

// certPseudoPrefix starts the pseudo parameters taken from the certificate.
const certPseudoPrefix = "AWS::IoT::Certificate::"

// Certificate pseudo parameters (AWS §5.4): the certificate id and fields of
// its subject.
const (
	CertParamID                         = certPseudoPrefix + "Id"
	CertParamCommonName                 = certPseudoPrefix + "CommonName"
	CertParamCountry                    = certPseudoPrefix + "Country"
	CertParamOrganization               = certPseudoPrefix + "Organization"
	CertParamOrganizationalUnit         = certPseudoPrefix + "OrganizationalUnit"
	CertParamDistinguishedNameQualifier = certPseudoPrefix + "DistinguishedNameQualifier"
	CertParamStateName                  = certPseudoPrefix + "StateName"
	CertParamLocality                   = certPseudoPrefix + "Locality"
	CertParamSerialNumber               = certPseudoPrefix + "SerialNumber"
)

var certParams = []string{CertParamID, CertParamCommonName, CertParamCountry, CertParamOrganization,
	CertParamOrganizationalUnit, CertParamDistinguishedNameQualifier, CertParamStateName, CertParamLocality, CertParamSerialNumber}

// oidDNQualifier is the distinguishedNameQualifier attribute (RFC 4519),
// which crypto/x509/pkix does not name.
var oidDNQualifier = asn1.ObjectIdentifier{2, 5, 4, 46}

// Override settings of an existing thing.
const (
	OverrideReplace   = "REPLACE"
	OverrideMerge     = "MERGE"
	OverrideFail      = "FAIL"
	OverrideDoNothing = "DO_NOTHING"
)

// Limits of provisioning templates.
const (
	maxProvisioningBody     = 10240 // the model's TemplateBody
	maxPoliciesPerTemplate  = maxPoliciesByTarget
	deviceConfigurationName = "DeviceConfiguration"
)

// sections a provisioning template may have.
var provSections = []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings", "Conditions", "Resources", deviceConfigurationName}

// provFunctions are the intrinsic functions a provisioning template may use.
var provFunctions = map[string]bool{
	"Ref": true, "Fn::Join": true, "Fn::Sub": true, "Fn::Split": true, "Fn::Select": true, "Fn::FindInMap": true,
	"Fn::If": true, "Fn::Base64": true, "Fn::Equals": true, "Fn::Not": true, "Fn::And": true, "Fn::Or": true,
}

// provPseudo are the CloudFormation pseudo parameters that mean something
// in a provisioning template.
var provPseudo = map[string]bool{"AWS::AccountId": true, "AWS::Region": true, "AWS::Partition": true, "AWS::URLSuffix": true, "AWS::NoValue": true}

// Properties of each resource type, and which are required.
var provProperties = map[string][]string{
	provThingType:  {"ThingName", "ThingTypeName", "ThingGroups", "AttributePayload", "OverrideSettings"},
	provCertType:   {"CertificateId", "Status"},
	provPolicyType: {"PolicyName", "PolicyDocument"},
}

// ProvisioningTemplate is a parsed and checked provisioning template body.
// It is immutable and safe for concurrent use.
type ProvisioningTemplate struct {
	t            *template.Template
	deviceConfig any // the DeviceConfiguration section as plain values; nil when absent
	// certParams are the certificate pseudo parameters the template
	// declares or refers to: Plan gives them values from the certificate.
	certParams []string
}

// ProvisioningPlan is what a template asks for with one set of parameters:
// the resources to create or update and what to tell the device.
type ProvisioningPlan struct {
	Thing       *ThingProvisioning       // nil: the template has no thing (or its condition is false)
	Certificate *CertificateProvisioning // nil: no certificate resource
	Policies    []PolicyProvisioning
	// DeviceConfiguration is the evaluated DeviceConfiguration section,
	// values as text (lists and maps as compact JSON).
	DeviceConfiguration map[string]string
}

// ThingProvisioning is a template's thing.
type ThingProvisioning struct {
	LogicalID     string
	ThingName     string
	ThingTypeName string            // "" for none
	Attributes    map[string]string // nil when the template gives no AttributePayload
	ThingGroups   []string          // nil when the template gives none
	// Overrides maps AttributePayload, ThingTypeName and ThingGroups to what
	// to do when the thing exists: an Override* constant.
	Overrides map[string]string
}

// CertificateProvisioning is a template's certificate.
type CertificateProvisioning struct {
	LogicalID     string
	CertificateID string
	Status        string // ACTIVE or INACTIVE
}

// PolicyProvisioning is one of a template's policies: a policy that must
// exist (Document empty) or one made from Document, named after its hash.
type PolicyProvisioning struct {
	LogicalID  string
	PolicyName string
	Document   string
}

// provTemplateError turns template problems into an InvalidRequestException.
func provTemplateError(err error) error {
	var te *template.Errors
	if errors.As(err, &te) {
		return invalid("Invalid template body: %s", te.Error())
	}
	return err
}

// ParseProvisioningTemplate parses and checks a provisioning template body
// (see the file comment). Problems are InvalidRequestExceptions whose
// message lists them with their paths and positions.
func ParseProvisioningTemplate(body string) (*ProvisioningTemplate, error) {
	trimmed := bytes.TrimSpace([]byte(body))
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, invalid("Invalid template body: the template body must be a JSON object")
	}
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &sections); err != nil {
		return nil, invalid("Invalid template body: JSON not well-formed: %v", err)
	}
	t, err := template.Parse(trimmed)
	if err != nil {
		return nil, provTemplateError(err)
	}
	pt := &ProvisioningTemplate{t: t}
	var problems []template.Problem
	add := func(path, format string, args ...any) {
		problems = append(problems, template.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	for _, name := range slices.Sorted(maps.Keys(sections)) {
		if !slices.Contains(provSections, name) {
			add(name, "Template format error: Invalid template property or properties [%s]; a provisioning template has %s", name, strings.Join(provSections, ", "))
		}
	}
	if raw, ok := sections[deviceConfigurationName]; ok {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, invalid("Invalid template body: DeviceConfiguration: %v", err)
		}
		pt.deviceConfig = plainNumbers(v)
		if _, isMap := pt.deviceConfig.(map[string]any); !isMap {
			add(deviceConfigurationName, "Template format error: DeviceConfiguration must be an object")
		}
	}

	// The certificate pseudo parameters referred to without a declaration
	// become parameters of type String, so that the CloudFormation checks
	// and evaluator see them.
	refs := map[string]bool{}
	for _, id := range t.ResourceOrder {
		collectRefs(t.Resources[id].Properties, refs)
	}
	for _, c := range t.Conditions {
		collectRefs(c, refs)
	}
	collectRefs(pt.deviceConfig, refs)
	declared := map[string]bool{}
	for name := range t.Parameters {
		declared[name] = true
	}
	if t.Parameters == nil {
		t.Parameters = map[string]*template.Parameter{}
	}
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		if !strings.HasPrefix(name, certPseudoPrefix) || declared[name] {
			continue
		}
		if !slices.Contains(certParams, name) {
			add("", "Template format error: Unknown pseudo parameter %s; the certificate pseudo parameters are %s", name, strings.Join(certParams, ", "))
			continue
		}
		t.Parameters[name] = &template.Parameter{Type: "String"}
	}
	for _, name := range slices.Sorted(maps.Keys(t.Parameters)) {
		if strings.HasPrefix(name, certPseudoPrefix) {
			if !slices.Contains(certParams, name) {
				add("Parameters/"+name, "Template format error: Unknown pseudo parameter %s; the certificate pseudo parameters are %s", name, strings.Join(certParams, ", "))
				continue
			}
			pt.certParams = append(pt.certParams, name)
		}
	}

	// CloudFormation's checks, but for what the provisioning dialect adds:
	// its extra section and the names of the certificate pseudo
	// parameters.
	supported := func(typ string) bool { return provProperties[typ] != nil }
	if err := t.Validate(supported); err != nil {
		var te *template.Errors
		if !errors.As(err, &te) {
			return nil, err
		}
		for _, p := range te.Problems {
			if dialectProblem(p) {
				continue
			}
			problems = append(problems, p)
		}
	}
	for _, id := range t.ResourceOrder {
		if t.Resources[id].Type == "AWS::CDK::Metadata" {
			add("Resources/"+id+"/Type", "Unsupported resource type: AWS::CDK::Metadata")
		}
	}
	problems = append(problems, pt.checkFunctions()...)
	problems = append(problems, pt.checkResources()...)
	if len(problems) > 0 {
		texts := make([]string, len(problems))
		for i, p := range problems {
			texts[i] = t.Locate(p).String()
		}
		return nil, invalid("Invalid template body: %s", strings.Join(texts, "; "))
	}
	return pt, nil
}

// dialectProblem reports whether a problem CloudFormation's Validate finds
// is one the provisioning dialect allows: its DeviceConfiguration section
// and the "::" in the names of certificate pseudo parameters.
func dialectProblem(p template.Problem) bool {
	if p.Path == deviceConfigurationName && p.Message == "Template format error: Invalid template property or properties [DeviceConfiguration]" {
		return true
	}
	name, ok := strings.CutPrefix(p.Path, "Parameters/")
	return ok && slices.Contains(certParams, name) && p.Message == fmt.Sprintf("Template format error: Parameter name %s is non alphanumeric.", name)
}

// plainNumbers converts the json.Numbers of a decoded value to int64 or
// float64, as the template package represents numbers.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	}
	return v
}

// intrinsicCall reports whether v is an intrinsic function call, as the template
// package recognizes them.
func intrinsicCall(v any) (name string, arg any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", nil, false
}

// subVariable matches the ${Name} variables of Fn::Sub (not ${!Literal}).
var subVariable = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// collectRefs adds the names v refers to with Ref and Fn::Sub variables.
func collectRefs(v any, refs map[string]bool) {
	if name, arg, ok := intrinsicCall(v); ok {
		switch name {
		case "Ref":
			if s, ok := arg.(string); ok {
				refs[s] = true
			}
			return
		case "Fn::Sub":
			tmpl, vars := subTemplate(arg)
			for _, m := range subVariable.FindAllStringSubmatch(tmpl, -1) {
				if name := strings.TrimSpace(m[1]); vars[name] == nil {
					refs[name] = true
				}
			}
			for _, x := range vars {
				collectRefs(x, refs)
			}
			return
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			collectRefs(e, refs)
		}
	case []any:
		for _, e := range x {
			collectRefs(e, refs)
		}
	}
}

// subTemplate splits the argument of Fn::Sub.
func subTemplate(arg any) (string, map[string]any) {
	switch a := arg.(type) {
	case string:
		return a, nil
	case []any:
		if len(a) == 2 {
			s, _ := a[0].(string)
			vars, _ := a[1].(map[string]any)
			return s, vars
		}
	}
	return "", nil
}

// checkFunctions checks the functions and references of the values the
// CloudFormation checks do not restrict enough: only provFunctions, no
// Ref to a resource or to a stack's pseudo parameters, and in
// DeviceConfiguration (which Validate does not see) only names that exist.
func (pt *ProvisioningTemplate) checkFunctions() []template.Problem {
	var problems []template.Problem
	add := func(path, format string, args ...any) {
		problems = append(problems, template.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	var walk func(v any, path string, strict bool)
	walk = func(v any, path string, strict bool) {
		if name, arg, ok := intrinsicCall(v); ok {
			p := path + "/" + name
			if !provFunctions[name] {
				add(p, "Template format error: Encountered unsupported function: %s; a provisioning template may use %s",
					name, strings.Join(slices.Sorted(maps.Keys(provFunctions)), ", "))
				return
			}
			refs := map[string]bool{}
			collectRefs(v, refs)
			for _, r := range slices.Sorted(maps.Keys(refs)) {
				if _, isResource := pt.t.Resources[r]; isResource {
					add(p, "Template format error: %s refers to resource %s; values of a provisioning template may refer only to parameters", name, r)
					continue
				}
				if strings.HasPrefix(r, "AWS::") && !strings.HasPrefix(r, certPseudoPrefix) && !provPseudo[r] {
					add(p, "Template format error: %s refers to %s, which a provisioning template has no value for", name, r)
					continue
				}
				if _, isParam := pt.t.Parameters[r]; strict && !isParam && !provPseudo[r] {
					add(p, "Template format error: Unresolved dependencies [%s] in the DeviceConfiguration block of the template", r)
				}
			}
			walkIntrinsicArgs(arg, p, func(x any, q string) { walk(x, q, strict) })
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				walk(x[k], path+"/"+k, strict)
			}
		case []any:
			for i, e := range x {
				walk(e, path+"/"+strconv.Itoa(i), strict)
			}
		}
	}
	for _, id := range pt.t.ResourceOrder {
		walk(pt.t.Resources[id].Properties, "Resources/"+id+"/Properties", false)
	}
	for _, name := range slices.Sorted(maps.Keys(pt.t.Conditions)) {
		walk(pt.t.Conditions[name], "Conditions/"+name, false)
	}
	if pt.deviceConfig != nil {
		walk(pt.deviceConfig, deviceConfigurationName, true)
	}
	return problems
}

// walkIntrinsicArgs calls fn with each value inside a function's argument.
func walkIntrinsicArgs(arg any, path string, fn func(v any, path string)) {
	switch a := arg.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(a)) {
			fn(a[k], path+"/"+k)
		}
	case []any:
		for i, e := range a {
			fn(e, path+"/"+strconv.Itoa(i))
		}
	}
}

// checkResources checks each resource's properties: known names, required
// ones, literal values where they are literal, and the counts.
func (pt *ProvisioningTemplate) checkResources() []template.Problem {
	var problems []template.Problem
	add := func(path, format string, args ...any) {
		problems = append(problems, template.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	count := map[string]int{}
	for _, id := range pt.t.ResourceOrder {
		r := pt.t.Resources[id]
		known := provProperties[r.Type]
		if known == nil {
			continue // Validate reported it
		}
		count[r.Type]++
		path := "Resources/" + id + "/Properties"
		for _, k := range slices.Sorted(maps.Keys(r.Properties)) {
			if !slices.Contains(known, k) {
				add(path+"/"+k, "Template format error: Invalid property %s of %s resource %s; it takes %s", k, r.Type, id, strings.Join(known, ", "))
			}
		}
		literal := func(k string) (string, bool) {
			s, ok := r.Properties[k].(string)
			return s, ok
		}
		switch r.Type {
		case provThingType:
			if r.Properties["ThingName"] == nil {
				add(path, "Template format error: %s resource %s must have a ThingName", r.Type, id)
			}
			if o, ok := r.Properties["OverrideSettings"]; ok {
				m, isMap := o.(map[string]any)
				if !isMap {
					add(path+"/OverrideSettings", "Template format error: OverrideSettings of %s must be an object", id)
					break
				}
				for _, k := range slices.Sorted(maps.Keys(m)) {
					if msg := checkOverride(k, m[k]); msg != "" {
						add(path+"/OverrideSettings/"+k, "Template format error: %s", msg)
					}
				}
			}
		case provCertType:
			if r.Properties["CertificateId"] == nil {
				add(path, "Template format error: %s resource %s must have a CertificateId, usually {\"Ref\": \"%s\"}", r.Type, id, CertParamID)
			}
			if s, ok := literal("Status"); ok && certStatusOf(s) == "" {
				add(path+"/Status", "Template format error: Status of %s must be ACTIVE or INACTIVE, not %q", id, s)
			}
		case provPolicyType:
			_, hasName := r.Properties["PolicyName"]
			_, hasDoc := r.Properties["PolicyDocument"]
			if hasName == hasDoc {
				add(path, "Template format error: %s resource %s must have either a PolicyName or a PolicyDocument", r.Type, id)
			}
			if s, ok := literal("PolicyName"); ok {
				if err := validatePolicyName(s); err != nil {
					add(path+"/PolicyName", "%s", iotdmMessage(err))
				}
			}
			if doc, ok := r.Properties["PolicyDocument"]; ok {
				if _, _, isCall := intrinsicCall(doc); !isCall {
					if _, err := policyDocumentText(doc); err != nil {
						add(path+"/PolicyDocument", "%s", iotdmMessage(err))
					}
				}
			}
		}
	}
	if count[provThingType] > 1 {
		add("Resources", "Template format error: a provisioning template has at most one %s resource, not %d", provThingType, count[provThingType])
	}
	if count[provCertType] > 1 {
		add("Resources", "Template format error: a provisioning template has at most one %s resource, not %d", provCertType, count[provCertType])
	}
	if count[provPolicyType] > maxPoliciesPerTemplate {
		add("Resources", "Template format error: a provisioning template has at most %d %s resources, not %d", maxPoliciesPerTemplate, provPolicyType, count[provPolicyType])
	}
	return problems
}

// iotdmMessage is the message of an *iotdm.Error, or err's text.
func iotdmMessage(err error) string {
	var e *iotdm.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// overrideChoices are the values each override setting takes.
var overrideChoices = map[string][]string{
	"AttributePayload": {OverrideReplace, OverrideMerge, OverrideFail, OverrideDoNothing},
	"ThingTypeName":    {OverrideReplace, OverrideFail, OverrideDoNothing},
	"ThingGroups":      {OverrideReplace, OverrideMerge, OverrideFail, OverrideDoNothing},
}

// checkOverride returns why an override setting is wrong, or "".
func checkOverride(key string, v any) string {
	choices, ok := overrideChoices[key]
	if !ok {
		return fmt.Sprintf("Unknown override setting %s; the settings are AttributePayload, ThingTypeName and ThingGroups", key)
	}
	s, isString := v.(string)
	if _, _, isCall := intrinsicCall(v); isCall {
		return ""
	}
	if !isString || !slices.Contains(choices, strings.ToUpper(s)) {
		return fmt.Sprintf("Override setting %s must be one of %s", key, strings.Join(choices, ", "))
	}
	return ""
}

// certStatusOf returns the certificate status a template's Status names
// (AWS's examples write "Active"), or "".
func certStatusOf(s string) string {
	switch strings.ToUpper(s) {
	case iotdm.CertificateActive:
		return iotdm.CertificateActive
	case iotdm.CertificateInactive:
		return iotdm.CertificateInactive
	}
	return ""
}

// policyDocumentText returns a PolicyDocument as the text of a valid
// policy: a string as is, an object as compact JSON.
func policyDocumentText(v any) (string, error) {
	var doc string
	switch d := v.(type) {
	case string:
		doc = d
	case map[string]any:
		b, err := json.Marshal(d)
		if err != nil {
			return "", invalid("PolicyDocument: %v", err)
		}
		doc = string(b)
	default:
		return "", invalid("PolicyDocument must be a string or an object")
	}
	if _, err := parseDocument(doc); err != nil {
		return "", err
	}
	return doc, nil
}

// templatePolicyName is the name of the policy a template's PolicyDocument
// makes: the hex SHA-256 of the document.
func templatePolicyName(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// CertificateParameters returns the values of the certificate pseudo
// parameters for a certificate: its id and the fields of its subject it
// has (the first value of each).
func CertificateParameters(cert *x509.Certificate) map[string]string {
	out := map[string]string{CertParamID: pki.CertificateID(cert.Raw)}
	s := cert.Subject
	set := func(name string, values []string) {
		if len(values) > 0 && values[0] != "" {
			out[name] = values[0]
		}
	}
	set(CertParamCommonName, []string{s.CommonName})
	set(CertParamCountry, s.Country)
	set(CertParamOrganization, s.Organization)
	set(CertParamOrganizationalUnit, s.OrganizationalUnit)
	set(CertParamStateName, s.Province)
	set(CertParamLocality, s.Locality)
	set(CertParamSerialNumber, []string{s.SerialNumber})
	for _, atv := range s.Names {
		if atv.Type.Equal(oidDNQualifier) {
			if v, ok := atv.Value.(string); ok {
				set(CertParamDistinguishedNameQualifier, []string{v})
				break
			}
		}
	}
	return out
}

// PlanContext is what a plan is made for besides the device's parameters.
type PlanContext struct {
	Region    string // AWS::Region
	AccountID string // AWS::AccountId
	// Certificate gives the certificate pseudo parameters
	// (CertificateParameters); its id is the only CertificateId the
	// template's certificate may name.
	Certificate *x509.Certificate
}

// Plan evaluates the template with the given parameters: parameters the
// template does not declare are ignored, certificate pseudo parameters
// come from pc.Certificate whatever params says. Missing parameters
// without a default, values that break a parameter's constraints and
// evaluation failures are InvalidRequestExceptions; a PolicyDocument that
// is no valid policy a MalformedPolicyException.
func (pt *ProvisioningTemplate) Plan(params map[string]string, pc PlanContext) (*ProvisioningPlan, error) {
	given := map[string]string{}
	for k, v := range params {
		if _, declared := pt.t.Parameters[k]; declared && !strings.HasPrefix(k, certPseudoPrefix) {
			given[k] = v
		}
	}
	var certID string
	if pc.Certificate != nil {
		fromCert := CertificateParameters(pc.Certificate)
		certID = fromCert[CertParamID]
		for _, name := range pt.certParams {
			if v, ok := fromCert[name]; ok {
				given[name] = v
			}
		}
	}
	values, err := pt.t.ResolveParameters(given, nil)
	if err != nil {
		return nil, provTemplateError(err)
	}
	ctx := &template.Context{Parameters: values, Pseudo: template.Pseudo{AccountID: pc.AccountID, Region: pc.Region}}
	if ctx.Conditions, err = pt.t.EvalConditions(ctx); err != nil {
		return nil, provTemplateError(err)
	}
	plan := &ProvisioningPlan{DeviceConfiguration: map[string]string{}}
	for _, id := range pt.t.ResourceOrder {
		r := pt.t.Resources[id]
		if r.Condition != "" && !ctx.Conditions[r.Condition] {
			continue
		}
		path := "Resources/" + id + "/Properties"
		v, err := pt.t.Eval(ctx, path, r.Properties)
		if err != nil {
			return nil, provTemplateError(err)
		}
		props, _ := v.(map[string]any)
		switch r.Type {
		case provThingType:
			plan.Thing, err = thingPlan(id, path, props)
		case provCertType:
			plan.Certificate, err = certPlan(id, path, props, certID)
		case provPolicyType:
			var p PolicyProvisioning
			if p, err = policyPlan(id, path, props); err == nil {
				plan.Policies = append(plan.Policies, p)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if pt.deviceConfig != nil {
		v, err := pt.t.Eval(ctx, deviceConfigurationName, pt.deviceConfig)
		if err != nil {
			return nil, provTemplateError(err)
		}
		m, _ := v.(map[string]any)
		for k, x := range m {
			plan.DeviceConfiguration[k] = valueText(x)
		}
	}
	return plan, nil
}

// valueText is an evaluated value as text: scalars as themselves, lists
// and maps as compact JSON.
func valueText(v any) string {
	if s, ok := provScalar(v); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// provScalar is the text of a string, number or boolean.
func provScalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// stringProp returns a property that must evaluate to a string ("" when
// absent).
func stringProp(props map[string]any, key, path string) (string, error) {
	v, ok := props[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := provScalar(v)
	if !ok {
		return "", invalid("Invalid template body: %s must be a string (%s/%s)", key, path, key)
	}
	return s, nil
}

func thingPlan(id, path string, props map[string]any) (*ThingProvisioning, error) {
	th := &ThingProvisioning{LogicalID: id, Overrides: map[string]string{}}
	var err error
	if th.ThingName, err = stringProp(props, "ThingName", path); err != nil {
		return nil, err
	}
	if err := validateName("ThingName", th.ThingName); err != nil {
		return nil, invalid("Invalid thing name %q from the template: %s", th.ThingName, iotdmMessage(err))
	}
	if th.ThingTypeName, err = stringProp(props, "ThingTypeName", path); err != nil {
		return nil, err
	}
	if err := validateOptionalName("ThingTypeName", th.ThingTypeName); err != nil {
		return nil, invalid("Invalid thing type name %q from the template: %s", th.ThingTypeName, iotdmMessage(err))
	}
	if v, ok := props["AttributePayload"]; ok && v != nil {
		m, isMap := v.(map[string]any)
		if inner, nested := m["attributes"].(map[string]any); nested && len(m) == 1 {
			m = inner // the API's shape, {"attributes": {…}}
		}
		if !isMap {
			return nil, invalid("Invalid template body: AttributePayload must be an object of attribute values (%s/AttributePayload)", path)
		}
		th.Attributes = map[string]string{}
		for k, x := range m {
			s, ok := provScalar(x)
			if !ok {
				return nil, invalid("Invalid template body: attribute %s must be a string (%s/AttributePayload/%s)", k, path, k)
			}
			th.Attributes[k] = s
		}
		if err := validateAttributes(th.Attributes); err != nil {
			return nil, err
		}
	}
	if v, ok := props["ThingGroups"]; ok && v != nil {
		th.ThingGroups = []string{}
		items, isList := v.([]any)
		if !isList {
			items = []any{v}
		}
		for i, x := range items {
			s, ok := provScalar(x)
			if !ok {
				return nil, invalid("Invalid template body: thing group names must be strings (%s/ThingGroups/%d)", path, i)
			}
			if err := validateName("ThingGroups", s); err != nil {
				return nil, err
			}
			if !slices.Contains(th.ThingGroups, s) {
				th.ThingGroups = append(th.ThingGroups, s)
			}
		}
		if len(th.ThingGroups) > maxGroupsPerThing {
			return nil, invalid("A thing can be in at most %d thing groups; the template names %d", maxGroupsPerThing, len(th.ThingGroups))
		}
	}
	if o, ok := props["OverrideSettings"].(map[string]any); ok {
		for k, x := range o {
			s, _ := provScalar(x)
			if msg := checkOverride(k, s); msg != "" {
				return nil, invalid("Invalid template body: %s (%s/OverrideSettings/%s)", msg, path, k)
			}
			th.Overrides[k] = strings.ToUpper(s)
		}
	}
	return th, nil
}

func certPlan(id, path string, props map[string]any, certID string) (*CertificateProvisioning, error) {
	c := &CertificateProvisioning{LogicalID: id, Status: iotdm.CertificateActive}
	var err error
	if c.CertificateID, err = stringProp(props, "CertificateId", path); err != nil {
		return nil, err
	}
	if c.CertificateID != certID {
		return nil, invalid("The template's certificate %s names certificate %q, not the certificate being provisioned; use {\"Ref\": \"%s\"}", id, c.CertificateID, CertParamID)
	}
	status, err := stringProp(props, "Status", path)
	if err != nil {
		return nil, err
	}
	if status != "" {
		if c.Status = certStatusOf(status); c.Status == "" {
			return nil, invalid("Invalid template body: Status of %s must be ACTIVE or INACTIVE, not %q (%s/Status)", id, status, path)
		}
	}
	return c, nil
}

func policyPlan(id, path string, props map[string]any) (PolicyProvisioning, error) {
	p := PolicyProvisioning{LogicalID: id}
	if doc, ok := props["PolicyDocument"]; ok && doc != nil {
		text, err := policyDocumentText(doc)
		if err != nil {
			return p, err
		}
		p.Document, p.PolicyName = text, templatePolicyName(text)
		return p, nil
	}
	name, err := stringProp(props, "PolicyName", path)
	if err != nil {
		return p, err
	}
	if err := validatePolicyName(name); err != nil {
		return p, err
	}
	p.PolicyName = name
	return p, nil
}
