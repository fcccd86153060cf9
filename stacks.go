package iotdm

import (
	"context"
	"time"
)

// The stack shapes are CloudFormation's (botocore model cloudformation
// 2010-05-15). Field names are the model's member names, which the query
// protocol adapter binds by name, so they keep the model's spelling (StackId,
// RoleARN) rather than Go's initialisms.
//
// Optional values follow one rule: a string, slice, struct pointer or
// timestamp is absent when it is empty, nil or zero. Booleans and integers
// that a request may leave out are pointers, since CloudFormation often reads
// absence as "keep what the stack has"; a plain bool or int in an output is
// always sent, as CloudFormation sends DisableRollback or NoEcho false. Go
// type names follow the model where the root package has no other type of
// that name (StackChange is the model's Change, TemplateSummaryWarnings its
// Warnings).

// Stacks is the CloudFormation service: one method per operation the
// cloudformation endpoint serves, named and shaped as the model's. Failures
// are *Error with the codes CloudFormation uses; a stack that does not exist
// is ErrValidationError (see StackDoesNotExist), as AWS answers.
type Stacks interface {
	CreateStack(ctx context.Context, in *CreateStackInput) (*CreateStackOutput, error)
	UpdateStack(ctx context.Context, in *UpdateStackInput) (*UpdateStackOutput, error)
	DeleteStack(ctx context.Context, in *DeleteStackInput) (*DeleteStackOutput, error)
	CancelUpdateStack(ctx context.Context, in *CancelUpdateStackInput) (*CancelUpdateStackOutput, error)
	ContinueUpdateRollback(ctx context.Context, in *ContinueUpdateRollbackInput) (*ContinueUpdateRollbackOutput, error)
	DescribeStacks(ctx context.Context, in *DescribeStacksInput) (*DescribeStacksOutput, error)
	ListStacks(ctx context.Context, in *ListStacksInput) (*ListStacksOutput, error)
	DescribeStackEvents(ctx context.Context, in *DescribeStackEventsInput) (*DescribeStackEventsOutput, error)
	DescribeStackResource(ctx context.Context, in *DescribeStackResourceInput) (*DescribeStackResourceOutput, error)
	DescribeStackResources(ctx context.Context, in *DescribeStackResourcesInput) (*DescribeStackResourcesOutput, error)
	ListStackResources(ctx context.Context, in *ListStackResourcesInput) (*ListStackResourcesOutput, error)
	GetTemplate(ctx context.Context, in *GetTemplateInput) (*GetTemplateOutput, error)
	GetTemplateSummary(ctx context.Context, in *GetTemplateSummaryInput) (*GetTemplateSummaryOutput, error)
	ValidateTemplate(ctx context.Context, in *ValidateTemplateInput) (*ValidateTemplateOutput, error)
	CreateChangeSet(ctx context.Context, in *CreateChangeSetInput) (*CreateChangeSetOutput, error)
	DescribeChangeSet(ctx context.Context, in *DescribeChangeSetInput) (*DescribeChangeSetOutput, error)
	ExecuteChangeSet(ctx context.Context, in *ExecuteChangeSetInput) (*ExecuteChangeSetOutput, error)
	DeleteChangeSet(ctx context.Context, in *DeleteChangeSetInput) (*DeleteChangeSetOutput, error)
	ListChangeSets(ctx context.Context, in *ListChangeSetsInput) (*ListChangeSetsOutput, error)
	ListExports(ctx context.Context, in *ListExportsInput) (*ListExportsOutput, error)
}

// Error codes of CloudFormation, as its model names them on the wire (the
// query protocol's error code, which for some exceptions is not the shape
// name). CloudFormation's LimitExceededException is ErrLimitExceeded; the
// cloudformation endpoint sends it as 400, where iot sends 410.
const (
	// ErrValidationError is CloudFormation's catch-all client error (400),
	// also for a stack that does not exist.
	ErrValidationError          ErrorCode = "ValidationError"
	ErrAlreadyExists            ErrorCode = "AlreadyExistsException"
	ErrInsufficientCapabilities ErrorCode = "InsufficientCapabilitiesException"
	ErrTokenAlreadyExists       ErrorCode = "TokenAlreadyExistsException"
	// ErrChangeSetNotFound is ChangeSetNotFoundException (404).
	ErrChangeSetNotFound ErrorCode = "ChangeSetNotFound"
	// ErrInvalidChangeSetStatus is InvalidChangeSetStatusException (400).
	ErrInvalidChangeSetStatus ErrorCode = "InvalidChangeSetStatus"
	// ErrStackNotFound (404) is for stack refactors and stack instances;
	// the stack operations answer a missing stack with ErrValidationError.
	ErrStackNotFound    ErrorCode = "StackNotFoundException"
	ErrStackSetNotFound ErrorCode = "StackSetNotFoundException"
)

// StackDoesNotExist is the error CloudFormation answers for a stack name or
// id it does not know. The aws CLI's deploy command recognises a new stack by
// this exact message.
func StackDoesNotExist(nameOrID string) *Error {
	return Errorf(ErrValidationError, "Stack with id %s does not exist", nameOrID)
}

// ChangeSetDoesNotExist is the error CloudFormation answers for a change set
// name or id it does not know.
func ChangeSetDoesNotExist(nameOrID string) *Error {
	return Errorf(ErrChangeSetNotFound, "ChangeSet [%s] does not exist", nameOrID)
}

// StackStatus is the model's StackStatus.
type StackStatus string

const (
	StackStatusCreateInProgress                        StackStatus = "CREATE_IN_PROGRESS"
	StackStatusCreateFailed                            StackStatus = "CREATE_FAILED"
	StackStatusCreateComplete                          StackStatus = "CREATE_COMPLETE"
	StackStatusRollbackInProgress                      StackStatus = "ROLLBACK_IN_PROGRESS"
	StackStatusRollbackFailed                          StackStatus = "ROLLBACK_FAILED"
	StackStatusRollbackComplete                        StackStatus = "ROLLBACK_COMPLETE"
	StackStatusDeleteInProgress                        StackStatus = "DELETE_IN_PROGRESS"
	StackStatusDeleteFailed                            StackStatus = "DELETE_FAILED"
	StackStatusDeleteComplete                          StackStatus = "DELETE_COMPLETE"
	StackStatusUpdateInProgress                        StackStatus = "UPDATE_IN_PROGRESS"
	StackStatusUpdateCompleteCleanupInProgress         StackStatus = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
	StackStatusUpdateComplete                          StackStatus = "UPDATE_COMPLETE"
	StackStatusUpdateFailed                            StackStatus = "UPDATE_FAILED"
	StackStatusUpdateRollbackInProgress                StackStatus = "UPDATE_ROLLBACK_IN_PROGRESS"
	StackStatusUpdateRollbackFailed                    StackStatus = "UPDATE_ROLLBACK_FAILED"
	StackStatusUpdateRollbackCompleteCleanupInProgress StackStatus = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
	StackStatusUpdateRollbackComplete                  StackStatus = "UPDATE_ROLLBACK_COMPLETE"
	StackStatusReviewInProgress                        StackStatus = "REVIEW_IN_PROGRESS"
	StackStatusImportInProgress                        StackStatus = "IMPORT_IN_PROGRESS"
	StackStatusImportComplete                          StackStatus = "IMPORT_COMPLETE"
	StackStatusImportRollbackInProgress                StackStatus = "IMPORT_ROLLBACK_IN_PROGRESS"
	StackStatusImportRollbackFailed                    StackStatus = "IMPORT_ROLLBACK_FAILED"
	StackStatusImportRollbackComplete                  StackStatus = "IMPORT_ROLLBACK_COMPLETE"
)

// ResourceStatus is the model's ResourceStatus, of a stack's resources and
// events.
type ResourceStatus string

const (
	ResourceStatusCreateInProgress         ResourceStatus = "CREATE_IN_PROGRESS"
	ResourceStatusCreateFailed             ResourceStatus = "CREATE_FAILED"
	ResourceStatusCreateComplete           ResourceStatus = "CREATE_COMPLETE"
	ResourceStatusDeleteInProgress         ResourceStatus = "DELETE_IN_PROGRESS"
	ResourceStatusDeleteFailed             ResourceStatus = "DELETE_FAILED"
	ResourceStatusDeleteComplete           ResourceStatus = "DELETE_COMPLETE"
	ResourceStatusDeleteSkipped            ResourceStatus = "DELETE_SKIPPED"
	ResourceStatusUpdateInProgress         ResourceStatus = "UPDATE_IN_PROGRESS"
	ResourceStatusUpdateFailed             ResourceStatus = "UPDATE_FAILED"
	ResourceStatusUpdateComplete           ResourceStatus = "UPDATE_COMPLETE"
	ResourceStatusImportFailed             ResourceStatus = "IMPORT_FAILED"
	ResourceStatusImportComplete           ResourceStatus = "IMPORT_COMPLETE"
	ResourceStatusImportInProgress         ResourceStatus = "IMPORT_IN_PROGRESS"
	ResourceStatusImportRollbackInProgress ResourceStatus = "IMPORT_ROLLBACK_IN_PROGRESS"
	ResourceStatusImportRollbackFailed     ResourceStatus = "IMPORT_ROLLBACK_FAILED"
	ResourceStatusImportRollbackComplete   ResourceStatus = "IMPORT_ROLLBACK_COMPLETE"
	ResourceStatusExportFailed             ResourceStatus = "EXPORT_FAILED"
	ResourceStatusExportComplete           ResourceStatus = "EXPORT_COMPLETE"
	ResourceStatusExportInProgress         ResourceStatus = "EXPORT_IN_PROGRESS"
	ResourceStatusExportRollbackInProgress ResourceStatus = "EXPORT_ROLLBACK_IN_PROGRESS"
	ResourceStatusExportRollbackFailed     ResourceStatus = "EXPORT_ROLLBACK_FAILED"
	ResourceStatusExportRollbackComplete   ResourceStatus = "EXPORT_ROLLBACK_COMPLETE"
	ResourceStatusUpdateRollbackInProgress ResourceStatus = "UPDATE_ROLLBACK_IN_PROGRESS"
	ResourceStatusUpdateRollbackComplete   ResourceStatus = "UPDATE_ROLLBACK_COMPLETE"
	ResourceStatusUpdateRollbackFailed     ResourceStatus = "UPDATE_ROLLBACK_FAILED"
	ResourceStatusRollbackInProgress       ResourceStatus = "ROLLBACK_IN_PROGRESS"
	ResourceStatusRollbackComplete         ResourceStatus = "ROLLBACK_COMPLETE"
	ResourceStatusRollbackFailed           ResourceStatus = "ROLLBACK_FAILED"
)

// ChangeSetStatus is the model's ChangeSetStatus: how far creating (or
// deleting) the change set got.
type ChangeSetStatus string

const (
	ChangeSetStatusCreatePending    ChangeSetStatus = "CREATE_PENDING"
	ChangeSetStatusCreateInProgress ChangeSetStatus = "CREATE_IN_PROGRESS"
	ChangeSetStatusCreateComplete   ChangeSetStatus = "CREATE_COMPLETE"
	ChangeSetStatusDeletePending    ChangeSetStatus = "DELETE_PENDING"
	ChangeSetStatusDeleteInProgress ChangeSetStatus = "DELETE_IN_PROGRESS"
	ChangeSetStatusDeleteComplete   ChangeSetStatus = "DELETE_COMPLETE"
	ChangeSetStatusDeleteFailed     ChangeSetStatus = "DELETE_FAILED"
	ChangeSetStatusFailed           ChangeSetStatus = "FAILED"
)

// ExecutionStatus is the model's ExecutionStatus: whether a change set can
// be executed.
type ExecutionStatus string

const (
	ExecutionStatusUnavailable       ExecutionStatus = "UNAVAILABLE"
	ExecutionStatusAvailable         ExecutionStatus = "AVAILABLE"
	ExecutionStatusExecuteInProgress ExecutionStatus = "EXECUTE_IN_PROGRESS"
	ExecutionStatusExecuteComplete   ExecutionStatus = "EXECUTE_COMPLETE"
	ExecutionStatusExecuteFailed     ExecutionStatus = "EXECUTE_FAILED"
	ExecutionStatusObsolete          ExecutionStatus = "OBSOLETE"
)

// ChangeSetType is the model's ChangeSetType; empty means UPDATE.
type ChangeSetType string

const (
	ChangeSetTypeCreate ChangeSetType = "CREATE"
	ChangeSetTypeUpdate ChangeSetType = "UPDATE"
	ChangeSetTypeImport ChangeSetType = "IMPORT"
)

// ChangeAction is the model's ChangeAction, of one resource in a change set.
type ChangeAction string

const (
	ChangeActionAdd            ChangeAction = "Add"
	ChangeActionModify         ChangeAction = "Modify"
	ChangeActionRemove         ChangeAction = "Remove"
	ChangeActionImport         ChangeAction = "Import"
	ChangeActionDynamic        ChangeAction = "Dynamic"
	ChangeActionSyncWithActual ChangeAction = "SyncWithActual"
)

// Replacement is the model's Replacement: whether a Modify replaces the
// resource.
type Replacement string

const (
	ReplacementTrue        Replacement = "True"
	ReplacementFalse       Replacement = "False"
	ReplacementConditional Replacement = "Conditional"
)

// The model's Capability values.
const (
	CapabilityIAM        = "CAPABILITY_IAM"
	CapabilityNamedIAM   = "CAPABILITY_NAMED_IAM"
	CapabilityAutoExpand = "CAPABILITY_AUTO_EXPAND"
)

// --- structures ---

// Parameter is a stack or change set parameter value. ResolvedValue is set
// in outputs for SSM parameter types.
type Parameter struct {
	ParameterKey     string
	ParameterValue   string
	UsePreviousValue *bool
	ResolvedValue    string
}

// RollbackConfiguration is the model's RollbackConfiguration.
type RollbackConfiguration struct {
	RollbackTriggers        []RollbackTrigger
	MonitoringTimeInMinutes *int32
}

// RollbackTrigger is one alarm that rolls an operation back.
type RollbackTrigger struct {
	Arn  string
	Type string
}

// Output is one stack output.
type Output struct {
	OutputKey   string
	OutputValue string
	Description string
	ExportName  string
}

// StackDriftInformation is the model's StackDriftInformation (and, with the
// same members, StackDriftInformationSummary).
type StackDriftInformation struct {
	StackDriftStatus   string
	LastCheckTimestamp time.Time
}

// OperationEntry is one of a stack's last operations.
type OperationEntry struct {
	OperationType string
	OperationId   string
}

// Stack is a stack as DescribeStacks shows it.
type Stack struct {
	StackId                     string
	StackName                   string
	ChangeSetId                 string
	Description                 string
	Parameters                  []Parameter
	CreationTime                time.Time
	DeletionTime                time.Time
	LastUpdatedTime             time.Time
	RollbackConfiguration       *RollbackConfiguration
	StackStatus                 StackStatus
	StackStatusReason           string
	DisableRollback             bool
	NotificationARNs            []string
	TimeoutInMinutes            *int32
	Capabilities                []string
	Outputs                     []Output
	RoleARN                     string
	Tags                        []Tag
	EnableTerminationProtection bool
	ParentId                    string
	RootId                      string
	DriftInformation            *StackDriftInformation
	RetainExceptOnCreate        *bool
	DeletionMode                string
	DetailedStatus              string
	LastOperations              []OperationEntry
}

// StackSummary is the list item of ListStacks.
type StackSummary struct {
	StackId             string
	StackName           string
	TemplateDescription string
	CreationTime        time.Time
	LastUpdatedTime     time.Time
	DeletionTime        time.Time
	StackStatus         StackStatus
	StackStatusReason   string
	ParentId            string
	RootId              string
	DriftInformation    *StackDriftInformation
	LastOperations      []OperationEntry
}

// StackEvent is one event of DescribeStackEvents.
type StackEvent struct {
	StackId              string
	EventId              string
	StackName            string
	OperationId          string
	LogicalResourceId    string
	PhysicalResourceId   string
	ResourceType         string
	Timestamp            time.Time
	ResourceStatus       ResourceStatus
	ResourceStatusReason string
	ResourceProperties   string
	ClientRequestToken   string
	HookType             string
	HookStatus           string
	HookStatusReason     string
	HookInvocationPoint  string
	HookInvocationId     string
	HookFailureMode      string
	DetailedStatus       string
}

// StackResourceDriftInformation is the model's
// StackResourceDriftInformation (and its Summary, with the same members).
type StackResourceDriftInformation struct {
	StackResourceDriftStatus string
	LastCheckTimestamp       time.Time
}

// ModuleInfo names the module a resource came from.
type ModuleInfo struct {
	TypeHierarchy      string
	LogicalIdHierarchy string
}

// StackResource is the list item of DescribeStackResources.
type StackResource struct {
	StackName            string
	StackId              string
	LogicalResourceId    string
	PhysicalResourceId   string
	ResourceType         string
	Timestamp            time.Time
	ResourceStatus       ResourceStatus
	ResourceStatusReason string
	Description          string
	DriftInformation     *StackResourceDriftInformation
	ModuleInfo           *ModuleInfo
}

// StackResourceSummary is the list item of ListStackResources.
type StackResourceSummary struct {
	LogicalResourceId    string
	PhysicalResourceId   string
	ResourceType         string
	LastUpdatedTimestamp time.Time
	ResourceStatus       ResourceStatus
	ResourceStatusReason string
	DriftInformation     *StackResourceDriftInformation
	ModuleInfo           *ModuleInfo
}

// StackResourceDetail is the output item of DescribeStackResource.
type StackResourceDetail struct {
	StackName            string
	StackId              string
	LogicalResourceId    string
	PhysicalResourceId   string
	ResourceType         string
	LastUpdatedTimestamp time.Time
	ResourceStatus       ResourceStatus
	ResourceStatusReason string
	Description          string
	Metadata             string
	DriftInformation     *StackResourceDriftInformation
	ModuleInfo           *ModuleInfo
}

// TemplateParameter is a parameter as ValidateTemplate declares it.
type TemplateParameter struct {
	ParameterKey string
	DefaultValue string
	NoEcho       bool
	Description  string
}

// ParameterConstraints is the model's ParameterConstraints.
type ParameterConstraints struct {
	AllowedValues []string
}

// ParameterDeclaration is a parameter as GetTemplateSummary declares it.
type ParameterDeclaration struct {
	ParameterKey         string
	DefaultValue         string
	ParameterType        string
	NoEcho               bool
	Description          string
	ParameterConstraints *ParameterConstraints
}

// ResourceIdentifierSummary is the model's ResourceIdentifierSummary.
type ResourceIdentifierSummary struct {
	ResourceType        string
	LogicalResourceIds  []string
	ResourceIdentifiers []string
}

// TemplateSummaryConfig is the model's TemplateSummaryConfig.
type TemplateSummaryConfig struct {
	TreatUnrecognizedResourceTypesAsWarnings *bool
}

// TemplateSummaryWarnings is the model's Warnings of GetTemplateSummary.
type TemplateSummaryWarnings struct {
	UnrecognizedResourceTypes []string
}

// ResourceToImport is one resource of an IMPORT change set.
type ResourceToImport struct {
	ResourceType       string
	LogicalResourceId  string
	ResourceIdentifier map[string]string
}

// ChangeSetSummary is the list item of ListChangeSets.
type ChangeSetSummary struct {
	StackId                 string
	StackName               string
	ChangeSetId             string
	ChangeSetName           string
	ExecutionStatus         ExecutionStatus
	Status                  ChangeSetStatus
	StatusReason            string
	CreationTime            time.Time
	Description             string
	IncludeNestedStacks     bool
	ParentChangeSetId       string
	RootChangeSetId         string
	ImportExistingResources bool
}

// StackChange is the model's Change: one change of a change set.
type StackChange struct {
	Type                string // "Resource"
	HookInvocationCount *int32
	ResourceChange      *ResourceChange
}

// ResourceChange is the model's ResourceChange.
type ResourceChange struct {
	PolicyAction                   string
	Action                         ChangeAction
	LogicalResourceId              string
	PhysicalResourceId             string
	ResourceType                   string
	Replacement                    Replacement
	Scope                          []string
	ResourceDriftStatus            string
	ResourceDriftIgnoredAttributes []ResourceDriftIgnoredAttribute
	Details                        []ResourceChangeDetail
	ChangeSetId                    string
	ModuleInfo                     *ModuleInfo
	BeforeContext                  string
	AfterContext                   string
	PreviousDeploymentContext      string
}

// ResourceDriftIgnoredAttribute is the model's ResourceDriftIgnoredAttribute.
type ResourceDriftIgnoredAttribute struct {
	Path   string
	Reason string
}

// ResourceChangeDetail is the model's ResourceChangeDetail.
type ResourceChangeDetail struct {
	Target        *ResourceTargetDefinition
	Evaluation    string
	ChangeSource  string
	CausingEntity string
}

// ResourceTargetDefinition is the model's ResourceTargetDefinition.
type ResourceTargetDefinition struct {
	Attribute           string
	Name                string
	RequiresRecreation  string
	Path                string
	BeforeValue         string
	AfterValue          string
	BeforeValueFrom     string
	AfterValueFrom      string
	Drift               *LiveResourceDrift
	AttributeChangeType string
}

// LiveResourceDrift is the model's LiveResourceDrift.
type LiveResourceDrift struct {
	PreviousValue           string
	ActualValue             string
	DriftDetectionTimestamp time.Time
}

// Export is one exported output of ListExports.
type Export struct {
	ExportingStackId string
	Name             string
	Value            string
}

// --- operation shapes ---

type CreateStackInput struct {
	StackName                   string
	TemplateBody                string
	TemplateURL                 string
	Parameters                  []Parameter
	DisableRollback             *bool
	RollbackConfiguration       *RollbackConfiguration
	TimeoutInMinutes            *int32
	NotificationARNs            []string
	Capabilities                []string
	ResourceTypes               []string
	RoleARN                     string
	OnFailure                   string
	StackPolicyBody             string
	StackPolicyURL              string
	Tags                        []Tag
	ClientRequestToken          string
	EnableTerminationProtection *bool
	RetainExceptOnCreate        *bool
}

type CreateStackOutput struct {
	StackId     string
	OperationId string
}

type UpdateStackInput struct {
	StackName                   string
	TemplateBody                string
	TemplateURL                 string
	UsePreviousTemplate         *bool
	StackPolicyDuringUpdateBody string
	StackPolicyDuringUpdateURL  string
	Parameters                  []Parameter
	Capabilities                []string
	ResourceTypes               []string
	RoleARN                     string
	RollbackConfiguration       *RollbackConfiguration
	StackPolicyBody             string
	StackPolicyURL              string
	NotificationARNs            []string
	Tags                        []Tag
	DisableRollback             *bool
	ClientRequestToken          string
	RetainExceptOnCreate        *bool
}

type UpdateStackOutput struct {
	StackId     string
	OperationId string
}

type DeleteStackInput struct {
	StackName          string
	RetainResources    []string
	RoleARN            string
	ClientRequestToken string
	DeletionMode       string
}

// DeleteStackOutput is empty: DeleteStack has no output in the model.
type DeleteStackOutput struct{}

type CancelUpdateStackInput struct {
	StackName          string
	ClientRequestToken string
}

// CancelUpdateStackOutput is empty: CancelUpdateStack has no output in the
// model.
type CancelUpdateStackOutput struct{}

type ContinueUpdateRollbackInput struct {
	StackName          string
	RoleARN            string
	ResourcesToSkip    []string
	ClientRequestToken string
}

type ContinueUpdateRollbackOutput struct{}

type DescribeStacksInput struct {
	StackName string
	NextToken string
}

type DescribeStacksOutput struct {
	Stacks    []Stack
	NextToken string
}

type ListStacksInput struct {
	NextToken         string
	StackStatusFilter []StackStatus
}

type ListStacksOutput struct {
	StackSummaries []StackSummary
	NextToken      string
}

type DescribeStackEventsInput struct {
	StackName string
	NextToken string
}

type DescribeStackEventsOutput struct {
	StackEvents []StackEvent
	NextToken   string
}

type DescribeStackResourceInput struct {
	StackName         string
	LogicalResourceId string
}

type DescribeStackResourceOutput struct {
	StackResourceDetail *StackResourceDetail
}

type DescribeStackResourcesInput struct {
	StackName          string
	LogicalResourceId  string
	PhysicalResourceId string
}

type DescribeStackResourcesOutput struct {
	StackResources []StackResource
}

type ListStackResourcesInput struct {
	StackName string
	NextToken string
}

type ListStackResourcesOutput struct {
	StackResourceSummaries []StackResourceSummary
	NextToken              string
}

type GetTemplateInput struct {
	StackName     string
	ChangeSetName string
	TemplateStage string // Original or Processed
}

type GetTemplateOutput struct {
	TemplateBody    string
	StagesAvailable []string
}

type GetTemplateSummaryInput struct {
	TemplateBody          string
	TemplateURL           string
	StackName             string
	StackSetName          string
	CallAs                string
	TemplateSummaryConfig *TemplateSummaryConfig
}

type GetTemplateSummaryOutput struct {
	Parameters                  []ParameterDeclaration
	Description                 string
	Capabilities                []string
	CapabilitiesReason          string
	ResourceTypes               []string
	Version                     string
	Metadata                    string
	DeclaredTransforms          []string
	ResourceIdentifierSummaries []ResourceIdentifierSummary
	Warnings                    *TemplateSummaryWarnings
}

type ValidateTemplateInput struct {
	TemplateBody string
	TemplateURL  string
}

type ValidateTemplateOutput struct {
	Parameters         []TemplateParameter
	Description        string
	Capabilities       []string
	CapabilitiesReason string
	DeclaredTransforms []string
}

type CreateChangeSetInput struct {
	StackName               string
	TemplateBody            string
	TemplateURL             string
	UsePreviousTemplate     *bool
	Parameters              []Parameter
	Capabilities            []string
	ResourceTypes           []string
	RoleARN                 string
	RollbackConfiguration   *RollbackConfiguration
	NotificationARNs        []string
	Tags                    []Tag
	ChangeSetName           string
	ClientToken             string
	Description             string
	ChangeSetType           ChangeSetType
	ResourcesToImport       []ResourceToImport
	IncludeNestedStacks     *bool
	OnStackFailure          string
	ImportExistingResources *bool
	DeploymentMode          string
}

type CreateChangeSetOutput struct {
	Id      string
	StackId string
}

type DescribeChangeSetInput struct {
	ChangeSetName         string
	StackName             string
	NextToken             string
	IncludePropertyValues *bool
}

type DescribeChangeSetOutput struct {
	ChangeSetName           string
	ChangeSetId             string
	StackId                 string
	StackName               string
	Description             string
	Parameters              []Parameter
	CreationTime            time.Time
	ExecutionStatus         ExecutionStatus
	Status                  ChangeSetStatus
	StatusReason            string
	StackDriftStatus        string
	NotificationARNs        []string
	RollbackConfiguration   *RollbackConfiguration
	Capabilities            []string
	Tags                    []Tag
	Changes                 []StackChange
	NextToken               string
	IncludeNestedStacks     bool
	ParentChangeSetId       string
	RootChangeSetId         string
	OnStackFailure          string
	ImportExistingResources bool
	DeploymentMode          string
}

type ExecuteChangeSetInput struct {
	ChangeSetName        string
	StackName            string
	ClientRequestToken   string
	DisableRollback      *bool
	RetainExceptOnCreate *bool
}

type ExecuteChangeSetOutput struct{}

type DeleteChangeSetInput struct {
	ChangeSetName string
	StackName     string
}

type DeleteChangeSetOutput struct{}

type ListChangeSetsInput struct {
	StackName string
	NextToken string
}

type ListChangeSetsOutput struct {
	Summaries []ChangeSetSummary
	NextToken string
}

type ListExportsInput struct {
	NextToken string
}

type ListExportsOutput struct {
	Exports   []Export
	NextToken string
}
