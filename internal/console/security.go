package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/iotdm/iotdm"
)

func (c *console) securityHome(w http.ResponseWriter, r *http.Request, _ *session) {
	http.Redirect(w, r, c.path("security/policies"), http.StatusSeeOther)
}

// --- policies ---

type policiesData struct {
	Policies []iotdm.Policy
	Next     string
}

func (c *console) policies(w http.ResponseWriter, r *http.Request, sess *session) {
	if c.deps.Policies == nil {
		c.serviceError(w, r, sess, "list policies", unavailable("policies"))
		return
	}
	out, err := c.deps.Policies.ListPolicies(r.Context(), &iotdm.ListPoliciesInput{Marker: r.URL.Query().Get("marker"), PageSize: 100, AscendingOrder: true})
	if err != nil {
		c.serviceError(w, r, sess, "list policies", err)
		return
	}
	c.render(w, r, sess, http.StatusOK, "policies", "Policies", "security", policiesData{Policies: out.Policies, Next: out.NextMarker})
}

type policyData struct {
	Policy   *iotdm.GetPolicyOutput
	Versions []iotdm.PolicyVersion
	Document string // the default version, indented
	A, B     string // the versions compared
	Diff     []diffRow
	DiffErr  string
	Targets  []string
	Self     string
}

func (c *console) policy(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if c.deps.Policies == nil {
		c.serviceError(w, r, sess, "get policy", unavailable("policies"))
		return
	}
	ctx := r.Context()
	p, err := c.deps.Policies.GetPolicy(ctx, &iotdm.GetPolicyInput{PolicyName: name})
	if err != nil {
		c.serviceError(w, r, sess, "get policy", err)
		return
	}
	d := policyData{Policy: p, Document: prettyJSON(p.PolicyDocument), Self: c.path("security/policies/" + pathSeg(name))}
	vs, err := c.deps.Policies.ListPolicyVersions(ctx, &iotdm.ListPolicyVersionsInput{PolicyName: name})
	if err != nil {
		c.serviceError(w, r, sess, "list policy versions", err)
		return
	}
	d.Versions = vs.PolicyVersions
	slices.SortFunc(d.Versions, func(a, b iotdm.PolicyVersion) int { return versionNum(b.VersionID) - versionNum(a.VersionID) })
	if out, err := c.deps.Policies.ListTargetsForPolicy(ctx, &iotdm.ListTargetsForPolicyInput{PolicyName: name, PageSize: 100}); err == nil {
		d.Targets = out.Targets
	}
	// Compare a with b; by default the previous version with the default one.
	q := r.URL.Query()
	d.A, d.B = q.Get("a"), q.Get("b")
	if d.A == "" && d.B == "" && len(d.Versions) > 1 {
		d.B = p.DefaultVersionID
		for _, v := range d.Versions {
			if v.VersionID != d.B {
				d.A = v.VersionID
				break
			}
		}
	}
	if d.A != "" && d.B != "" {
		a, errA := c.deps.Policies.GetPolicyVersion(ctx, &iotdm.GetPolicyVersionInput{PolicyName: name, PolicyVersionID: d.A})
		b, errB := c.deps.Policies.GetPolicyVersion(ctx, &iotdm.GetPolicyVersionInput{PolicyName: name, PolicyVersionID: d.B})
		switch {
		case errA != nil:
			_, d.DiffErr = c.describe("get policy version", errA)
		case errB != nil:
			_, d.DiffErr = c.describe("get policy version", errB)
		default:
			d.Diff = diffLines(prettyJSON(a.PolicyDocument), prettyJSON(b.PolicyDocument))
		}
	}
	c.render(w, r, sess, http.StatusOK, "policy", name, "security", d)
}

func versionNum(id string) int {
	n, _ := strconv.Atoi(id)
	return n
}

func (c *console) setDefaultPolicyVersion(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	version := r.PostFormValue("version")
	back := c.path("security/policies/" + pathSeg(name))
	if c.deps.Policies == nil {
		c.serviceError(w, r, sess, "set default policy version", unavailable("policies"))
		return
	}
	if _, err := c.deps.Policies.SetDefaultPolicyVersion(r.Context(), &iotdm.SetDefaultPolicyVersionInput{PolicyName: name, PolicyVersionID: version}); err != nil {
		_, msg := c.describe("set default policy version", err)
		sess.addFlash("error", msg)
	} else {
		sess.addFlash("ok", "Version "+version+" is now the default version of "+name+".")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// --- certificates ---

type certificatesData struct {
	Certificates []iotdm.Certificate
	Next         string
	Self         string
}

func (c *console) certificates(w http.ResponseWriter, r *http.Request, sess *session) {
	if c.deps.Certificates == nil {
		c.serviceError(w, r, sess, "list certificates", unavailable("certificates"))
		return
	}
	out, err := c.deps.Certificates.ListCertificates(r.Context(), &iotdm.ListCertificatesInput{Marker: r.URL.Query().Get("marker"), PageSize: 100})
	if err != nil {
		c.serviceError(w, r, sess, "list certificates", err)
		return
	}
	c.render(w, r, sess, http.StatusOK, "certificates", "Certificates", "security",
		certificatesData{Certificates: out.Certificates, Next: out.NextMarker, Self: r.URL.RequestURI()})
}

type certificateData struct {
	Cert        iotdm.CertificateDescription
	Things      []string
	Policies    []iotdm.Policy
	PoliciesErr string
	Self        string
}

func (c *console) certificate(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	if c.deps.Certificates == nil {
		c.serviceError(w, r, sess, "describe certificate", unavailable("certificates"))
		return
	}
	ctx := r.Context()
	out, err := c.deps.Certificates.DescribeCertificate(ctx, &iotdm.DescribeCertificateInput{CertificateID: id})
	if err != nil {
		c.serviceError(w, r, sess, "describe certificate", err)
		return
	}
	d := certificateData{Cert: out.CertificateDescription, Self: c.path("security/certificates/" + pathSeg(id))}
	if th, err := c.deps.Certificates.ListPrincipalThings(ctx, &iotdm.ListPrincipalThingsInput{Principal: d.Cert.CertificateARN, MaxResults: 100}); err == nil {
		d.Things = th.Things
	}
	if c.deps.Policies != nil {
		pols, err := c.deps.Policies.ListAttachedPolicies(ctx, &iotdm.ListAttachedPoliciesInput{Target: d.Cert.CertificateARN, PageSize: 100})
		if err != nil {
			_, d.PoliciesErr = c.describe("list attached policies", err)
		} else {
			d.Policies = pols.Policies
		}
	}
	c.render(w, r, sess, http.StatusOK, "certificate", "Certificate "+shorten(id, 12), "security", d)
}

type caRow struct {
	iotdm.CACertificate
	AutoRegistration string
}

type casData struct {
	CAs  []caRow
	Next string
	Self string
}

func (c *console) caCertificates(w http.ResponseWriter, r *http.Request, sess *session) {
	if c.deps.Certificates == nil {
		c.serviceError(w, r, sess, "list CA certificates", unavailable("certificates"))
		return
	}
	ctx := r.Context()
	out, err := c.deps.Certificates.ListCACertificates(ctx, &iotdm.ListCACertificatesInput{Marker: r.URL.Query().Get("marker"), PageSize: 100})
	if err != nil {
		c.serviceError(w, r, sess, "list CA certificates", err)
		return
	}
	d := casData{Next: out.NextMarker, Self: r.URL.RequestURI()}
	for _, ca := range out.Certificates {
		row := caRow{CACertificate: ca}
		if desc, err := c.deps.Certificates.DescribeCACertificate(ctx, &iotdm.DescribeCACertificateInput{CertificateID: ca.CertificateID}); err == nil {
			row.AutoRegistration = desc.CertificateDescription.AutoRegistrationStatus
		}
		d.CAs = append(d.CAs, row)
	}
	c.render(w, r, sess, http.StatusOK, "cas", "CA certificates", "security", d)
}

// --- TestAuthorization ---

type testAuthData struct {
	Principal string
	ClientID  string
	Action    string
	Actions   []string
	Resources string
	Add       string
	Skip      string
	Example   string
	Ran       bool
	Results   []iotdm.AuthResult
	Err       string
}

func (c *console) testAuthorization(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	region, account := c.opts.Region, c.opts.AccountID
	if region == "" {
		region = "us-east-1"
	}
	if account == "" {
		account = "123456789012"
	}
	d := testAuthData{
		Principal: strings.TrimSpace(q.Get("principal")),
		ClientID:  strings.TrimSpace(q.Get("clientId")),
		Action:    q.Get("action"),
		Actions:   []string{iotdm.ActionConnect, iotdm.ActionPublish, iotdm.ActionSubscribe, iotdm.ActionReceive},
		Resources: q.Get("resources"),
		Add:       q.Get("add"),
		Skip:      q.Get("skip"),
		Example:   "arn:aws:iot:" + region + ":" + account + ":topic/devices/temp-sensor-01/telemetry",
	}
	if !slices.Contains(d.Actions, d.Action) {
		d.Action = iotdm.ActionPublish
	}
	status := http.StatusOK
	if q.Get("run") != "" {
		d.Ran = true
		if c.deps.Policies == nil {
			d.Err = "Policies are not available."
		} else {
			in := &iotdm.TestAuthorizationInput{
				Principal:         d.Principal,
				ClientID:          d.ClientID,
				AuthInfos:         []iotdm.AuthInfo{{ActionType: d.Action, Resources: lines(d.Resources)}},
				PolicyNamesToAdd:  names(d.Add),
				PolicyNamesToSkip: names(d.Skip),
			}
			out, err := c.deps.Policies.TestAuthorization(r.Context(), in)
			if err != nil {
				status, d.Err = c.describe("test authorization", err)
			} else {
				d.Results = out.AuthResults
			}
		}
	}
	c.render(w, r, sess, status, "testauth", "Test authorization", "security", d)
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func names(s string) []string {
	var out []string
	for _, n := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		out = append(out, n)
	}
	return out
}
