package iotdm

import "context"

// Provisioning (AWS §5.4): provisioning templates and their versions on the
// control plane, and the messages of fleet provisioning by claim, which
// devices exchange with the service over MQTT. Just-in-time provisioning
// (JITP) runs a template named by a CA's RegistrationConfig when a
// certificate it signed first connects.

// Entity kinds of provisioning.
const (
	// KindProvisioningTemplate: key templateName, value
	// StoredProvisioningTemplate.
	KindProvisioningTemplate = "provisioningtemplate"
	// KindProvisioningTemplateVersion: key "{templateName}/{versionId}"
	// with the version id zero-padded to ten digits, so that versions scan
	// in order; value StoredProvisioningTemplateVersion.
	KindProvisioningTemplateVersion = "provisioningtemplatever"
	// KindProvisioningToken: key the hex SHA-256 of a certificate
	// ownership token (the token itself is never stored), value
	// ProvisioningToken.
	KindProvisioningToken = "provisioningtoken"
)

// Template types (AWS TemplateType).
const (
	TemplateTypeFleetProvisioning = "FLEET_PROVISIONING"
	TemplateTypeJITP              = "JITP"
)

// Error codes of provisioning the model declares besides the common ones.
const (
	ErrConflictingResourceUpdate   ErrorCode = "ConflictingResourceUpdateException"
	ErrResourceRegistrationFailure ErrorCode = "ResourceRegistrationFailureException"
)

// ProvisioningHook is AWS's ProvisioningHook: the function asked before a
// device is provisioned by claim. AWS invokes a Lambda function; iotdm
// POSTs the same payload to TargetARN when it is an http(s) URL.
type ProvisioningHook struct {
	TargetARN      string `json:"targetArn"`
	PayloadVersion string `json:"payloadVersion,omitempty"`
}

// StoredProvisioningTemplate is a provisioning template as stored, with
// the tags CreateProvisioningTemplate and TagResource give it. Its bodies
// are its versions.
type StoredProvisioningTemplate struct {
	TemplateName        string            `json:"templateName"`
	TemplateARN         string            `json:"templateArn"`
	Description         string            `json:"description,omitempty"`
	CreationDate        Timestamp         `json:"creationDate"`
	LastModifiedDate    Timestamp         `json:"lastModifiedDate"`
	DefaultVersionID    int               `json:"defaultVersionId"`
	Enabled             bool              `json:"enabled"`
	ProvisioningRoleARN string            `json:"provisioningRoleArn"`
	PreProvisioningHook *ProvisioningHook `json:"preProvisioningHook,omitempty"`
	Type                string            `json:"type"`
	// LastVersionID is the highest version id ever used: ids increase and
	// are never reused.
	LastVersionID int   `json:"lastVersionId"`
	Tags          []Tag `json:"tags,omitempty"`
}

// StoredProvisioningTemplateVersion is one version of a provisioning
// template.
type StoredProvisioningTemplateVersion struct {
	TemplateName string    `json:"templateName"`
	VersionID    int       `json:"versionId"`
	TemplateBody string    `json:"templateBody"`
	CreationDate Timestamp `json:"creationDate"`
}

// ProvisioningToken is what a certificate ownership token stands for: the
// certificate fleet provisioning created for a device, until it expires or
// is used.
type ProvisioningToken struct {
	CertificateID string `json:"certificateId"`
	// ClaimCertificateID is the certificate of the connection that asked
	// for the certificate ("" when it had none).
	ClaimCertificateID string    `json:"claimCertificateId,omitempty"`
	ExpiresAt          Timestamp `json:"expiresAt"`
}

// ProvisioningTemplateSummary is AWS's ProvisioningTemplateSummary, the list
// item of ListProvisioningTemplates.
type ProvisioningTemplateSummary struct {
	TemplateARN      string    `json:"templateArn"`
	TemplateName     string    `json:"templateName"`
	Description      string    `json:"description,omitempty"`
	CreationDate     Timestamp `json:"creationDate"`
	LastModifiedDate Timestamp `json:"lastModifiedDate"`
	Enabled          bool      `json:"enabled"`
	Type             string    `json:"type"`
}

// ProvisioningTemplateVersionSummary is AWS's
// ProvisioningTemplateVersionSummary.
type ProvisioningTemplateVersionSummary struct {
	VersionID        int       `json:"versionId"`
	CreationDate     Timestamp `json:"creationDate"`
	IsDefaultVersion bool      `json:"isDefaultVersion"`
}

// --- operation shapes ---

type CreateProvisioningTemplateInput struct {
	TemplateName        string            `json:"templateName"`
	Description         string            `json:"description,omitempty"`
	TemplateBody        string            `json:"templateBody"`
	Enabled             bool              `json:"enabled,omitempty"`
	ProvisioningRoleARN string            `json:"provisioningRoleArn"`
	PreProvisioningHook *ProvisioningHook `json:"preProvisioningHook,omitempty"`
	Tags                []Tag             `json:"tags,omitempty"`
	Type                string            `json:"type,omitempty"` // default FLEET_PROVISIONING
}

type CreateProvisioningTemplateOutput struct {
	TemplateARN      string `json:"templateArn"`
	TemplateName     string `json:"templateName"`
	DefaultVersionID int    `json:"defaultVersionId"`
}

type DescribeProvisioningTemplateInput struct {
	TemplateName string `json:"-" uri:"templateName"`
}

type DescribeProvisioningTemplateOutput struct {
	TemplateARN         string            `json:"templateArn"`
	TemplateName        string            `json:"templateName"`
	Description         string            `json:"description,omitempty"`
	CreationDate        Timestamp         `json:"creationDate"`
	LastModifiedDate    Timestamp         `json:"lastModifiedDate"`
	DefaultVersionID    int               `json:"defaultVersionId"`
	TemplateBody        string            `json:"templateBody"`
	Enabled             bool              `json:"enabled"`
	ProvisioningRoleARN string            `json:"provisioningRoleArn"`
	PreProvisioningHook *ProvisioningHook `json:"preProvisioningHook,omitempty"`
	Type                string            `json:"type"`
}

type ListProvisioningTemplatesInput struct {
	MaxResults int    `json:"-" query:"maxResults"`
	NextToken  string `json:"-" query:"nextToken"`
}

type ListProvisioningTemplatesOutput struct {
	Templates []ProvisioningTemplateSummary `json:"templates"`
	NextToken string                        `json:"nextToken,omitempty"`
}

// UpdateProvisioningTemplateInput changes the members given; a nil member
// keeps its value.
type UpdateProvisioningTemplateInput struct {
	TemplateName              string            `json:"-" uri:"templateName"`
	Description               *string           `json:"description,omitempty"`
	Enabled                   *bool             `json:"enabled,omitempty"`
	DefaultVersionID          *int              `json:"defaultVersionId,omitempty"`
	ProvisioningRoleARN       *string           `json:"provisioningRoleArn,omitempty"`
	PreProvisioningHook       *ProvisioningHook `json:"preProvisioningHook,omitempty"`
	RemovePreProvisioningHook bool              `json:"removePreProvisioningHook,omitempty"`
}

type DeleteProvisioningTemplateInput struct {
	TemplateName string `json:"-" uri:"templateName"`
}

type CreateProvisioningTemplateVersionInput struct {
	TemplateName string `json:"-" uri:"templateName"`
	TemplateBody string `json:"templateBody"`
	SetAsDefault bool   `json:"-" query:"setAsDefault"`
}

type CreateProvisioningTemplateVersionOutput struct {
	TemplateARN      string `json:"templateArn"`
	TemplateName     string `json:"templateName"`
	VersionID        int    `json:"versionId"`
	IsDefaultVersion bool   `json:"isDefaultVersion"`
}

type DescribeProvisioningTemplateVersionInput struct {
	TemplateName string `json:"-" uri:"templateName"`
	VersionID    int    `json:"-" uri:"versionId"`
}

type DescribeProvisioningTemplateVersionOutput struct {
	VersionID        int       `json:"versionId"`
	CreationDate     Timestamp `json:"creationDate"`
	TemplateBody     string    `json:"templateBody"`
	IsDefaultVersion bool      `json:"isDefaultVersion"`
}

type ListProvisioningTemplateVersionsInput struct {
	TemplateName string `json:"-" uri:"templateName"`
	MaxResults   int    `json:"-" query:"maxResults"`
	NextToken    string `json:"-" query:"nextToken"`
}

type ListProvisioningTemplateVersionsOutput struct {
	Versions  []ProvisioningTemplateVersionSummary `json:"versions"`
	NextToken string                               `json:"nextToken,omitempty"`
}

type DeleteProvisioningTemplateVersionInput struct {
	TemplateName string `json:"-" uri:"templateName"`
	VersionID    int    `json:"-" uri:"versionId"`
}

// ProvisioningTemplates is the control plane of provisioning templates
// (AWS §5.4): named templates of type FLEET_PROVISIONING or JITP, each
// with up to five versions of its body, one of them the default. Tagging
// them is the Registry's TagResource.
type ProvisioningTemplates interface {
	CreateProvisioningTemplate(ctx context.Context, in *CreateProvisioningTemplateInput) (*CreateProvisioningTemplateOutput, error)
	DescribeProvisioningTemplate(ctx context.Context, in *DescribeProvisioningTemplateInput) (*DescribeProvisioningTemplateOutput, error)
	ListProvisioningTemplates(ctx context.Context, in *ListProvisioningTemplatesInput) (*ListProvisioningTemplatesOutput, error)
	UpdateProvisioningTemplate(ctx context.Context, in *UpdateProvisioningTemplateInput) (*Empty, error)
	DeleteProvisioningTemplate(ctx context.Context, in *DeleteProvisioningTemplateInput) (*Empty, error)

	CreateProvisioningTemplateVersion(ctx context.Context, in *CreateProvisioningTemplateVersionInput) (*CreateProvisioningTemplateVersionOutput, error)
	DescribeProvisioningTemplateVersion(ctx context.Context, in *DescribeProvisioningTemplateVersionInput) (*DescribeProvisioningTemplateVersionOutput, error)
	ListProvisioningTemplateVersions(ctx context.Context, in *ListProvisioningTemplateVersionsInput) (*ListProvisioningTemplateVersionsOutput, error)
	DeleteProvisioningTemplateVersion(ctx context.Context, in *DeleteProvisioningTemplateVersionInput) (*Empty, error)
}

// --- fleet provisioning over MQTT ---
//
// A device holding a claim certificate publishes a request on a reserved
// topic and gets the reply on the same topic plus /accepted or /rejected,
// as JSON ("json" topics) or CBOR ("cbor" topics) (AWS §5.4):
//
//	$aws/certificates/create/{format}                         (empty payload)  → FleetCreateKeysAndCertificateResponse
//	$aws/certificates/create-from-csr/{format}                FleetCreateCertificateFromCsrRequest → FleetCreateCertificateFromCsrResponse
//	$aws/provisioning-templates/{templateName}/provision/{format} FleetRegisterThingRequest → FleetRegisterThingResponse
//
// and every refusal is a FleetProvisioningError on …/rejected.

// FleetCreateKeysAndCertificateResponse is the /accepted reply of
// $aws/certificates/create: a new certificate, PENDING_ACTIVATION until a
// template provisions it, its private key (returned once, kept nowhere) and
// the token that proves its ownership.
type FleetCreateKeysAndCertificateResponse struct {
	CertificateID             string `json:"certificateId"`
	CertificatePem            string `json:"certificatePem"`
	PrivateKey                string `json:"privateKey"`
	CertificateOwnershipToken string `json:"certificateOwnershipToken"`
}

// FleetCreateCertificateFromCsrRequest is the payload of
// $aws/certificates/create-from-csr.
type FleetCreateCertificateFromCsrRequest struct {
	CertificateSigningRequest string `json:"certificateSigningRequest"`
}

// FleetCreateCertificateFromCsrResponse is its /accepted reply.
type FleetCreateCertificateFromCsrResponse struct {
	CertificateID             string `json:"certificateId"`
	CertificatePem            string `json:"certificatePem"`
	CertificateOwnershipToken string `json:"certificateOwnershipToken"`
}

// FleetRegisterThingRequest is the payload of
// $aws/provisioning-templates/{templateName}/provision.
type FleetRegisterThingRequest struct {
	CertificateOwnershipToken string            `json:"certificateOwnershipToken"`
	Parameters                map[string]string `json:"parameters,omitempty"`
}

// FleetRegisterThingResponse is its /accepted reply: the template's
// DeviceConfiguration and the thing provisioned ("" when the template has
// no thing).
type FleetRegisterThingResponse struct {
	DeviceConfiguration map[string]string `json:"deviceConfiguration"`
	ThingName           string            `json:"thingName,omitempty"`
}

// FleetProvisioningError is the /rejected reply of every fleet provisioning
// request.
type FleetProvisioningError struct {
	StatusCode   int    `json:"statusCode"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

// PreProvisioningHookRequest is what the pre-provisioning hook is sent
// (payloadVersion 2020-04-01).
type PreProvisioningHookRequest struct {
	ClaimCertificateID string            `json:"claimCertificateId"`
	CertificateID      string            `json:"certificateId"`
	CertificatePem     string            `json:"certificatePem"`
	TemplateARN        string            `json:"templateArn"`
	ClientID           string            `json:"clientId"`
	Parameters         map[string]string `json:"parameters"`
}

// PreProvisioningHookResponse is what the hook answers: whether to go on,
// and parameter values that replace the device's.
type PreProvisioningHookResponse struct {
	AllowProvisioning  bool              `json:"allowProvisioning"`
	ParameterOverrides map[string]string `json:"parameterOverrides,omitempty"`
}
