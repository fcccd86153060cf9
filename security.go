package iotdm

import "context"

// Certificates (AWS §5) and policies (AWS §4): the shapes of the botocore
// iot model's certificate, thing-principal and policy operations, and the
// two services behind them. As in the registry, the json tags carry AWS's
// member names and the uri, query and header tags the members bound
// outside the body.

// Certificate statuses (AWS CertificateStatus, §5.1).
const (
	CertificateActive            = "ACTIVE"
	CertificateInactive          = "INACTIVE"
	CertificateRevoked           = "REVOKED"
	CertificatePendingTransfer   = "PENDING_TRANSFER"
	CertificateRegisterInactive  = "REGISTER_INACTIVE" // deprecated by AWS
	CertificatePendingActivation = "PENDING_ACTIVATION"
)

// CA certificate statuses (AWS CACertificateStatus).
const (
	CACertificateActive   = "ACTIVE"
	CACertificateInactive = "INACTIVE"
)

// Auto-registration statuses of a CA certificate (AWS
// AutoRegistrationStatus, §5.4).
const (
	AutoRegistrationEnable  = "ENABLE"
	AutoRegistrationDisable = "DISABLE"
)

// Certificate modes (AWS CertificateMode, §5.2): DEFAULT for certificates
// and CAs verified with the registration code, SNI_ONLY for those
// registered without a CA or verification certificate.
const (
	CertificateModeDefault = "DEFAULT"
	CertificateModeSNIOnly = "SNI_ONLY"
)

// Thing-principal attachment types (AWS ThingPrincipalType).
const (
	ThingPrincipalExclusive    = "EXCLUSIVE_THING"
	ThingPrincipalNonExclusive = "NON_EXCLUSIVE_THING"
)

// Authorization decisions of TestAuthorization (AWS AuthDecision, §4.7).
const (
	AuthDecisionAllowed      = "ALLOWED"
	AuthDecisionExplicitDeny = "EXPLICIT_DENY"
	AuthDecisionImplicitDeny = "IMPLICIT_DENY"
)

// Action types of TestAuthorization's AuthInfo (AWS ActionType, §4.7).
const (
	ActionPublish   = "PUBLISH"
	ActionSubscribe = "SUBSCRIBE"
	ActionReceive   = "RECEIVE"
	ActionConnect   = "CONNECT"
)

// KeyPair is AWS's KeyPair of CreateKeysAndCertificate: PEM strings. AWS
// capitalises these member names.
type KeyPair struct {
	PublicKey  string `json:"PublicKey"`
	PrivateKey string `json:"PrivateKey"`
}

// CertificateValidity is AWS's CertificateValidity: the certificate's
// notBefore and notAfter.
type CertificateValidity struct {
	NotBefore Timestamp `json:"notBefore"`
	NotAfter  Timestamp `json:"notAfter"`
}

// TransferData is AWS's TransferData of a certificate transferred between
// accounts. A certificate never transferred has it empty ({} on the wire).
type TransferData struct {
	TransferMessage string     `json:"transferMessage,omitempty"`
	RejectReason    string     `json:"rejectReason,omitempty"`
	TransferDate    *Timestamp `json:"transferDate,omitempty"`
	AcceptDate      *Timestamp `json:"acceptDate,omitempty"`
	RejectDate      *Timestamp `json:"rejectDate,omitempty"`
}

// CertificateDescription is AWS's CertificateDescription of
// DescribeCertificate.
type CertificateDescription struct {
	CertificateARN   string              `json:"certificateArn"`
	CertificateID    string              `json:"certificateId"`
	CACertificateID  string              `json:"caCertificateId,omitempty"`
	Status           string              `json:"status"`
	CertificatePem   string              `json:"certificatePem"`
	OwnedBy          string              `json:"ownedBy"`
	PreviousOwnedBy  string              `json:"previousOwnedBy,omitempty"`
	CreationDate     Timestamp           `json:"creationDate"`
	LastModifiedDate Timestamp           `json:"lastModifiedDate"`
	CustomerVersion  int                 `json:"customerVersion"`
	TransferData     TransferData        `json:"transferData"`
	GenerationID     string              `json:"generationId"`
	Validity         CertificateValidity `json:"validity"`
	CertificateMode  string              `json:"certificateMode"`
}

// RegistrationConfig is AWS's RegistrationConfig of a CA certificate: the
// provisioning template of just-in-time provisioning (§5.4).
type RegistrationConfig struct {
	TemplateBody string `json:"templateBody,omitempty"`
	RoleARN      string `json:"roleArn,omitempty"`
	TemplateName string `json:"templateName,omitempty"`
}

// CACertificateDescription is AWS's CACertificateDescription of
// DescribeCACertificate.
type CACertificateDescription struct {
	CertificateARN         string              `json:"certificateArn"`
	CertificateID          string              `json:"certificateId"`
	Status                 string              `json:"status"`
	CertificatePem         string              `json:"certificatePem"`
	OwnedBy                string              `json:"ownedBy"`
	CreationDate           Timestamp           `json:"creationDate"`
	AutoRegistrationStatus string              `json:"autoRegistrationStatus"`
	LastModifiedDate       Timestamp           `json:"lastModifiedDate"`
	CustomerVersion        int                 `json:"customerVersion"`
	GenerationID           string              `json:"generationId"`
	Validity               CertificateValidity `json:"validity"`
	CertificateMode        string              `json:"certificateMode"`
}

// Certificate is AWS's Certificate, the list item of ListCertificates and
// ListCertificatesByCA.
type Certificate struct {
	CertificateARN  string    `json:"certificateArn"`
	CertificateID   string    `json:"certificateId"`
	Status          string    `json:"status"`
	CertificateMode string    `json:"certificateMode"`
	CreationDate    Timestamp `json:"creationDate"`
}

// CACertificate is AWS's CACertificate, the list item of
// ListCACertificates.
type CACertificate struct {
	CertificateARN string    `json:"certificateArn"`
	CertificateID  string    `json:"certificateId"`
	Status         string    `json:"status"`
	CreationDate   Timestamp `json:"creationDate"`
}

// Policy is AWS's Policy: a policy's name and ARN, the list item of
// ListPolicies, ListAttachedPolicies and TestAuthorization's results.
type Policy struct {
	PolicyName string `json:"policyName"`
	PolicyARN  string `json:"policyArn"`
}

// PolicyVersion is AWS's PolicyVersion, the list item of ListPolicyVersions.
type PolicyVersion struct {
	VersionID        string    `json:"versionId"`
	IsDefaultVersion bool      `json:"isDefaultVersion"`
	CreateDate       Timestamp `json:"createDate"`
}

// EffectivePolicy is AWS's EffectivePolicy of GetEffectivePolicies.
type EffectivePolicy struct {
	PolicyName     string `json:"policyName"`
	PolicyARN      string `json:"policyArn"`
	PolicyDocument string `json:"policyDocument"`
}

// AuthInfo is AWS's AuthInfo: one action (an Action* constant) on full
// resource ARNs, as TestAuthorization takes and echoes it.
type AuthInfo struct {
	ActionType string   `json:"actionType,omitempty"`
	Resources  []string `json:"resources"`
}

// Allowed is AWS's Allowed: the policies with a matching Allow.
type Allowed struct {
	Policies []Policy `json:"policies"`
}

// ExplicitDeny is AWS's ExplicitDeny: the policies with a matching Deny.
type ExplicitDeny struct {
	Policies []Policy `json:"policies"`
}

// ImplicitDeny is AWS's ImplicitDeny: the evaluated policies that matched
// nothing.
type ImplicitDeny struct {
	Policies []Policy `json:"policies"`
}

// Denied is AWS's Denied.
type Denied struct {
	ImplicitDeny ImplicitDeny `json:"implicitDeny"`
	ExplicitDeny ExplicitDeny `json:"explicitDeny"`
}

// AuthResult is AWS's AuthResult: the decision (an AuthDecision* constant)
// for one AuthInfo. AWS sends every list, empty ones as [].
type AuthResult struct {
	AuthInfo             AuthInfo `json:"authInfo"`
	Allowed              Allowed  `json:"allowed"`
	Denied               Denied   `json:"denied"`
	AuthDecision         string   `json:"authDecision"`
	MissingContextValues []string `json:"missingContextValues"`
}

// --- certificate operation shapes ---

type CreateKeysAndCertificateInput struct {
	SetAsActive bool `json:"-" query:"setAsActive"`
}

type CreateKeysAndCertificateOutput struct {
	CertificateARN string  `json:"certificateArn"`
	CertificateID  string  `json:"certificateId"`
	CertificatePem string  `json:"certificatePem"`
	KeyPair        KeyPair `json:"keyPair"`
}

type CreateCertificateFromCsrInput struct {
	CertificateSigningRequest string `json:"certificateSigningRequest"`
	SetAsActive               bool   `json:"-" query:"setAsActive"`
}

type CreateCertificateFromCsrOutput struct {
	CertificateARN string `json:"certificateArn"`
	CertificateID  string `json:"certificateId"`
	CertificatePem string `json:"certificatePem"`
}

type RegisterCACertificateInput struct {
	CACertificate           string              `json:"caCertificate"`
	VerificationCertificate string              `json:"verificationCertificate,omitempty"`
	SetAsActive             bool                `json:"-" query:"setAsActive"`
	AllowAutoRegistration   bool                `json:"-" query:"allowAutoRegistration"`
	RegistrationConfig      *RegistrationConfig `json:"registrationConfig,omitempty"`
	Tags                    []Tag               `json:"tags,omitempty"`
	CertificateMode         string              `json:"certificateMode,omitempty"`
}

type RegisterCACertificateOutput struct {
	CertificateARN string `json:"certificateArn"`
	CertificateID  string `json:"certificateId"`
}

type GetRegistrationCodeInput struct{}

type GetRegistrationCodeOutput struct {
	RegistrationCode string `json:"registrationCode"`
}

type RegisterCertificateInput struct {
	CertificatePem   string `json:"certificatePem"`
	CACertificatePem string `json:"caCertificatePem,omitempty"`
	// SetAsActive is deprecated by AWS in favour of Status.
	SetAsActive bool   `json:"-" query:"setAsActive"`
	Status      string `json:"status,omitempty"`
}

type RegisterCertificateOutput struct {
	CertificateARN string `json:"certificateArn"`
	CertificateID  string `json:"certificateId"`
}

type RegisterCertificateWithoutCAInput struct {
	CertificatePem string `json:"certificatePem"`
	Status         string `json:"status,omitempty"`
}

type RegisterCertificateWithoutCAOutput struct {
	CertificateARN string `json:"certificateArn"`
	CertificateID  string `json:"certificateId"`
}

type DescribeCertificateInput struct {
	CertificateID string `json:"-" uri:"certificateId"`
}

type DescribeCertificateOutput struct {
	CertificateDescription CertificateDescription `json:"certificateDescription"`
}

// DescribeCACertificateInput names the CA by the model's certificateId
// member, bound to the caCertificateId label.
type DescribeCACertificateInput struct {
	CertificateID string `json:"-" uri:"caCertificateId"`
}

type DescribeCACertificateOutput struct {
	CertificateDescription CACertificateDescription `json:"certificateDescription"`
	RegistrationConfig     *RegistrationConfig      `json:"registrationConfig,omitempty"`
}

type UpdateCertificateInput struct {
	CertificateID string `json:"-" uri:"certificateId"`
	NewStatus     string `json:"-" query:"newStatus"`
}

type UpdateCACertificateInput struct {
	CertificateID             string              `json:"-" uri:"caCertificateId"`
	NewStatus                 string              `json:"-" query:"newStatus"`
	NewAutoRegistrationStatus string              `json:"-" query:"newAutoRegistrationStatus"`
	RegistrationConfig        *RegistrationConfig `json:"registrationConfig,omitempty"`
	RemoveAutoRegistration    bool                `json:"removeAutoRegistration,omitempty"`
}

type DeleteCertificateInput struct {
	CertificateID string `json:"-" uri:"certificateId"`
	ForceDelete   bool   `json:"-" query:"forceDelete"`
}

type DeleteCACertificateInput struct {
	CertificateID string `json:"-" uri:"caCertificateId"`
}

type ListCertificatesInput struct {
	PageSize       int    `json:"-" query:"pageSize"`
	Marker         string `json:"-" query:"marker"`
	AscendingOrder bool   `json:"-" query:"isAscendingOrder"`
}

type ListCertificatesOutput struct {
	Certificates []Certificate `json:"certificates"`
	NextMarker   string        `json:"nextMarker,omitempty"`
}

type ListCertificatesByCAInput struct {
	CACertificateID string `json:"-" uri:"caCertificateId"`
	PageSize        int    `json:"-" query:"pageSize"`
	Marker          string `json:"-" query:"marker"`
	AscendingOrder  bool   `json:"-" query:"isAscendingOrder"`
}

type ListCertificatesByCAOutput struct {
	Certificates []Certificate `json:"certificates"`
	NextMarker   string        `json:"nextMarker,omitempty"`
}

type ListCACertificatesInput struct {
	PageSize       int    `json:"-" query:"pageSize"`
	Marker         string `json:"-" query:"marker"`
	AscendingOrder bool   `json:"-" query:"isAscendingOrder"`
	TemplateName   string `json:"-" query:"templateName"`
}

type ListCACertificatesOutput struct {
	Certificates []CACertificate `json:"certificates"`
	NextMarker   string          `json:"nextMarker,omitempty"`
}

type AttachThingPrincipalInput struct {
	ThingName          string `json:"-" uri:"thingName"`
	Principal          string `json:"-" header:"x-amzn-principal"`
	ThingPrincipalType string `json:"-" query:"thingPrincipalType"`
}

type DetachThingPrincipalInput struct {
	ThingName string `json:"-" uri:"thingName"`
	Principal string `json:"-" header:"x-amzn-principal"`
}

type ListThingPrincipalsInput struct {
	ThingName  string `json:"-" uri:"thingName"`
	NextToken  string `json:"-" query:"nextToken"`
	MaxResults int    `json:"-" query:"maxResults"`
}

type ListThingPrincipalsOutput struct {
	Principals []string `json:"principals"`
	NextToken  string   `json:"nextToken,omitempty"`
}

type ListPrincipalThingsInput struct {
	Principal  string `json:"-" header:"x-amzn-principal"`
	NextToken  string `json:"-" query:"nextToken"`
	MaxResults int    `json:"-" query:"maxResults"`
}

type ListPrincipalThingsOutput struct {
	Things    []string `json:"things"`
	NextToken string   `json:"nextToken,omitempty"`
}

// --- policy operation shapes ---

type CreatePolicyInput struct {
	PolicyName     string `json:"-" uri:"policyName"`
	PolicyDocument string `json:"policyDocument"`
	Tags           []Tag  `json:"tags,omitempty"`
}

type CreatePolicyOutput struct {
	PolicyName      string `json:"policyName"`
	PolicyARN       string `json:"policyArn"`
	PolicyDocument  string `json:"policyDocument"`
	PolicyVersionID string `json:"policyVersionId"`
}

type GetPolicyInput struct {
	PolicyName string `json:"-" uri:"policyName"`
}

type GetPolicyOutput struct {
	PolicyName       string    `json:"policyName"`
	PolicyARN        string    `json:"policyArn"`
	PolicyDocument   string    `json:"policyDocument"`
	DefaultVersionID string    `json:"defaultVersionId"`
	CreationDate     Timestamp `json:"creationDate"`
	LastModifiedDate Timestamp `json:"lastModifiedDate"`
	GenerationID     string    `json:"generationId"`
}

type DeletePolicyInput struct {
	PolicyName string `json:"-" uri:"policyName"`
}

type ListPoliciesInput struct {
	Marker         string `json:"-" query:"marker"`
	PageSize       int    `json:"-" query:"pageSize"`
	AscendingOrder bool   `json:"-" query:"isAscendingOrder"`
}

type ListPoliciesOutput struct {
	Policies   []Policy `json:"policies"`
	NextMarker string   `json:"nextMarker,omitempty"`
}

type CreatePolicyVersionInput struct {
	PolicyName     string `json:"-" uri:"policyName"`
	PolicyDocument string `json:"policyDocument"`
	SetAsDefault   bool   `json:"-" query:"setAsDefault"`
}

type CreatePolicyVersionOutput struct {
	PolicyARN        string `json:"policyArn"`
	PolicyDocument   string `json:"policyDocument"`
	PolicyVersionID  string `json:"policyVersionId"`
	IsDefaultVersion bool   `json:"isDefaultVersion"`
}

type GetPolicyVersionInput struct {
	PolicyName      string `json:"-" uri:"policyName"`
	PolicyVersionID string `json:"-" uri:"policyVersionId"`
}

type GetPolicyVersionOutput struct {
	PolicyARN        string    `json:"policyArn"`
	PolicyName       string    `json:"policyName"`
	PolicyDocument   string    `json:"policyDocument"`
	PolicyVersionID  string    `json:"policyVersionId"`
	IsDefaultVersion bool      `json:"isDefaultVersion"`
	CreationDate     Timestamp `json:"creationDate"`
	LastModifiedDate Timestamp `json:"lastModifiedDate"`
	GenerationID     string    `json:"generationId"`
}

type ListPolicyVersionsInput struct {
	PolicyName string `json:"-" uri:"policyName"`
}

type ListPolicyVersionsOutput struct {
	PolicyVersions []PolicyVersion `json:"policyVersions"`
}

type SetDefaultPolicyVersionInput struct {
	PolicyName      string `json:"-" uri:"policyName"`
	PolicyVersionID string `json:"-" uri:"policyVersionId"`
}

type DeletePolicyVersionInput struct {
	PolicyName      string `json:"-" uri:"policyName"`
	PolicyVersionID string `json:"-" uri:"policyVersionId"`
}

// AttachPolicyInput's Target is a certificate ARN, a thing group ARN or a
// Cognito identity id (§4.7).
type AttachPolicyInput struct {
	PolicyName string `json:"-" uri:"policyName"`
	Target     string `json:"target"`
}

type DetachPolicyInput struct {
	PolicyName string `json:"-" uri:"policyName"`
	Target     string `json:"target"`
}

// AttachPrincipalPolicyInput is the deprecated AttachPrincipalPolicy's,
// with the principal in a header of its own.
type AttachPrincipalPolicyInput struct {
	PolicyName string `json:"-" uri:"policyName"`
	Principal  string `json:"-" header:"x-amzn-iot-principal"`
}

type DetachPrincipalPolicyInput struct {
	PolicyName string `json:"-" uri:"policyName"`
	Principal  string `json:"-" header:"x-amzn-iot-principal"`
}

type ListPrincipalPoliciesInput struct {
	Principal      string `json:"-" header:"x-amzn-iot-principal"`
	Marker         string `json:"-" query:"marker"`
	PageSize       int    `json:"-" query:"pageSize"`
	AscendingOrder bool   `json:"-" query:"isAscendingOrder"`
}

type ListPrincipalPoliciesOutput struct {
	Policies   []Policy `json:"policies"`
	NextMarker string   `json:"nextMarker,omitempty"`
}

type ListAttachedPoliciesInput struct {
	Target    string `json:"-" uri:"target"`
	Recursive bool   `json:"-" query:"recursive"`
	Marker    string `json:"-" query:"marker"`
	PageSize  int    `json:"-" query:"pageSize"`
}

type ListAttachedPoliciesOutput struct {
	Policies   []Policy `json:"policies"`
	NextMarker string   `json:"nextMarker,omitempty"`
}

type ListTargetsForPolicyInput struct {
	PolicyName string `json:"-" uri:"policyName"`
	Marker     string `json:"-" query:"marker"`
	PageSize   int    `json:"-" query:"pageSize"`
}

type ListTargetsForPolicyOutput struct {
	Targets    []string `json:"targets"`
	NextMarker string   `json:"nextMarker,omitempty"`
}

type GetEffectivePoliciesInput struct {
	Principal             string `json:"principal,omitempty"`
	CognitoIdentityPoolID string `json:"cognitoIdentityPoolId,omitempty"`
	ThingName             string `json:"-" query:"thingName"`
}

type GetEffectivePoliciesOutput struct {
	EffectivePolicies []EffectivePolicy `json:"effectivePolicies"`
}

type TestAuthorizationInput struct {
	Principal             string     `json:"principal,omitempty"`
	CognitoIdentityPoolID string     `json:"cognitoIdentityPoolId,omitempty"`
	AuthInfos             []AuthInfo `json:"authInfos"`
	ClientID              string     `json:"-" query:"clientId"`
	PolicyNamesToAdd      []string   `json:"policyNamesToAdd,omitempty"`
	PolicyNamesToSkip     []string   `json:"policyNamesToSkip,omitempty"`
}

type TestAuthorizationOutput struct {
	AuthResults []AuthResult `json:"authResults"`
}

// Certificates is the certificate service (AWS §5): device certificates
// issued by the built-in CA or registered, CA certificates, and the
// attachment of principals to things, with AWS IoT's validation, states
// and errors.
type Certificates interface {
	CreateKeysAndCertificate(ctx context.Context, in *CreateKeysAndCertificateInput) (*CreateKeysAndCertificateOutput, error)
	CreateCertificateFromCsr(ctx context.Context, in *CreateCertificateFromCsrInput) (*CreateCertificateFromCsrOutput, error)
	RegisterCACertificate(ctx context.Context, in *RegisterCACertificateInput) (*RegisterCACertificateOutput, error)
	GetRegistrationCode(ctx context.Context, in *GetRegistrationCodeInput) (*GetRegistrationCodeOutput, error)
	RegisterCertificate(ctx context.Context, in *RegisterCertificateInput) (*RegisterCertificateOutput, error)
	RegisterCertificateWithoutCA(ctx context.Context, in *RegisterCertificateWithoutCAInput) (*RegisterCertificateWithoutCAOutput, error)
	DescribeCertificate(ctx context.Context, in *DescribeCertificateInput) (*DescribeCertificateOutput, error)
	DescribeCACertificate(ctx context.Context, in *DescribeCACertificateInput) (*DescribeCACertificateOutput, error)
	UpdateCertificate(ctx context.Context, in *UpdateCertificateInput) (*Empty, error)
	UpdateCACertificate(ctx context.Context, in *UpdateCACertificateInput) (*Empty, error)
	DeleteCertificate(ctx context.Context, in *DeleteCertificateInput) (*Empty, error)
	DeleteCACertificate(ctx context.Context, in *DeleteCACertificateInput) (*Empty, error)
	ListCertificates(ctx context.Context, in *ListCertificatesInput) (*ListCertificatesOutput, error)
	ListCertificatesByCA(ctx context.Context, in *ListCertificatesByCAInput) (*ListCertificatesByCAOutput, error)
	ListCACertificates(ctx context.Context, in *ListCACertificatesInput) (*ListCACertificatesOutput, error)

	AttachThingPrincipal(ctx context.Context, in *AttachThingPrincipalInput) (*Empty, error)
	DetachThingPrincipal(ctx context.Context, in *DetachThingPrincipalInput) (*Empty, error)
	ListThingPrincipals(ctx context.Context, in *ListThingPrincipalsInput) (*ListThingPrincipalsOutput, error)
	ListPrincipalThings(ctx context.Context, in *ListPrincipalThingsInput) (*ListPrincipalThingsOutput, error)
}

// Policies is the policy service (AWS §4): named, versioned policy
// documents, their attachment to certificates and thing groups, and the
// inspection and simulation operations.
type Policies interface {
	CreatePolicy(ctx context.Context, in *CreatePolicyInput) (*CreatePolicyOutput, error)
	GetPolicy(ctx context.Context, in *GetPolicyInput) (*GetPolicyOutput, error)
	DeletePolicy(ctx context.Context, in *DeletePolicyInput) (*Empty, error)
	ListPolicies(ctx context.Context, in *ListPoliciesInput) (*ListPoliciesOutput, error)

	CreatePolicyVersion(ctx context.Context, in *CreatePolicyVersionInput) (*CreatePolicyVersionOutput, error)
	GetPolicyVersion(ctx context.Context, in *GetPolicyVersionInput) (*GetPolicyVersionOutput, error)
	ListPolicyVersions(ctx context.Context, in *ListPolicyVersionsInput) (*ListPolicyVersionsOutput, error)
	SetDefaultPolicyVersion(ctx context.Context, in *SetDefaultPolicyVersionInput) (*Empty, error)
	DeletePolicyVersion(ctx context.Context, in *DeletePolicyVersionInput) (*Empty, error)

	AttachPolicy(ctx context.Context, in *AttachPolicyInput) (*Empty, error)
	DetachPolicy(ctx context.Context, in *DetachPolicyInput) (*Empty, error)
	AttachPrincipalPolicy(ctx context.Context, in *AttachPrincipalPolicyInput) (*Empty, error)
	DetachPrincipalPolicy(ctx context.Context, in *DetachPrincipalPolicyInput) (*Empty, error)
	ListPrincipalPolicies(ctx context.Context, in *ListPrincipalPoliciesInput) (*ListPrincipalPoliciesOutput, error)
	ListAttachedPolicies(ctx context.Context, in *ListAttachedPoliciesInput) (*ListAttachedPoliciesOutput, error)
	ListTargetsForPolicy(ctx context.Context, in *ListTargetsForPolicyInput) (*ListTargetsForPolicyOutput, error)

	GetEffectivePolicies(ctx context.Context, in *GetEffectivePoliciesInput) (*GetEffectivePoliciesOutput, error)
	TestAuthorization(ctx context.Context, in *TestAuthorizationInput) (*TestAuthorizationOutput, error)
}
