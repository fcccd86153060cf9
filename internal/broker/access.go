package broker

import (
	"context"
	"crypto/x509"
	"errors"
	"net"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotdm/iotdm"
)

// Actions the broker asks an Authorization about (§4.2 of the reference).
// iot:Connect is not among them: it is the Access implementation's decision
// in Connect.
const (
	ActionPublish       = "iot:Publish"
	ActionRetainPublish = "iot:RetainPublish"
	ActionSubscribe     = "iot:Subscribe"
	ActionReceive       = "iot:Receive"
	// ActionConnect is only reported to the Observer: see above.
	ActionConnect = "iot:Connect"
)

// TopicResource is the resource the broker passes with iot:Publish,
// iot:RetainPublish and iot:Receive: "topic/" followed by the topic name
// exactly as it is on the wire. The Access implementation prepends
// "arn:aws:iot:{region}:{account}:" (or matches the tail as it likes).
func TopicResource(topic string) string { return "topic/" + topic }

// FilterResource is the resource the broker passes with iot:Subscribe:
// "topicfilter/" followed by the filter exactly as the client sent it, with
// "+" and "#" (and a "$share/{group}/" prefix) kept literally (§4.3).
func FilterResource(filter string) string { return "topicfilter/" + filter }

// Errors an Access implementation returns from Connect to choose the CONNACK
// refusal. Anything else (for example a failing store) refuses the
// connection with "unspecified error" (MQTT 5, 0x80) or "server unavailable"
// (3.1.1, 0x03). A *iotdm.Error also works: UnauthorizedException,
// AccessDeniedException and ForbiddenException count as ErrNotAuthorized;
// CertificateValidationException, CertificateStateException and
// UnrecognizedClientException as ErrBadCredentials.
var (
	// ErrNotAuthorized refuses with "not authorized": 0x87 (MQTT 5), 0x05 (3.1.1).
	ErrNotAuthorized = errors.New("not authorized")
	// ErrBadCredentials refuses with "bad user name or password": 0x86
	// (MQTT 5), 0x04 (3.1.1). Use it for unknown, inactive or invalid
	// certificates.
	ErrBadCredentials = errors.New("bad credentials")
)

// Access decides who a connection is and what it may do.
type Access interface {
	// Connect is called on every CONNECT with the TLS peer certificates
	// (nil for the plain listener), the client id and the remote address,
	// and again by (*Broker).Reauthorize for live sessions. It returns the
	// connection's Authorization, or an error (see ErrNotAuthorized and
	// ErrBadCredentials). The chain of the certificates is not verified by
	// the broker: registered CAs and SNI_ONLY certificates change at run
	// time, so that is Connect's job. Only proof of possession of the
	// leaf's key has been checked (by the TLS handshake).
	//
	// Connect runs on the connection's goroutine before the CONNACK is sent;
	// ctx ends when the connect timeout passes or the broker closes.
	Connect(ctx context.Context, info ConnectInfo) (Authorization, error)
}

// ConnectInfo is what the broker knows about a connection when it asks
// Access.Connect.
type ConnectInfo struct {
	// ClientID is the MQTT client id; when the client sent none the broker
	// assigned one.
	ClientID string
	// Certificates is the client's certificate chain as presented, leaf
	// first; nil on the plain listener.
	Certificates []*x509.Certificate
	// Remote is the client's address.
	Remote net.Addr
	// ServerName is the TLS SNI host name the client asked for ("" when it
	// sent none or on the plain listener).
	ServerName string
	// Username is the CONNECT user name (AWS clients put SDK metrics there).
	Username string
	// Password is the CONNECT password (nil when none was sent). Devices
	// on the TLS listeners authenticate by certificate; the plain listener
	// has nothing else to go by.
	Password []byte
	// ProtocolVersion is the MQTT protocol level: 3 (3.1), 4 (3.1.1) or 5.
	ProtocolVersion byte
	// CleanStart is the CONNECT clean session (3.1.1) / clean start (5) flag.
	CleanStart bool
	// Listener names the listener: "mqtts", "wss" or "mqtt" (plain TCP).
	Listener string
}

// Authorization is the compiled decision for one connection. The broker asks
// it on every packet, so Allowed must be fast and safe for concurrent use.
type Authorization interface {
	// Principal names the connection for logs and events, for example the
	// certificate ARN.
	Principal() string
	// CertificateID is the certificate id, or "" when the connection is
	// not certificate-authenticated.
	CertificateID() string
	// Allowed reports whether action (one of the Action constants) is
	// allowed on resource (TopicResource or FilterResource).
	Allowed(action, resource string) bool
}

// connectRefusal maps an error from Access.Connect to the CONNACK reason code
// for MQTT 5 and the return code for 3.1.1.
func connectRefusal(err error) (v5, v3 packets.Code) {
	switch {
	case errors.Is(err, ErrNotAuthorized):
		return packets.ErrNotAuthorized, packets.Err3NotAuthorized
	case errors.Is(err, ErrBadCredentials):
		return packets.ErrBadUsernameOrPassword, packets.ErrMalformedUsernameOrPassword
	}
	switch iotdm.CodeOf(err) {
	case iotdm.ErrUnauthorized, iotdm.ErrAccessDenied, iotdm.ErrForbidden:
		return packets.ErrNotAuthorized, packets.Err3NotAuthorized
	case iotdm.ErrCertificateValidation, iotdm.ErrCertificateState, iotdm.ErrUnrecognizedClient:
		return packets.ErrBadUsernameOrPassword, packets.ErrMalformedUsernameOrPassword
	}
	return packets.ErrUnspecifiedError, packets.Err3ServerUnavailable
}

// refusalReason names a CONNACK refusal for Observer.MQTTConnectRefused.
func refusalReason(v5 packets.Code) string {
	switch v5 {
	case packets.ErrNotAuthorized:
		return "not_authorized"
	case packets.ErrBadUsernameOrPassword:
		return "bad_credentials"
	case packets.ErrClientIdentifierNotValid:
		return "client_id_invalid"
	}
	return "server_error"
}

// authRef boxes an Authorization so that it can live in an atomic.Pointer.
type authRef struct{ Authorization }

// denyAll keeps the identity of an Authorization and allows nothing. Offline
// persistent sessions whose principal may no longer connect get it, so that
// nothing more is queued for them.
type denyAll struct{ Authorization }

func (denyAll) Allowed(string, string) bool { return false }
