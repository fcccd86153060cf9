package iotdm

// The entities of certificates (AWS §5) and policies (AWS §4) in the Store.
// Certificate principals are named by their certificate ARN everywhere a
// principal or target is a key; thing groups by their ARN; Cognito
// identities by their id. None of these contains a "/" after its last
// "/"-free segment ends, and thing, group and policy names contain no "/",
// so "{a}/{b}" keys scan unambiguously by the prefix "{a}/".
const (
	// KindCertificate: key certificateId, value StoredCertificate.
	KindCertificate = "cert"
	// KindCACertificate: key certificateId of the CA, value StoredCACertificate.
	KindCACertificate = "cacert"
	// KindThingPrincipal: key "{thing}/{principal}", value ThingPrincipal.
	KindThingPrincipal = "thingprincipal"
	// KindPrincipalThing: key "{principal}/{thing}", value ThingPrincipal
	// (the principal's side of the same attachment).
	KindPrincipalThing = "principalthing"
	// KindPolicy: key policyName, value StoredPolicy.
	KindPolicy = "policy"
	// KindPolicyVersion: key "{policyName}/{versionId}", value
	// StoredPolicyVersion.
	KindPolicyVersion = "policyversion"
	// KindPolicyTarget: key "{policyName}/{target}", value PolicyAttachment.
	KindPolicyTarget = "policytarget"
	// KindTargetPolicy: key "{target}/{policyName}", value PolicyAttachment
	// (the target's side of the same attachment).
	KindTargetPolicy = "targetpolicy"
)

// RegistrationCodeKey is the KindAccount key of the account's CA
// registration code (GetRegistrationCode), a JSON string.
const RegistrationCodeKey = "registrationcode"

// StoredCertificate is a device certificate as stored: AWS's description
// of it. The private key of a certificate iotdm issued is never stored.
type StoredCertificate struct {
	CertificateDescription
}

// StoredCACertificate is a registered CA certificate as stored.
type StoredCACertificate struct {
	CACertificateDescription
	RegistrationConfig *RegistrationConfig `json:"registrationConfig,omitempty"`
}

// ThingPrincipal is one attachment of a principal to a thing (AWS §5.3:
// an association that grants nothing by itself).
type ThingPrincipal struct {
	ThingName  string    `json:"thingName"`
	Principal  string    `json:"principal"`
	Type       string    `json:"thingPrincipalType,omitempty"`
	AttachedAt Timestamp `json:"attachedAt"`
}

// StoredPolicy is a named policy as stored; its documents are its
// versions.
type StoredPolicy struct {
	PolicyName       string    `json:"policyName"`
	PolicyARN        string    `json:"policyArn"`
	DefaultVersionID string    `json:"defaultVersionId"`
	GenerationID     string    `json:"generationId"`
	CreationDate     Timestamp `json:"creationDate"`
	LastModifiedDate Timestamp `json:"lastModifiedDate"`
	// LastVersionID is the highest version id ever used: ids increase and
	// are never reused (AWS §4.1).
	LastVersionID int `json:"lastVersionId"`
}

// StoredPolicyVersion is one version of a named policy.
type StoredPolicyVersion struct {
	PolicyName     string    `json:"policyName"`
	VersionID      string    `json:"versionId"`
	PolicyDocument string    `json:"policyDocument"`
	CreateDate     Timestamp `json:"createDate"`
}

// PolicyAttachment is one attachment of a policy to a target: a
// certificate ARN, a static thing group ARN or a Cognito identity id.
type PolicyAttachment struct {
	PolicyName string    `json:"policyName"`
	Target     string    `json:"target"`
	AttachedAt Timestamp `json:"attachedAt"`
}
