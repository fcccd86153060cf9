package control

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/policy"
)

// DeviceAccessOptions configures a DeviceAccess.
type DeviceAccessOptions struct {
	Region    string // e.g. us-east-1; used in ARNs
	AccountID string // 12 digits; used in ARNs
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now. Certificate
	// validity is checked against it.
	Now func() time.Time
}

// DeviceAccess authenticates devices by their client certificate and
// compiles what each connection may do (AWS §5.3, §4.6): the MQTT broker
// asks it on every CONNECT, and Follow keeps live sessions in step with the
// store's change feed.
type DeviceAccess struct {
	store  iotdm.Store
	ca     *pki.CA
	pols   *Policies
	now    func() time.Time
	log    *slog.Logger
	prefix string // "arn:aws:iot:{region}:{account}:"

	// The hand-off between Authenticate and the follower; see
	// deviceaccess_follow.go.
	mu        sync.Mutex
	committed uint64                // the last change the follower read: committed, so every later read sees it
	inflight  map[*authToken]uint64 // Authenticate calls running, with committed at their start
	journal   []journalEntry        // what the follower invalidated while some were running
	recent    []*DeviceSession      // sessions handed out and maybe not yet seen by the broker
	stale     []*DeviceSession      // recent sessions an invalidation touched
	wake      chan struct{}         // tells the sweeper there is stale work
}

// authToken marks one running Authenticate.
type authToken struct{ _ byte }

// NewDeviceAccess returns the device access over store. ca is the built-in
// CA; pols answers which policies apply to a connection.
func NewDeviceAccess(store iotdm.Store, ca *pki.CA, pols *Policies, opts DeviceAccessOptions) *DeviceAccess {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &DeviceAccess{
		store:    store,
		ca:       ca,
		pols:     pols,
		now:      opts.Now,
		log:      opts.Logger.With("component", "deviceaccess"),
		prefix:   "arn:aws:iot:" + opts.Region + ":" + opts.AccountID + ":",
		inflight: map[*authToken]uint64{},
		wake:     make(chan struct{}, 1),
	}
}

// Authenticate decides a device connection (AWS §5.3): certs is the chain
// the client presented in the TLS handshake, leaf first (the handshake has
// proved possession of the leaf's key). The leaf must be a registered
// certificate that is ACTIVE and valid now, and it must chain to its
// issuer: the built-in CA, or the registered CA it was registered under,
// which must be ACTIVE; a certificate registered without a CA (SNI_ONLY)
// is only checked for validity. Failures are *iotdm.Error values with code
// UnrecognizedClientException (unknown certificate),
// CertificateStateException (not ACTIVE, or its CA not ACTIVE) or
// CertificateValidationException (expired, bad chain), which the broker
// refuses as bad credentials.
//
// Then iot:Connect on client/{clientID} is evaluated against the
// connection's policies (Policies.ConnectionPolicies) compiled once with
// sourceIP; a denial is an UnauthorizedException (CONNACK not authorized).
// The session returned answers every later check.
func (da *DeviceAccess) Authenticate(ctx context.Context, certs []*x509.Certificate, clientID, sourceIP string) (*DeviceSession, error) {
	for attempt := 1; ; attempt++ {
		tok := da.begin()
		s, err := da.authenticate(ctx, certs, clientID, sourceIP)
		// A change the follower acted on while s was built may not be in
		// what s was built from: start over, or leave s to the sweeper.
		retry := attempt < maxAuthAttempts
		if da.end(tok, s, retry) && retry {
			continue
		}
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

func (da *DeviceAccess) authenticate(ctx context.Context, certs []*x509.Certificate, clientID, sourceIP string) (*DeviceSession, error) {
	if len(certs) == 0 || certs[0] == nil {
		return nil, iotdm.Errorf(iotdm.ErrUnrecognizedClient, "no client certificate")
	}
	leaf := certs[0]
	id := pki.CertificateID(leaf.Raw)
	stored, ok, err := get[iotdm.StoredCertificate](ctx, da.store, iotdm.KindCertificate, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, iotdm.Errorf(iotdm.ErrUnrecognizedClient, "certificate %s is not registered", id)
	}
	if stored.Status != iotdm.CertificateActive {
		return nil, iotdm.Errorf(iotdm.ErrCertificateState, "certificate %s is %s", id, stored.Status)
	}
	if err := da.verifyChain(ctx, leaf, stored); err != nil {
		return nil, err
	}

	named, pctx, err := da.pols.ConnectionPolicies(ctx, stored.CertificateARN, clientID)
	if err != nil {
		if iotdm.IsCode(err, iotdm.ErrResourceNotFound) { // deleted meanwhile
			return nil, iotdm.Errorf(iotdm.ErrUnrecognizedClient, "certificate %s is not registered", id)
		}
		return nil, err
	}
	pctx.SourceIP = sourceIP
	s := &DeviceSession{
		principal:       stored.CertificateARN,
		certificateID:   id,
		caCertificateID: stored.CACertificateID,
		clientID:        clientID,
		prefix:          da.prefix,
		checker:         policy.Compile(named, pctx),
		created:         time.Now(),
	}
	for _, n := range named {
		s.policies = append(s.policies, n.Name)
	}
	if t := pctx.Thing; t != nil && t.IsAttached {
		s.thingName = t.Name
		if s.groups, err = da.thingGroups(ctx, t.Name); err != nil {
			return nil, err
		}
	}
	if !s.Allowed("iot:Connect", "client/"+clientID) {
		return nil, iotdm.Errorf(iotdm.ErrUnauthorized, "certificate %s may not connect as client %q", id, clientID)
	}
	return s, nil
}

// verifyChain checks that a registered certificate is valid now and
// issued by what it was registered under.
func (da *DeviceAccess) verifyChain(ctx context.Context, leaf *x509.Certificate, stored *iotdm.StoredCertificate) error {
	now := da.now()
	validation := func(err error) error {
		var ve *pki.ValidationError
		if errors.As(err, &ve) {
			return iotdm.Errorf(iotdm.ErrCertificateValidation, "certificate %s: %s", stored.CertificateID, ve.Reason)
		}
		return iotdm.Errorf(iotdm.ErrCertificateValidation, "certificate %s: %v", stored.CertificateID, err)
	}
	switch {
	case now.After(leaf.NotAfter):
		return iotdm.Errorf(iotdm.ErrCertificateValidation, "certificate %s expired at %s", stored.CertificateID, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return iotdm.Errorf(iotdm.ErrCertificateValidation, "certificate %s is not valid before %s", stored.CertificateID, leaf.NotBefore.UTC().Format(time.RFC3339))
	case stored.CACertificateID != "":
		ca, ok, err := get[storedCA](ctx, da.store, iotdm.KindCACertificate, stored.CACertificateID)
		if err != nil {
			return err
		}
		if !ok {
			return iotdm.Errorf(iotdm.ErrCertificateValidation, "certificate %s: its CA certificate %s is not registered", stored.CertificateID, stored.CACertificateID)
		}
		if ca.Status != iotdm.CACertificateActive {
			return iotdm.Errorf(iotdm.ErrCertificateState, "certificate %s: its CA certificate %s is %s", stored.CertificateID, ca.CertificateID, ca.Status)
		}
		caCert, err := pki.ParseCertificatePEM([]byte(ca.CertificatePem))
		if err != nil {
			return validation(err)
		}
		if err := pki.VerifyIssuedBy(leaf, caCert, now); err != nil {
			return validation(err)
		}
	case stored.CertificateMode == iotdm.CertificateModeSNIOnly:
		// Registered without a CA: its issuer is nobody's business.
	default:
		if err := pki.VerifyIssuedBy(leaf, da.ca.Certificate(), now); err != nil {
			return validation(err)
		}
	}
	return nil
}

// thingGroups returns the static groups a thing is in and all their
// ancestors: the groups whose policies the thing's connections inherit.
func (da *DeviceAccess) thingGroups(ctx context.Context, thing string) ([]string, error) {
	var out []string
	err := da.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		names, err := thingGroupNames(ctx, tx, thing)
		if err != nil {
			return err
		}
		for _, name := range names {
			out = append(out, name)
			g, ok, err := get[iotdm.ThingGroup](ctx, tx, iotdm.KindThingGroup, name)
			if err != nil {
				return err
			}
			if ok {
				for _, a := range g.ThingGroupMetadata.RootToParentThingGroups {
					out = append(out, a.GroupName)
				}
			}
		}
		return nil
	})
	slices.Sort(out)
	return slices.Compact(out), err
}

// arnBufSize is the stack buffer DeviceSession.Allowed builds ARNs in: room
// for the prefix, "topicfilter/" and a topic of AWS's longest (256 bytes)
// with a shared-subscription prefix.
const arnBufSize = 512

// DeviceSession is what one device connection may do: its identity and the
// policies compiled for it at CONNECT. It implements the broker's
// Authorization. It is immutable but for the revoked flag, and safe for
// concurrent use.
type DeviceSession struct {
	principal       string // the certificate ARN
	certificateID   string
	caCertificateID string // "" unless registered under a registered CA
	clientID        string
	thingName       string // the thing the client id names, when attached to the certificate
	prefix          string // "arn:aws:iot:{region}:{account}:"
	checker         *policy.Checker

	// What the decision depends on, for invalidation (sorted, no duplicates
	// in groups).
	policies []string // names of the effective policies
	groups   []string // static groups of the thing and their ancestors

	// opaque marks a stand-in for a session whose dependencies are unknown
	// (SessionOf); it allows nothing.
	opaque bool

	created time.Time // when Authenticate built it (wall clock, for the follower's windows)
	// basis is the last change the session was surely built with: every
	// change up to it was committed before Authenticate started reading.
	basis uint64
	// revoked is set once the certificate (or its CA) left ACTIVE or was
	// deleted: from then on the session allows nothing.
	revoked atomic.Bool
	// seen is set once the broker showed the session to a filter: it is
	// registered, and invalidations reach it through the broker.
	seen atomic.Bool
	// stale is set when an invalidation may have missed the session
	// between Authenticate and the broker registering it.
	stale atomic.Bool
}

// SessionOf returns the DeviceSession behind a broker Authorization: a
// itself when it is one; for another authorization with a certificate id
// (the broker's deny-all wrapper of an offline persistent session that may
// no longer connect) a stand-in that knows only the principal and the
// certificate, and that invalidations of any policy or group match; nil
// otherwise (a connection not authenticated by certificate).
func SessionOf(a interface {
	Principal() string
	CertificateID() string
}) *DeviceSession {
	if s, ok := a.(*DeviceSession); ok {
		return s
	}
	if a == nil || a.CertificateID() == "" {
		return nil
	}
	return &DeviceSession{principal: a.Principal(), certificateID: a.CertificateID(), opaque: true}
}

// Principal is the certificate ARN.
func (s *DeviceSession) Principal() string { return s.principal }

// CertificateID is the certificate id.
func (s *DeviceSession) CertificateID() string { return s.certificateID }

// ClientID is the MQTT client id the session was authorized for.
func (s *DeviceSession) ClientID() string { return s.clientID }

// ThingName is the registry thing the client id names when that thing is
// attached to the certificate (the thing of iot:Connection.Thing.*), else "".
func (s *DeviceSession) ThingName() string { return s.thingName }

// PolicyNames returns the names of the policies the session was compiled
// from.
func (s *DeviceSession) PolicyNames() []string { return slices.Clone(s.policies) }

// Allowed reports whether the session may perform action on resource, a
// resource as the broker names it ("topic/{topic}", "topicfilter/{filter}",
// "client/{clientId}"): the ARN prefix is prepended and the compiled
// policies decide. It allocates nothing unless the ARN is longer than
// arnBufSize.
func (s *DeviceSession) Allowed(action, resource string) bool {
	if s.opaque || s.revoked.Load() {
		return false
	}
	if len(s.prefix)+len(resource) > arnBufSize {
		return s.checker.Allowed(action, s.prefix+resource)
	}
	var buf [arnBufSize]byte
	n := copy(buf[:], s.prefix)
	n += copy(buf[n:], resource)
	// The string lives on this stack frame only: policy.Checker matches it
	// and keeps nothing of it.
	return s.checker.Allowed(action, unsafe.String(&buf[0], n))
}
