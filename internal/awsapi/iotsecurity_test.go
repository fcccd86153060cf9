package awsapi

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

// fakeSecurity is an iotdm.Certificates and iotdm.Policies that records its
// calls in the fakeRegistry it wraps and answers with fixed outputs, or with
// the error its fail returns.
type fakeSecurity struct{ *fakeRegistry }

var (
	_ iotdm.Certificates = fakeSecurity{}
	_ iotdm.Policies     = fakeSecurity{}
)

const (
	fakeCertID    = "c0ffee0000000000000000000000000000000000000000000000000000c0ffee"
	fakeCertARN   = fakeARN + "cert/" + fakeCertID
	fakeCertPEM   = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	fakePolicyDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`
)

func (f fakeSecurity) CreateKeysAndCertificate(ctx context.Context, in *iotdm.CreateKeysAndCertificateInput) (*iotdm.CreateKeysAndCertificateOutput, error) {
	if err := f.record("CreateKeysAndCertificate", in); err != nil {
		return nil, err
	}
	return &iotdm.CreateKeysAndCertificateOutput{
		CertificateARN: fakeCertARN, CertificateID: fakeCertID, CertificatePem: fakeCertPEM,
		KeyPair: iotdm.KeyPair{PublicKey: "public-pem", PrivateKey: "private-pem"},
	}, nil
}

func (f fakeSecurity) CreateCertificateFromCsr(ctx context.Context, in *iotdm.CreateCertificateFromCsrInput) (*iotdm.CreateCertificateFromCsrOutput, error) {
	if err := f.record("CreateCertificateFromCsr", in); err != nil {
		return nil, err
	}
	return &iotdm.CreateCertificateFromCsrOutput{CertificateARN: fakeCertARN, CertificateID: fakeCertID, CertificatePem: fakeCertPEM}, nil
}

func (f fakeSecurity) RegisterCACertificate(ctx context.Context, in *iotdm.RegisterCACertificateInput) (*iotdm.RegisterCACertificateOutput, error) {
	if err := f.record("RegisterCACertificate", in); err != nil {
		return nil, err
	}
	return &iotdm.RegisterCACertificateOutput{CertificateARN: fakeARN + "cacert/" + fakeCertID, CertificateID: fakeCertID}, nil
}

func (f fakeSecurity) GetRegistrationCode(ctx context.Context, in *iotdm.GetRegistrationCodeInput) (*iotdm.GetRegistrationCodeOutput, error) {
	if err := f.record("GetRegistrationCode", in); err != nil {
		return nil, err
	}
	return &iotdm.GetRegistrationCodeOutput{RegistrationCode: "regcode"}, nil
}

func (f fakeSecurity) RegisterCertificate(ctx context.Context, in *iotdm.RegisterCertificateInput) (*iotdm.RegisterCertificateOutput, error) {
	if err := f.record("RegisterCertificate", in); err != nil {
		return nil, err
	}
	return &iotdm.RegisterCertificateOutput{CertificateARN: fakeCertARN, CertificateID: fakeCertID}, nil
}

func (f fakeSecurity) RegisterCertificateWithoutCA(ctx context.Context, in *iotdm.RegisterCertificateWithoutCAInput) (*iotdm.RegisterCertificateWithoutCAOutput, error) {
	if err := f.record("RegisterCertificateWithoutCA", in); err != nil {
		return nil, err
	}
	return &iotdm.RegisterCertificateWithoutCAOutput{CertificateARN: fakeCertARN, CertificateID: fakeCertID}, nil
}

func (f fakeSecurity) DescribeCertificate(ctx context.Context, in *iotdm.DescribeCertificateInput) (*iotdm.DescribeCertificateOutput, error) {
	if err := f.record("DescribeCertificate", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeCertificateOutput{CertificateDescription: iotdm.CertificateDescription{
		CertificateARN: fakeARN + "cert/" + in.CertificateID, CertificateID: in.CertificateID,
		Status: iotdm.CertificateActive, CertificatePem: fakeCertPEM, OwnedBy: "123456789012",
		CreationDate: fakeCreated, LastModifiedDate: fakeCreated, CustomerVersion: 1, GenerationID: "gen-1",
		Validity:        iotdm.CertificateValidity{NotBefore: fakeCreated, NotAfter: fakeCreated},
		CertificateMode: iotdm.CertificateModeDefault,
	}}, nil
}

func (f fakeSecurity) DescribeCACertificate(ctx context.Context, in *iotdm.DescribeCACertificateInput) (*iotdm.DescribeCACertificateOutput, error) {
	if err := f.record("DescribeCACertificate", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeCACertificateOutput{
		CertificateDescription: iotdm.CACertificateDescription{
			CertificateID: in.CertificateID, Status: iotdm.CACertificateInactive,
			AutoRegistrationStatus: iotdm.AutoRegistrationEnable, CertificateMode: iotdm.CertificateModeDefault,
		},
		RegistrationConfig: &iotdm.RegistrationConfig{TemplateName: "jitp"},
	}, nil
}

func (f fakeSecurity) UpdateCertificate(ctx context.Context, in *iotdm.UpdateCertificateInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("UpdateCertificate", in)
}

func (f fakeSecurity) UpdateCACertificate(ctx context.Context, in *iotdm.UpdateCACertificateInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("UpdateCACertificate", in)
}

func (f fakeSecurity) DeleteCertificate(ctx context.Context, in *iotdm.DeleteCertificateInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DeleteCertificate", in)
}

func (f fakeSecurity) DeleteCACertificate(ctx context.Context, in *iotdm.DeleteCACertificateInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DeleteCACertificate", in)
}

func (f fakeSecurity) ListCertificates(ctx context.Context, in *iotdm.ListCertificatesInput) (*iotdm.ListCertificatesOutput, error) {
	if err := f.record("ListCertificates", in); err != nil {
		return nil, err
	}
	return &iotdm.ListCertificatesOutput{
		Certificates: []iotdm.Certificate{{CertificateARN: fakeCertARN, CertificateID: fakeCertID, Status: iotdm.CertificateInactive,
			CertificateMode: iotdm.CertificateModeDefault, CreationDate: fakeCreated}},
		NextMarker: "bmV4dA==",
	}, nil
}

func (f fakeSecurity) ListCertificatesByCA(ctx context.Context, in *iotdm.ListCertificatesByCAInput) (*iotdm.ListCertificatesByCAOutput, error) {
	if err := f.record("ListCertificatesByCA", in); err != nil {
		return nil, err
	}
	return &iotdm.ListCertificatesByCAOutput{Certificates: []iotdm.Certificate{}}, nil
}

func (f fakeSecurity) ListCACertificates(ctx context.Context, in *iotdm.ListCACertificatesInput) (*iotdm.ListCACertificatesOutput, error) {
	if err := f.record("ListCACertificates", in); err != nil {
		return nil, err
	}
	return &iotdm.ListCACertificatesOutput{Certificates: []iotdm.CACertificate{}}, nil
}

func (f fakeSecurity) AttachThingPrincipal(ctx context.Context, in *iotdm.AttachThingPrincipalInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("AttachThingPrincipal", in)
}

func (f fakeSecurity) DetachThingPrincipal(ctx context.Context, in *iotdm.DetachThingPrincipalInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DetachThingPrincipal", in)
}

func (f fakeSecurity) ListThingPrincipals(ctx context.Context, in *iotdm.ListThingPrincipalsInput) (*iotdm.ListThingPrincipalsOutput, error) {
	if err := f.record("ListThingPrincipals", in); err != nil {
		return nil, err
	}
	return &iotdm.ListThingPrincipalsOutput{Principals: []string{fakeCertARN}}, nil
}

func (f fakeSecurity) ListPrincipalThings(ctx context.Context, in *iotdm.ListPrincipalThingsInput) (*iotdm.ListPrincipalThingsOutput, error) {
	if err := f.record("ListPrincipalThings", in); err != nil {
		return nil, err
	}
	return &iotdm.ListPrincipalThingsOutput{Things: []string{"t1", "t2"}, NextToken: "next"}, nil
}

func (f fakeSecurity) CreatePolicy(ctx context.Context, in *iotdm.CreatePolicyInput) (*iotdm.CreatePolicyOutput, error) {
	if err := f.record("CreatePolicy", in); err != nil {
		return nil, err
	}
	return &iotdm.CreatePolicyOutput{PolicyName: in.PolicyName, PolicyARN: fakeARN + "policy/" + in.PolicyName,
		PolicyDocument: in.PolicyDocument, PolicyVersionID: "1"}, nil
}

func (f fakeSecurity) GetPolicy(ctx context.Context, in *iotdm.GetPolicyInput) (*iotdm.GetPolicyOutput, error) {
	if err := f.record("GetPolicy", in); err != nil {
		return nil, err
	}
	return &iotdm.GetPolicyOutput{PolicyName: in.PolicyName, PolicyDocument: fakePolicyDoc, DefaultVersionID: "1",
		CreationDate: fakeCreated, LastModifiedDate: fakeCreated}, nil
}

func (f fakeSecurity) DeletePolicy(ctx context.Context, in *iotdm.DeletePolicyInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DeletePolicy", in)
}

func (f fakeSecurity) ListPolicies(ctx context.Context, in *iotdm.ListPoliciesInput) (*iotdm.ListPoliciesOutput, error) {
	if err := f.record("ListPolicies", in); err != nil {
		return nil, err
	}
	return &iotdm.ListPoliciesOutput{Policies: []iotdm.Policy{}}, nil
}

func (f fakeSecurity) CreatePolicyVersion(ctx context.Context, in *iotdm.CreatePolicyVersionInput) (*iotdm.CreatePolicyVersionOutput, error) {
	if err := f.record("CreatePolicyVersion", in); err != nil {
		return nil, err
	}
	return &iotdm.CreatePolicyVersionOutput{PolicyARN: fakeARN + "policy/" + in.PolicyName, PolicyDocument: in.PolicyDocument,
		PolicyVersionID: "2", IsDefaultVersion: in.SetAsDefault}, nil
}

func (f fakeSecurity) GetPolicyVersion(ctx context.Context, in *iotdm.GetPolicyVersionInput) (*iotdm.GetPolicyVersionOutput, error) {
	if err := f.record("GetPolicyVersion", in); err != nil {
		return nil, err
	}
	return &iotdm.GetPolicyVersionOutput{PolicyName: in.PolicyName, PolicyVersionID: in.PolicyVersionID, PolicyDocument: fakePolicyDoc}, nil
}

func (f fakeSecurity) ListPolicyVersions(ctx context.Context, in *iotdm.ListPolicyVersionsInput) (*iotdm.ListPolicyVersionsOutput, error) {
	if err := f.record("ListPolicyVersions", in); err != nil {
		return nil, err
	}
	return &iotdm.ListPolicyVersionsOutput{PolicyVersions: []iotdm.PolicyVersion{{VersionID: "1", IsDefaultVersion: true, CreateDate: fakeCreated}}}, nil
}

func (f fakeSecurity) SetDefaultPolicyVersion(ctx context.Context, in *iotdm.SetDefaultPolicyVersionInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("SetDefaultPolicyVersion", in)
}

func (f fakeSecurity) DeletePolicyVersion(ctx context.Context, in *iotdm.DeletePolicyVersionInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DeletePolicyVersion", in)
}

func (f fakeSecurity) AttachPolicy(ctx context.Context, in *iotdm.AttachPolicyInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("AttachPolicy", in)
}

func (f fakeSecurity) DetachPolicy(ctx context.Context, in *iotdm.DetachPolicyInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DetachPolicy", in)
}

func (f fakeSecurity) AttachPrincipalPolicy(ctx context.Context, in *iotdm.AttachPrincipalPolicyInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("AttachPrincipalPolicy", in)
}

func (f fakeSecurity) DetachPrincipalPolicy(ctx context.Context, in *iotdm.DetachPrincipalPolicyInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DetachPrincipalPolicy", in)
}

func (f fakeSecurity) ListPrincipalPolicies(ctx context.Context, in *iotdm.ListPrincipalPoliciesInput) (*iotdm.ListPrincipalPoliciesOutput, error) {
	if err := f.record("ListPrincipalPolicies", in); err != nil {
		return nil, err
	}
	return &iotdm.ListPrincipalPoliciesOutput{Policies: []iotdm.Policy{}}, nil
}

func (f fakeSecurity) ListAttachedPolicies(ctx context.Context, in *iotdm.ListAttachedPoliciesInput) (*iotdm.ListAttachedPoliciesOutput, error) {
	if err := f.record("ListAttachedPolicies", in); err != nil {
		return nil, err
	}
	return &iotdm.ListAttachedPoliciesOutput{Policies: []iotdm.Policy{}, NextMarker: "bWFya2Vy"}, nil
}

func (f fakeSecurity) ListTargetsForPolicy(ctx context.Context, in *iotdm.ListTargetsForPolicyInput) (*iotdm.ListTargetsForPolicyOutput, error) {
	if err := f.record("ListTargetsForPolicy", in); err != nil {
		return nil, err
	}
	return &iotdm.ListTargetsForPolicyOutput{Targets: []string{fakeCertARN}}, nil
}

func (f fakeSecurity) GetEffectivePolicies(ctx context.Context, in *iotdm.GetEffectivePoliciesInput) (*iotdm.GetEffectivePoliciesOutput, error) {
	if err := f.record("GetEffectivePolicies", in); err != nil {
		return nil, err
	}
	return &iotdm.GetEffectivePoliciesOutput{EffectivePolicies: []iotdm.EffectivePolicy{
		{PolicyName: "p", PolicyARN: fakeARN + "policy/p", PolicyDocument: fakePolicyDoc}}}, nil
}

func (f fakeSecurity) TestAuthorization(ctx context.Context, in *iotdm.TestAuthorizationInput) (*iotdm.TestAuthorizationOutput, error) {
	if err := f.record("TestAuthorization", in); err != nil {
		return nil, err
	}
	out := &iotdm.TestAuthorizationOutput{AuthResults: []iotdm.AuthResult{}}
	for _, ai := range in.AuthInfos {
		out.AuthResults = append(out.AuthResults, iotdm.AuthResult{
			AuthInfo:             ai,
			Allowed:              iotdm.Allowed{Policies: []iotdm.Policy{{PolicyName: "p", PolicyARN: fakeARN + "policy/p"}}},
			Denied:               iotdm.Denied{ImplicitDeny: iotdm.ImplicitDeny{Policies: []iotdm.Policy{}}, ExplicitDeny: iotdm.ExplicitDeny{Policies: []iotdm.Policy{}}},
			AuthDecision:         iotdm.AuthDecisionAllowed,
			MissingContextValues: []string{},
		})
	}
	return out, nil
}

func TestSecurityRoutesCoverServices(t *testing.T) {
	sec := fakeSecurity{&fakeRegistry{}}
	checkRoutesCover(t, SecurityRoutes(sec, sec), reflect.TypeFor[iotdm.Certificates](), reflect.TypeFor[iotdm.Policies]())
}

func TestIoTWithSDKBindsSecurityRequests(t *testing.T) {
	fake := &fakeRegistry{}
	srv := iotEdge(t, fake, nil)
	client := newIoTClient(srv.URL, testAKID, testSecret)
	ctx := context.Background()
	const thingARN = "arn:aws:iot:us-east-1:123456789012:thing/dev:1"

	tests := []struct {
		name string
		call func() error
		op   string
		want any
	}{
		{
			name: "principal in x-amzn-principal on detach",
			call: func() error {
				_, err := client.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{
					ThingName: aws.String("dev:1"), Principal: aws.String(fakeCertARN)})
				return err
			},
			op: "DetachThingPrincipal", want: &iotdm.DetachThingPrincipalInput{ThingName: "dev:1", Principal: fakeCertARN},
		},
		{
			name: "principal in x-amzn-principal with token paging",
			call: func() error {
				out, err := client.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{
					Principal: aws.String(fakeCertARN), MaxResults: aws.Int32(2), NextToken: aws.String("tok/+=")})
				if err == nil && (!cmp.Equal(out.Things, []string{"t1", "t2"}) || aws.ToString(out.NextToken) != "next") {
					t.Errorf("output things %v nextToken %q", out.Things, aws.ToString(out.NextToken))
				}
				return err
			},
			op:   "ListPrincipalThings",
			want: &iotdm.ListPrincipalThingsInput{Principal: fakeCertARN, MaxResults: 2, NextToken: "tok/+="},
		},
		{
			name: "thing principals under the thing's path",
			call: func() error {
				out, err := client.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("dev:1")})
				if err == nil && !cmp.Equal(out.Principals, []string{fakeCertARN}) {
					t.Errorf("principals %v", out.Principals)
				}
				return err
			},
			op: "ListThingPrincipals", want: &iotdm.ListThingPrincipalsInput{ThingName: "dev:1"},
		},
		{
			name: "new status in the query",
			call: func() error {
				_, err := client.UpdateCertificate(ctx, &iot.UpdateCertificateInput{
					CertificateId: aws.String(fakeCertID), NewStatus: types.CertificateStatusRevoked})
				return err
			},
			op: "UpdateCertificate", want: &iotdm.UpdateCertificateInput{CertificateID: fakeCertID, NewStatus: iotdm.CertificateRevoked},
		},
		{
			name: "forceDelete in the query",
			call: func() error {
				_, err := client.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(fakeCertID), ForceDelete: true})
				return err
			},
			op: "DeleteCertificate", want: &iotdm.DeleteCertificateInput{CertificateID: fakeCertID, ForceDelete: true},
		},
		{
			name: "setAsActive in the query, capitalised key pair members out",
			call: func() error {
				out, err := client.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
				if err == nil && (out.KeyPair == nil || aws.ToString(out.KeyPair.PrivateKey) != "private-pem" ||
					aws.ToString(out.KeyPair.PublicKey) != "public-pem" || aws.ToString(out.CertificateId) != fakeCertID) {
					t.Errorf("output %+v", out)
				}
				return err
			},
			op: "CreateKeysAndCertificate", want: &iotdm.CreateKeysAndCertificateInput{SetAsActive: true},
		},
		{
			name: "CSR in the body, setAsActive absent",
			call: func() error {
				_, err := client.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String("csr-pem")})
				return err
			},
			op: "CreateCertificateFromCsr", want: &iotdm.CreateCertificateFromCsrInput{CertificateSigningRequest: "csr-pem"},
		},
		{
			name: "marker paging with isAscendingOrder",
			call: func() error {
				out, err := client.ListCertificates(ctx, &iot.ListCertificatesInput{
					PageSize: aws.Int32(25), Marker: aws.String("bWFya2Vy+/=="), AscendingOrder: true})
				if err == nil && (len(out.Certificates) != 1 || aws.ToString(out.NextMarker) != "bmV4dA==" ||
					!aws.ToTime(out.Certificates[0].CreationDate).Equal(fakeCreated.Time) ||
					out.Certificates[0].Status != types.CertificateStatusInactive) {
					t.Errorf("output %+v", out)
				}
				return err
			},
			op:   "ListCertificates",
			want: &iotdm.ListCertificatesInput{PageSize: 25, Marker: "bWFya2Vy+/==", AscendingOrder: true},
		},
		{
			name: "description with validity",
			call: func() error {
				out, err := client.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(fakeCertID)})
				if err == nil {
					d := out.CertificateDescription
					if d == nil || d.Validity == nil || !aws.ToTime(d.Validity.NotAfter).Equal(fakeCreated.Time) ||
						d.CustomerVersion == nil || *d.CustomerVersion != 1 || d.TransferData == nil {
						t.Errorf("description %+v", d)
					}
				}
				return err
			},
			op: "DescribeCertificate", want: &iotdm.DescribeCertificateInput{CertificateID: fakeCertID},
		},
		{
			name: "CA id label, query and body together",
			call: func() error {
				_, err := client.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{
					CertificateId: aws.String(fakeCertID), NewStatus: types.CACertificateStatusActive,
					NewAutoRegistrationStatus: types.AutoRegistrationStatusEnable,
					RegistrationConfig:        &types.RegistrationConfig{TemplateName: aws.String("jitp")},
					RemoveAutoRegistration:    true,
				})
				return err
			},
			op: "UpdateCACertificate",
			want: &iotdm.UpdateCACertificateInput{CertificateID: fakeCertID, NewStatus: iotdm.CACertificateActive,
				NewAutoRegistrationStatus: iotdm.AutoRegistrationEnable,
				RegistrationConfig:        &iotdm.RegistrationConfig{TemplateName: "jitp"}, RemoveAutoRegistration: true},
		},
		{
			name: "CA registration with two query flags",
			call: func() error {
				_, err := client.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
					CaCertificate: aws.String("ca-pem"), VerificationCertificate: aws.String("verify-pem"),
					SetAsActive: true, AllowAutoRegistration: true, CertificateMode: types.CertificateModeDefault,
					Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
				})
				return err
			},
			op: "RegisterCACertificate",
			want: &iotdm.RegisterCACertificateInput{CACertificate: "ca-pem", VerificationCertificate: "verify-pem",
				SetAsActive: true, AllowAutoRegistration: true, CertificateMode: iotdm.CertificateModeDefault,
				Tags: []iotdm.Tag{{Key: "k", Value: "v"}}},
		},
		{
			name: "authInfos in the body, clientId in the query",
			call: func() error {
				out, err := client.TestAuthorization(ctx, &iot.TestAuthorizationInput{
					Principal: aws.String(fakeCertARN), ClientId: aws.String("dev:1"),
					AuthInfos: []types.AuthInfo{
						{ActionType: types.ActionTypePublish, Resources: []string{fakeARN + "topic/a/b"}},
						{ActionType: types.ActionTypeConnect, Resources: []string{fakeARN + "client/dev:1"}},
					},
					PolicyNamesToAdd: []string{"extra"}, PolicyNamesToSkip: []string{"skipped"},
				})
				if err == nil {
					if len(out.AuthResults) != 2 || out.AuthResults[0].AuthDecision != types.AuthDecisionAllowed ||
						out.AuthResults[1].AuthInfo.ActionType != types.ActionTypeConnect ||
						aws.ToString(out.AuthResults[0].Allowed.Policies[0].PolicyName) != "p" ||
						out.AuthResults[0].Denied.ExplicitDeny == nil {
						t.Errorf("output %+v", out)
					}
				}
				return err
			},
			op: "TestAuthorization",
			want: &iotdm.TestAuthorizationInput{
				Principal: fakeCertARN, ClientID: "dev:1",
				AuthInfos: []iotdm.AuthInfo{
					{ActionType: iotdm.ActionPublish, Resources: []string{fakeARN + "topic/a/b"}},
					{ActionType: iotdm.ActionConnect, Resources: []string{fakeARN + "client/dev:1"}},
				},
				PolicyNamesToAdd: []string{"extra"}, PolicyNamesToSkip: []string{"skipped"},
			},
		},
		{
			name: "thingName in the query of a POST",
			call: func() error {
				out, err := client.GetEffectivePolicies(ctx, &iot.GetEffectivePoliciesInput{
					Principal: aws.String(fakeCertARN), ThingName: aws.String("dev:1")})
				if err == nil && (len(out.EffectivePolicies) != 1 || aws.ToString(out.EffectivePolicies[0].PolicyDocument) != fakePolicyDoc) {
					t.Errorf("output %+v", out)
				}
				return err
			},
			op: "GetEffectivePolicies", want: &iotdm.GetEffectivePoliciesInput{Principal: fakeCertARN, ThingName: "dev:1"},
		},
		{
			name: "policy version labels",
			call: func() error {
				_, err := client.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{
					PolicyName: aws.String("p@x"), PolicyVersionId: aws.String("2")})
				return err
			},
			op: "SetDefaultPolicyVersion", want: &iotdm.SetDefaultPolicyVersionInput{PolicyName: "p@x", PolicyVersionID: "2"},
		},
		{
			name: "setAsDefault in the query, document in the body",
			call: func() error {
				out, err := client.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{
					PolicyName: aws.String("p"), PolicyDocument: aws.String(fakePolicyDoc), SetAsDefault: true})
				if err == nil && (!out.IsDefaultVersion || aws.ToString(out.PolicyVersionId) != "2") {
					t.Errorf("output %+v", out)
				}
				return err
			},
			op: "CreatePolicyVersion", want: &iotdm.CreatePolicyVersionInput{PolicyName: "p", PolicyDocument: fakePolicyDoc, SetAsDefault: true},
		},
		{
			name: "target in the body",
			call: func() error {
				_, err := client.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: aws.String(thingARN)})
				return err
			},
			op: "AttachPolicy", want: &iotdm.AttachPolicyInput{PolicyName: "p", Target: thingARN},
		},
		{
			name: "legacy principal in x-amzn-iot-principal",
			call: func() error {
				_, err := client.AttachPrincipalPolicy(ctx, &iot.AttachPrincipalPolicyInput{
					PolicyName: aws.String("p"), Principal: aws.String(fakeCertARN)})
				return err
			},
			op: "AttachPrincipalPolicy", want: &iotdm.AttachPrincipalPolicyInput{PolicyName: "p", Principal: fakeCertARN},
		},
		{
			name: "legacy principal in x-amzn-iot-principal with marker paging",
			call: func() error {
				_, err := client.ListPrincipalPolicies(ctx, &iot.ListPrincipalPoliciesInput{
					Principal: aws.String(fakeCertARN), PageSize: aws.Int32(10), AscendingOrder: true})
				return err
			},
			op:   "ListPrincipalPolicies",
			want: &iotdm.ListPrincipalPoliciesInput{Principal: fakeCertARN, PageSize: 10, AscendingOrder: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatalf("call: %v", err)
			}
			if diff := cmp.Diff(tt.want, fake.last(t, tt.op)); diff != "" {
				t.Errorf("input (-want +got):\n%s", diff)
			}
		})
	}
}
