package control

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/pki"
)

// Fleet provisioning by claim over MQTT (AWS §5.4). A device connects with
// a claim certificate, whose policy allows only the topics below, and
//
//  1. publishes on $aws/certificates/create/{json,cbor} (or create-from-csr
//     with a CSR) and gets a certificate, PENDING_ACTIVATION, and a
//     certificate ownership token on …/accepted;
//  2. publishes the token and its parameters on
//     $aws/provisioning-templates/{templateName}/provision/{json,cbor}; the
//     template's pre-provisioning hook may refuse or change the
//     parameters; the template provisions the thing, activates the
//     certificate, attaches policies and the thing, and …/accepted carries
//     the template's deviceConfiguration and the thing's name;
//  3. reconnects with its new certificate.
//
// Refusals go on …/rejected as {statusCode, errorCode, errorMessage}.
//
// The token is a random secret: only its SHA-256 is stored, with the
// certificate it stands for and its expiry (TokenTTL, an hour as on AWS). A
// successful provision consumes it in the transaction that provisions; a
// failed one leaves it for another try. A certificate still
// PENDING_ACTIVATION when its token expires is deleted by Sweep, which
// HandleMQTT runs at most once a minute.
//
// AWS answers "through the same MQTT connection used to publish the API
// request": the reply carries a private key, and every device of a fleet
// shares the claim certificate and so subscribes to the same reply topics.
// Replies go through ClientPublisher.PublishTo when the publisher has it;
// a plain MessagePublisher publishes them to every subscriber.

// ProvisioningTopicFilters are the topic filters of the fleet provisioning
// requests, for the broker's server-side Subscribe. They also match the
// replies; HandleMQTT ignores what is no request.
var ProvisioningTopicFilters = []string{"$aws/certificates/#", "$aws/provisioning-templates/#"}

// ClientPublisher delivers a message to the connections of one client id
// only. The broker's publisher should implement it (see the file comment).
type ClientPublisher interface {
	PublishTo(ctx context.Context, clientID, topic string, payload []byte, qos byte) error
}

// provisioningReplyQoS is the QoS of every reply, as for shadows.
const provisioningReplyQoS = 1

// maxProvisioningPayload bounds a request: a CSR of 4096 characters or a
// token and parameters fit well within it.
const maxProvisioningPayload = 64 << 10

// Fleet provisioning request operations.
const (
	fleetCreate        = "create"
	fleetCreateFromCSR = "create-from-csr"
	fleetProvision     = "provision"
)

// fleetRequest is a request topic taken apart.
type fleetRequest struct {
	op       string
	template string // provision only
	format   string // json or cbor
}

// parseFleetTopic recognizes the request topics; replies and anything
// else are no request.
func parseFleetTopic(topic string) (fleetRequest, bool) {
	levels := strings.Split(topic, "/")
	var r fleetRequest
	switch {
	case len(levels) == 4 && levels[0] == "$aws" && levels[1] == "certificates" && (levels[2] == fleetCreate || levels[2] == fleetCreateFromCSR):
		r = fleetRequest{op: levels[2], format: levels[3]}
	case len(levels) == 5 && levels[0] == "$aws" && levels[1] == "provisioning-templates" && levels[3] == fleetProvision:
		r = fleetRequest{op: fleetProvision, template: levels[2], format: levels[4]}
	default:
		return fleetRequest{}, false
	}
	if r.format != "json" && r.format != "cbor" {
		return fleetRequest{}, false
	}
	return r, true
}

// fleetError is a refusal with the status and error code of the /rejected
// reply.
type fleetError struct {
	status int
	code   string
	msg    string
}

func (e *fleetError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

func badPayload(format string, args ...any) error {
	return &fleetError{http.StatusBadRequest, "InvalidPayload", fmt.Sprintf(format, args...)}
}

func badToken(format string, args ...any) error {
	return &fleetError{http.StatusBadRequest, "InvalidCertificateOwnershipToken", fmt.Sprintf(format, args...)}
}

func hookDenied(format string, args ...any) error {
	return &fleetError{http.StatusForbidden, "AccessDenied", fmt.Sprintf(format, args...)}
}

// fleetRejection returns the /rejected reply for err, and whether err is a
// failure of the service rather than of the request.
func fleetRejection(err error) (iotdm.FleetProvisioningError, bool) {
	var fe *fleetError
	if errors.As(err, &fe) {
		return iotdm.FleetProvisioningError{StatusCode: fe.status, ErrorCode: fe.code, ErrorMessage: fe.msg}, false
	}
	var e *iotdm.Error
	if errors.As(err, &e) {
		code := strings.TrimSuffix(string(e.Code), "Exception")
		switch e.Code {
		case iotdm.ErrInvalidRequest, iotdm.ErrMalformedPolicy, iotdm.ErrCertificateValidation,
			iotdm.ErrResourceRegistrationFailure, iotdm.ErrLimitExceeded, iotdm.ErrVersionConflict:
			return iotdm.FleetProvisioningError{StatusCode: http.StatusBadRequest, ErrorCode: code, ErrorMessage: e.Message}, false
		case iotdm.ErrResourceNotFound:
			return iotdm.FleetProvisioningError{StatusCode: http.StatusNotFound, ErrorCode: code, ErrorMessage: e.Message}, false
		case iotdm.ErrResourceAlreadyExists, iotdm.ErrConflict, iotdm.ErrConflictingResourceUpdate, iotdm.ErrCertificateState:
			return iotdm.FleetProvisioningError{StatusCode: http.StatusConflict, ErrorCode: code, ErrorMessage: e.Message}, false
		case iotdm.ErrThrottling:
			return iotdm.FleetProvisioningError{StatusCode: http.StatusTooManyRequests, ErrorCode: "Throttled", ErrorMessage: e.Message}, false
		case iotdm.ErrUnauthorized, iotdm.ErrAccessDenied, iotdm.ErrForbidden:
			return iotdm.FleetProvisioningError{StatusCode: http.StatusForbidden, ErrorCode: "AccessDenied", ErrorMessage: e.Message}, false
		}
	}
	return iotdm.FleetProvisioningError{StatusCode: http.StatusInternalServerError, ErrorCode: "InternalFailure", ErrorMessage: msgInternalFailure}, true
}

// SetPublisher sets the publisher of the replies and of the certificate
// registration events of JITP; nil stops publishing (and HandleMQTT then
// drops requests). It may be called at any time.
func (p *FleetProvisioning) SetPublisher(pub MessagePublisher) { p.pub.set(pub) }

// HandleMQTT serves one message a device published under
// ProvisioningTopicFilters (see the file comment): clientID is the
// publishing client's id and principal its certificate ARN ("" when it has
// none). Any other topic is ignored. A request the service refuses is
// answered on …/rejected and is not an error of HandleMQTT, which returns
// only the store's failures (also answered, 500) and the publisher's.
//
// HandleMQTT may run concurrently. It generates a key pair or calls a
// pre-provisioning hook (up to HookTimeout) on some requests: calling it on
// the publishing connection's goroutine holds up only that client.
func (p *FleetProvisioning) HandleMQTT(ctx context.Context, topic string, payload []byte, clientID, principal string) error {
	req, ok := parseFleetTopic(topic)
	if !ok {
		return nil
	}
	pub := p.pub.get()
	if pub == nil {
		return fmt.Errorf("fleet provisioning request %q from %q: no publisher", topic, clientID)
	}
	p.maybeSweep(ctx)
	var reply any
	var err error
	switch {
	case len(payload) > maxProvisioningPayload:
		err = badPayload("The payload is larger than %d bytes", maxProvisioningPayload)
	case req.op == fleetCreate:
		reply, err = p.createKeysAndCertificate(ctx, principal)
	case req.op == fleetCreateFromCSR:
		var in iotdm.FleetCreateCertificateFromCsrRequest
		if err = decodeFleetPayload(req.format, payload, &in); err == nil {
			reply, err = p.createCertificateFromCsr(ctx, in.CertificateSigningRequest, principal)
		}
	default:
		var in iotdm.FleetRegisterThingRequest
		if err = decodeFleetPayload(req.format, payload, &in); err == nil {
			reply, err = p.registerThing(ctx, req.template, &in, clientID, principal)
		}
	}
	replyTopic := topic + "/accepted"
	internal := false
	if err != nil {
		var rej iotdm.FleetProvisioningError
		rej, internal = fleetRejection(err)
		if internal {
			p.log.Error("fleet provisioning request failed", "topic", topic, "clientId", clientID, "err", err)
		} else {
			p.log.Info("fleet provisioning request refused", "topic", topic, "clientId", clientID, "status", rej.StatusCode, "error", rej.ErrorMessage)
		}
		reply, replyTopic = rej, topic+"/rejected"
	}
	body, encErr := encodeFleetPayload(req.format, reply)
	if encErr != nil {
		return fmt.Errorf("fleet provisioning request %q from %q: %w", topic, clientID, encErr)
	}
	pubErr := p.reply(context.WithoutCancel(ctx), pub, clientID, replyTopic, body)
	if !internal {
		err = nil
	}
	if err = errors.Join(err, pubErr); err != nil {
		return fmt.Errorf("fleet provisioning request %q from %q: %w", topic, clientID, err)
	}
	return nil
}

// reply sends a reply to the requesting client only when the publisher
// can, else to every subscriber of the topic.
func (p *FleetProvisioning) reply(ctx context.Context, pub MessagePublisher, clientID, topic string, body []byte) error {
	if cp, ok := pub.(ClientPublisher); ok {
		return cp.PublishTo(ctx, clientID, topic, body, provisioningReplyQoS)
	}
	p.broadcastOnce.Do(func() {
		p.log.Warn("fleet provisioning replies go to every subscriber of the reply topics: the publisher cannot deliver to one client (ClientPublisher)")
	})
	return pub.Publish(ctx, topic, body, provisioningReplyQoS, false)
}

// decodeFleetPayload decodes a request payload of the topic's format into
// v. AWS: an empty payload is an empty request.
func decodeFleetPayload(format string, payload []byte, v any) error {
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil
	}
	if format == "cbor" {
		x, err := cborDecode(payload)
		if err != nil {
			return badPayload("The payload is not valid CBOR: %v", err)
		}
		if payload, err = json.Marshal(x); err != nil {
			return badPayload("The payload is not valid CBOR: %v", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(v); err != nil {
		return badPayload("The payload is not a valid request: %v", err)
	}
	return nil
}

// encodeFleetPayload encodes a reply in the topic's format.
func encodeFleetPayload(format string, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if format != "cbor" {
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	var plain any
	if err := json.Unmarshal(buf.Bytes(), &plain); err != nil {
		return nil, err
	}
	return cborEncode(plain)
}

// certificateIDOf returns the certificate id of a certificate ARN, "" for
// other principals.
func certificateIDOf(principal string) string {
	_, id, ok := strings.Cut(principal, ":"+certificateARNPrefix+"/")
	if !ok || !certificateIDPattern.MatchString(id) {
		return ""
	}
	return id
}

// newOwnershipToken returns a fresh certificate ownership token and the key
// it is stored under.
func newOwnershipToken() (token, key string) {
	b := make([]byte, 48)
	_, _ = rand.Read(b) // never fails
	token = base64.StdEncoding.EncodeToString(b)
	return token, ownershipTokenKey(token)
}

// ownershipTokenKey is the store key of a token: its hex SHA-256.
func ownershipTokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// storePending stores a certificate created for fleet provisioning,
// PENDING_ACTIVATION, with its ownership token.
func (p *FleetProvisioning) storePending(ctx context.Context, desc *iotdm.CertificateDescription, principal string) (string, error) {
	token, key := newOwnershipToken()
	rec := iotdm.ProvisioningToken{CertificateID: desc.CertificateID, ClaimCertificateID: certificateIDOf(principal),
		ExpiresAt: iotdm.Timestamp{Time: p.opts.Now().Add(p.opts.TokenTTL).UTC().Truncate(time.Millisecond)}}
	err := p.certs.insert(ctx, desc, func(ctx context.Context, tx iotdm.Tx) error {
		return put(ctx, tx, iotdm.KindProvisioningToken, key, rec)
	})
	return token, err
}

// createKeysAndCertificate serves $aws/certificates/create.
func (p *FleetProvisioning) createKeysAndCertificate(ctx context.Context, principal string) (*iotdm.FleetCreateKeysAndCertificateResponse, error) {
	certPEM, _, keyPEM, cert, err := p.ca.CreateKeysAndCertificate(pki.KeyOptions{})
	if err != nil {
		return nil, err
	}
	desc := p.certs.newDescription(cert, iotdm.CertificatePendingActivation, iotdm.CertificateModeDefault)
	token, err := p.storePending(ctx, &desc, principal)
	if err != nil {
		return nil, err
	}
	p.log.Debug("certificate created for fleet provisioning", "certificateId", desc.CertificateID, "claimCertificateId", certificateIDOf(principal))
	return &iotdm.FleetCreateKeysAndCertificateResponse{CertificateID: desc.CertificateID, CertificatePem: string(certPEM),
		PrivateKey: string(keyPEM), CertificateOwnershipToken: token}, nil
}

// createCertificateFromCsr serves $aws/certificates/create-from-csr.
func (p *FleetProvisioning) createCertificateFromCsr(ctx context.Context, csr, principal string) (*iotdm.FleetCreateCertificateFromCsrResponse, error) {
	switch {
	case csr == "":
		return nil, badPayload("certificateSigningRequest must not be empty")
	case len(csr) > pki.MaxCSRLength:
		return nil, badPayload("certificateSigningRequest is longer than %d characters", pki.MaxCSRLength)
	}
	certPEM, cert, err := p.ca.IssueFromCSR([]byte(csr))
	if err != nil {
		return nil, pkiError(err)
	}
	desc := p.certs.newDescription(cert, iotdm.CertificatePendingActivation, iotdm.CertificateModeDefault)
	token, err := p.storePending(ctx, &desc, principal)
	if err != nil {
		return nil, err
	}
	p.log.Debug("certificate created from a CSR for fleet provisioning", "certificateId", desc.CertificateID, "claimCertificateId", certificateIDOf(principal))
	return &iotdm.FleetCreateCertificateFromCsrResponse{CertificateID: desc.CertificateID, CertificatePem: string(certPEM),
		CertificateOwnershipToken: token}, nil
}

// loadToken reads a token's record and checks that it is unexpired and its
// certificate still waits to be provisioned.
func (p *FleetProvisioning) loadToken(ctx context.Context, tx getter, key string) (*iotdm.ProvisioningToken, *iotdm.StoredCertificate, error) {
	tok, ok, err := get[iotdm.ProvisioningToken](ctx, tx, iotdm.KindProvisioningToken, key)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, badToken("The certificate ownership token is not valid: it is unknown or was used")
	}
	if !p.opts.Now().Before(tok.ExpiresAt.Time) {
		return nil, nil, badToken("The certificate ownership token expired at %s", tok.ExpiresAt.Format(time.RFC3339))
	}
	cert, ok, err := get[iotdm.StoredCertificate](ctx, tx, iotdm.KindCertificate, tok.CertificateID)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, badToken("The certificate of the ownership token no longer exists")
	}
	if cert.Status != iotdm.CertificatePendingActivation {
		return nil, nil, badToken("The certificate %s of the ownership token is %s, not PENDING_ACTIVATION", cert.CertificateID, cert.Status)
	}
	return tok, cert, nil
}

// registerThing serves $aws/provisioning-templates/{name}/provision.
func (p *FleetProvisioning) registerThing(ctx context.Context, name string, in *iotdm.FleetRegisterThingRequest, clientID, principal string) (*iotdm.FleetRegisterThingResponse, error) {
	if in.CertificateOwnershipToken == "" {
		return nil, badToken("certificateOwnershipToken must not be empty")
	}
	if err := validateProvTemplateName(name); err != nil {
		return nil, err
	}
	var (
		tmpl    *iotdm.StoredProvisioningTemplate
		version *iotdm.StoredProvisioningTemplateVersion
		cert    *iotdm.StoredCertificate
	)
	key := ownershipTokenKey(in.CertificateOwnershipToken)
	err := p.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		var err error
		if tmpl, err = loadProvTemplate(ctx, tx, name); err != nil {
			return err
		}
		if version, err = loadProvTemplateVersion(ctx, tx, name, tmpl.DefaultVersionID); err != nil {
			return err
		}
		_, cert, err = p.loadToken(ctx, tx, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case tmpl.Type != iotdm.TemplateTypeFleetProvisioning:
		return nil, invalid("The provisioning template %s is of type %s; devices provision with templates of type FLEET_PROVISIONING", name, tmpl.Type)
	case !tmpl.Enabled:
		return nil, invalid("The provisioning template %s is not enabled", name)
	}
	pt, err := p.parse(version.TemplateBody)
	if err != nil {
		return nil, err
	}
	x, err := pki.ParseCertificatePEM([]byte(cert.CertificatePem))
	if err != nil {
		return nil, fmt.Errorf("parse stored certificate %s: %w", cert.CertificateID, err)
	}
	params := in.Parameters
	if hook := tmpl.PreProvisioningHook; hook != nil {
		res, err := p.callHook(ctx, hook, iotdm.PreProvisioningHookRequest{
			ClaimCertificateID: certificateIDOf(principal), CertificateID: cert.CertificateID, CertificatePem: cert.CertificatePem,
			TemplateARN: tmpl.TemplateARN, ClientID: clientID, Parameters: nonNilParams(in.Parameters),
		})
		if err != nil {
			return nil, err
		}
		params = map[string]string{}
		for k, v := range in.Parameters {
			params[k] = v
		}
		for k, v := range res.ParameterOverrides {
			params[k] = v
		}
	}
	plan, err := pt.Plan(params, PlanContext{Region: p.opts.Region, AccountID: p.opts.AccountID, Certificate: x})
	if err != nil {
		return nil, err
	}
	var done *provisioned
	err = p.r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		// The token is checked again and consumed in the transaction that
		// provisions: two requests with one token provision once.
		_, cert, err := p.loadToken(ctx, tx, key)
		if err != nil {
			return err
		}
		if done, err = p.applyPlan(ctx, tx, plan, cert); err != nil {
			return err
		}
		return tx.Delete(ctx, iotdm.KindProvisioningToken, key)
	})
	if err != nil {
		return nil, err
	}
	p.log.Info("device provisioned by claim", "templateName", name, "certificateId", cert.CertificateID, "thingName", done.thingName, "clientId", clientID)
	return &iotdm.FleetRegisterThingResponse{DeviceConfiguration: plan.DeviceConfiguration, ThingName: done.thingName}, nil
}

func nonNilParams(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// maxHookResponse bounds a pre-provisioning hook's answer.
const maxHookResponse = 64 << 10

// callHook asks a pre-provisioning hook whether to provision (AWS §5.4:
// a Lambda function answering {allowProvisioning, parameterOverrides}
// within 5 seconds). iotdm POSTs the request as JSON to a hook whose
// target is an http(s) URL; a Lambda ARN, which iotdm cannot invoke, a
// hook that fails, answers late, answers other than 2xx or with no
// allowProvisioning, refuses provisioning (403 AccessDenied).
func (p *FleetProvisioning) callHook(ctx context.Context, hook *iotdm.ProvisioningHook, in iotdm.PreProvisioningHookRequest) (*iotdm.PreProvisioningHookResponse, error) {
	if !hookURL(hook.TargetARN) {
		p.log.Warn("pre-provisioning hook is a Lambda function, which iotdm cannot invoke; provisioning refused", "targetArn", hook.TargetARN)
		return nil, hookDenied("The pre-provisioning hook %s cannot be invoked: iotdm calls hooks whose targetArn is an http or https URL", hook.TargetARN)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, p.opts.HookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(hctx, http.MethodPost, hook.TargetARN, bytes.NewReader(body))
	if err != nil {
		return nil, hookDenied("The pre-provisioning hook failed: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.hookClient.Do(req)
	if err != nil {
		p.log.Warn("pre-provisioning hook failed", "targetArn", hook.TargetARN, "err", err)
		return nil, hookDenied("The pre-provisioning hook failed: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHookResponse+1))
	if err != nil {
		return nil, hookDenied("The pre-provisioning hook failed: %v", err)
	}
	if resp.StatusCode/100 != 2 {
		p.log.Warn("pre-provisioning hook answered with an error", "targetArn", hook.TargetARN, "status", resp.StatusCode)
		return nil, hookDenied("The pre-provisioning hook answered %s", resp.Status)
	}
	if len(data) > maxHookResponse {
		return nil, hookDenied("The pre-provisioning hook's answer is larger than %d bytes", maxHookResponse)
	}
	var raw struct {
		AllowProvisioning  *bool             `json:"allowProvisioning"`
		ParameterOverrides map[string]string `json:"parameterOverrides"`
	}
	if err := json.Unmarshal(data, &raw); err != nil || raw.AllowProvisioning == nil {
		return nil, hookDenied("The pre-provisioning hook's answer has no allowProvisioning")
	}
	if !*raw.AllowProvisioning {
		return nil, hookDenied("The pre-provisioning hook refused provisioning")
	}
	return &iotdm.PreProvisioningHookResponse{AllowProvisioning: true, ParameterOverrides: raw.ParameterOverrides}, nil
}

// maybeSweep runs Sweep when the last one is more than tokenSweepInterval ago.
func (p *FleetProvisioning) maybeSweep(ctx context.Context) {
	now := p.opts.Now().UnixNano()
	last := p.lastSweep.Load()
	if now-last < int64(tokenSweepInterval) || !p.lastSweep.CompareAndSwap(last, now) {
		return
	}
	if n, err := p.Sweep(context.WithoutCancel(ctx)); err != nil {
		p.log.Warn("sweeping expired certificate ownership tokens", "err", err)
	} else if n > 0 {
		p.log.Info("expired certificate ownership tokens swept", "tokens", n)
	}
}

// Sweep deletes the expired certificate ownership tokens, and the
// certificates they stood for that are still PENDING_ACTIVATION with no
// thing or policy attached (AWS: "If the certificate … hasn't been
// activated and attached to a policy or a thing by the time the token
// expires, the certificate is deleted"). It returns how many tokens it
// deleted.
func (p *FleetProvisioning) Sweep(ctx context.Context) (int, error) {
	now := p.opts.Now()
	var expired []string
	err := p.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		return scanDecode(ctx, tx, iotdm.KindProvisioningToken, "", func(key string, tok *iotdm.ProvisioningToken) error {
			if !now.Before(tok.ExpiresAt.Time) {
				expired = append(expired, key)
			}
			return nil
		})
	})
	if err != nil || len(expired) == 0 {
		return 0, err
	}
	err = p.r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		for _, key := range expired {
			tok, ok, err := get[iotdm.ProvisioningToken](ctx, tx, iotdm.KindProvisioningToken, key)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := tx.Delete(ctx, iotdm.KindProvisioningToken, key); err != nil {
				return err
			}
			if err := p.deleteUnprovisioned(ctx, tx, tok.CertificateID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(expired), nil
}

// deleteUnprovisioned deletes a certificate still PENDING_ACTIVATION with
// nothing attached.
func (p *FleetProvisioning) deleteUnprovisioned(ctx context.Context, tx iotdm.Tx, id string) error {
	cert, ok, err := get[iotdm.StoredCertificate](ctx, tx, iotdm.KindCertificate, id)
	if err != nil || !ok || cert.Status != iotdm.CertificatePendingActivation {
		return err
	}
	for _, kind := range []string{iotdm.KindPrincipalThing, iotdm.KindTargetPolicy} {
		attached, err := hasAny(ctx, tx, kind, cert.CertificateARN+"/")
		if err != nil || attached {
			return err
		}
	}
	return tx.Delete(ctx, iotdm.KindCertificate, id)
}
