package stack

import (
	"encoding/json"
	"time"

	"github.com/iotdm/iotdm"
)

// Entity kinds the stack service stores.
const (
	KindStack        = "stack"        // key: stack name; the live stack (or the last attempt at it)
	KindDeletedStack = "stackdeleted" // key: stack id; DELETE_COMPLETE stacks, kept for ListStacks and DescribeStacks by id
	KindStackEvent   = "stackevent"   // key: "{stackId}/{seq:016x}"
	KindChangeSet    = "changeset"    // key: "{stackName}/{changeSetName}"
	KindExport       = "export"       // key: export name
)

// Stack is the stored state of one stack: what was asked for and what
// exists. The engine mutates a Stack as it works and saves it after each
// step together with the event that step produced.
type Stack struct {
	StackID               string               `json:"stackId"`
	StackName             string               `json:"stackName"`
	Description           string               `json:"description,omitempty"`
	Status                string               `json:"status"`
	StatusReason          string               `json:"statusReason,omitempty"`
	CreationTime          time.Time            `json:"creationTime"`
	LastUpdatedTime       time.Time            `json:"lastUpdatedTime,omitzero"`
	DeletionTime          time.Time            `json:"deletionTime,omitzero"`
	TemplateBody          string               `json:"templateBody"`
	Parameters            []Parameter          `json:"parameters,omitempty"`
	Tags                  []iotdm.Tag          `json:"tags,omitempty"`
	Capabilities          []string             `json:"capabilities,omitempty"`
	Outputs               []Output             `json:"outputs,omitempty"`
	Resources             map[string]*Resource `json:"resources,omitempty"`
	DisableRollback       bool                 `json:"disableRollback,omitempty"`
	TerminationProtection bool                 `json:"terminationProtection,omitempty"`
	TimeoutInMinutes      int                  `json:"timeoutInMinutes,omitempty"`
	NotificationARNs      []string             `json:"notificationArns,omitempty"`
	RoleARN               string               `json:"roleArn,omitempty"`
	ChangeSetID           string               `json:"changeSetId,omitempty"`
	// Imports are the exports this stack's template imports, so an export
	// in use cannot be removed.
	Imports []string `json:"imports,omitempty"`
	// EventSeq numbers this stack's events.
	EventSeq uint64 `json:"eventSeq"`
	// Node is the cluster node running the stack's operation while it is
	// in progress ("" for a server of its own, and once it has ended).
	Node string `json:"node,omitempty"`
}

// Parameter is one resolved parameter value.
type Parameter struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	NoEcho bool   `json:"noEcho,omitempty"`
	// ResolvedValue is the value an SSM parameter type resolved to.
	ResolvedValue string `json:"resolvedValue,omitempty"`
}

// Output is one evaluated output.
type Output struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
	ExportName  string `json:"exportName,omitempty"`
}

// Resource is one resource the stack manages.
type Resource struct {
	LogicalID           string         `json:"logicalId"`
	Type                string         `json:"type"`
	PhysicalID          string         `json:"physicalId,omitempty"`
	Status              string         `json:"status"`
	StatusReason        string         `json:"statusReason,omitempty"`
	Properties          map[string]any `json:"properties,omitempty"`
	Attributes          map[string]any `json:"attributes,omitempty"`
	DependsOn           []string       `json:"dependsOn,omitempty"`
	DeletionPolicy      string         `json:"deletionPolicy,omitempty"`
	UpdateReplacePolicy string         `json:"updateReplacePolicy,omitempty"`
	Metadata            map[string]any `json:"metadata,omitempty"`
	LastUpdated         time.Time      `json:"lastUpdated"`
}

// Event is one entry of a stack's event log.
type Event struct {
	EventID              string    `json:"eventId"`
	StackID              string    `json:"stackId"`
	StackName            string    `json:"stackName"`
	LogicalResourceID    string    `json:"logicalResourceId"`
	PhysicalResourceID   string    `json:"physicalResourceId,omitempty"`
	ResourceType         string    `json:"resourceType"`
	Timestamp            time.Time `json:"timestamp"`
	ResourceStatus       string    `json:"resourceStatus"`
	ResourceStatusReason string    `json:"resourceStatusReason,omitempty"`
	ResourceProperties   string    `json:"resourceProperties,omitempty"`
	ClientRequestToken   string    `json:"clientRequestToken,omitempty"`
}

// ChangeSet is a stored change set.
type ChangeSet struct {
	ChangeSetID      string            `json:"changeSetId"`
	ChangeSetName    string            `json:"changeSetName"`
	StackID          string            `json:"stackId"`
	StackName        string            `json:"stackName"`
	Description      string            `json:"description,omitempty"`
	ChangeSetType    string            `json:"changeSetType"` // CREATE, UPDATE, IMPORT
	Status           string            `json:"status"`
	StatusReason     string            `json:"statusReason,omitempty"`
	ExecutionStatus  string            `json:"executionStatus"`
	CreationTime     time.Time         `json:"creationTime"`
	TemplateBody     string            `json:"templateBody"`
	Parameters       []Parameter       `json:"parameters,omitempty"`
	Given            map[string]string `json:"given,omitempty"` // parameter values as given, before defaults
	Tags             []iotdm.Tag       `json:"tags,omitempty"`
	Capabilities     []string          `json:"capabilities,omitempty"`
	Changes          []Change          `json:"changes,omitempty"`
	NotificationARNs []string          `json:"notificationArns,omitempty"`
}

// Export is one exported output value.
type Export struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	StackID string `json:"stackId"`
}

// Change is one resource change of a plan, in the shape of CloudFormation's
// ResourceChange.
type Change struct {
	Action             string         `json:"action"` // Add, Modify, Remove
	LogicalResourceID  string         `json:"logicalResourceId"`
	PhysicalResourceID string         `json:"physicalResourceId,omitempty"`
	ResourceType       string         `json:"resourceType"`
	Replacement        string         `json:"replacement,omitempty"` // True, False, Conditional (Modify only)
	Scope              []string       `json:"scope,omitempty"`       // Properties, Tags, Metadata
	Details            []ChangeDetail `json:"details,omitempty"`
	BeforeContext      string         `json:"beforeContext,omitempty"` // the resource's properties as JSON
	AfterContext       string         `json:"afterContext,omitempty"`
	// Security is true when the change touches what devices may do: a
	// policy document or an attachment of a policy.
	Security bool `json:"security,omitempty"`
}

// ChangeDetail is one property-level difference.
type ChangeDetail struct {
	Attribute           string `json:"attribute"` // Properties, Tags, Metadata
	Name                string `json:"name,omitempty"`
	Path                string `json:"path,omitempty"`
	RequiresRecreation  string `json:"requiresRecreation,omitempty"` // Never, Conditionally, Always
	BeforeValue         string `json:"beforeValue,omitempty"`
	AfterValue          string `json:"afterValue,omitempty"`
	AttributeChangeType string `json:"attributeChangeType,omitempty"` // Add, Remove, Modify
	Evaluation          string `json:"evaluation"`                    // Static, Dynamic
	ChangeSource        string `json:"changeSource,omitempty"`        // DirectModification, ResourceReference, ParameterReference, ResourceAttribute
	CausingEntity       string `json:"causingEntity,omitempty"`
}

// clone returns a deep copy of st, so a rollback can return to it.
func (st *Stack) clone() *Stack {
	b, err := json.Marshal(st)
	if err != nil {
		panic("stack: marshal stack: " + err.Error())
	}
	var c Stack
	if err := json.Unmarshal(b, &c); err != nil {
		panic("stack: unmarshal stack: " + err.Error())
	}
	return &c
}

// cloneResource returns a deep copy of r.
func cloneResource(r *Resource) *Resource {
	if r == nil {
		return nil
	}
	c := *r
	c.Properties = deepCopyMap(r.Properties)
	c.Attributes = deepCopyMap(r.Attributes)
	c.Metadata = deepCopyMap(r.Metadata)
	c.DependsOn = append([]string(nil), r.DependsOn...)
	return &c
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopyMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// paramMap returns the stored parameter values by key.
func paramMap(ps []Parameter) map[string]string {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.Key] = p.Value
	}
	return m
}
