package awsapi

import (
	"net/http"

	"github.com/iotdm/iotdm"
)

// SecurityRoutes are the routes of certificates, thing-principal
// attachments and policies (AWS §4, §5) on the AWS IoT control plane, with
// the methods and URI templates of the botocore iot model; pass them to
// NewIoT. Every one answers 200: the model overrides no responseCode.
func SecurityRoutes(c iotdm.Certificates, p iotdm.Policies) []Route {
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	)
	return []Route{
		Op("CreateKeysAndCertificate", post, "/keys-and-certificate", c.CreateKeysAndCertificate),
		Op("CreateCertificateFromCsr", post, "/certificates", c.CreateCertificateFromCsr),
		Op("RegisterCACertificate", post, "/cacertificate", c.RegisterCACertificate),
		Op("GetRegistrationCode", get, "/registrationcode", c.GetRegistrationCode),
		Op("RegisterCertificate", post, "/certificate/register", c.RegisterCertificate),
		Op("RegisterCertificateWithoutCA", post, "/certificate/register-no-ca", c.RegisterCertificateWithoutCA),
		Op("DescribeCertificate", get, "/certificates/{certificateId}", c.DescribeCertificate),
		Op("DescribeCACertificate", get, "/cacertificate/{caCertificateId}", c.DescribeCACertificate),
		Op("UpdateCertificate", put, "/certificates/{certificateId}", c.UpdateCertificate),
		Op("UpdateCACertificate", put, "/cacertificate/{caCertificateId}", c.UpdateCACertificate),
		Op("DeleteCertificate", del, "/certificates/{certificateId}", c.DeleteCertificate),
		Op("DeleteCACertificate", del, "/cacertificate/{caCertificateId}", c.DeleteCACertificate),
		Op("ListCertificates", get, "/certificates", c.ListCertificates),
		Op("ListCertificatesByCA", get, "/certificates-by-ca/{caCertificateId}", c.ListCertificatesByCA),
		Op("ListCACertificates", get, "/cacertificates", c.ListCACertificates),

		Op("AttachThingPrincipal", put, "/things/{thingName}/principals", c.AttachThingPrincipal),
		Op("DetachThingPrincipal", del, "/things/{thingName}/principals", c.DetachThingPrincipal),
		Op("ListThingPrincipals", get, "/things/{thingName}/principals", c.ListThingPrincipals),
		Op("ListPrincipalThings", get, "/principals/things", c.ListPrincipalThings),

		Op("CreatePolicy", post, "/policies/{policyName}", p.CreatePolicy),
		Op("GetPolicy", get, "/policies/{policyName}", p.GetPolicy),
		Op("DeletePolicy", del, "/policies/{policyName}", p.DeletePolicy),
		Op("ListPolicies", get, "/policies", p.ListPolicies),
		Op("CreatePolicyVersion", post, "/policies/{policyName}/version", p.CreatePolicyVersion),
		Op("GetPolicyVersion", get, "/policies/{policyName}/version/{policyVersionId}", p.GetPolicyVersion),
		Op("ListPolicyVersions", get, "/policies/{policyName}/version", p.ListPolicyVersions),
		Op("SetDefaultPolicyVersion", patch, "/policies/{policyName}/version/{policyVersionId}", p.SetDefaultPolicyVersion),
		Op("DeletePolicyVersion", del, "/policies/{policyName}/version/{policyVersionId}", p.DeletePolicyVersion),

		Op("AttachPolicy", put, "/target-policies/{policyName}", p.AttachPolicy),
		Op("DetachPolicy", post, "/target-policies/{policyName}", p.DetachPolicy),
		Op("AttachPrincipalPolicy", put, "/principal-policies/{policyName}", p.AttachPrincipalPolicy),
		Op("DetachPrincipalPolicy", del, "/principal-policies/{policyName}", p.DetachPrincipalPolicy),
		Op("ListPrincipalPolicies", get, "/principal-policies", p.ListPrincipalPolicies),
		Op("ListAttachedPolicies", post, "/attached-policies/{target}", p.ListAttachedPolicies),
		Op("ListTargetsForPolicy", post, "/policy-targets/{policyName}", p.ListTargetsForPolicy),

		Op("GetEffectivePolicies", post, "/effective-policies", p.GetEffectivePolicies),
		Op("TestAuthorization", post, "/test-authorization", p.TestAuthorization),
	}
}
