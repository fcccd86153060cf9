package broker

import (
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// DisconnectReason is why a connection ended, named as AWS names it in
// lifecycle events and in connectivity.disconnectReason (DisconnectReasonValue,
// §1.6 and §7.1 of the reference).
type DisconnectReason string

// Disconnect reasons.
const (
	// ReasonAuthError: the client failed authorization, for example an
	// unauthorized PUBLISH from a 3.1.1 client, or Reauthorize found that
	// it may no longer connect.
	ReasonAuthError DisconnectReason = "AUTH_ERROR"
	// ReasonClientInitiated: the client sent DISCONNECT.
	ReasonClientInitiated DisconnectReason = "CLIENT_INITIATED_DISCONNECT"
	// ReasonClientError: the client broke the protocol or a limit (malformed
	// packet, payload too large, QoS 2, invalid topic from a 3.1.1 client).
	ReasonClientError DisconnectReason = "CLIENT_ERROR"
	// ReasonConnectionLost: the network connection ended without DISCONNECT.
	ReasonConnectionLost DisconnectReason = "CONNECTION_LOST"
	// ReasonDuplicateClientID: another connection took over the client id.
	ReasonDuplicateClientID DisconnectReason = "DUPLICATE_CLIENTID"
	// ReasonForbiddenAccess: the client is not allowed to connect.
	ReasonForbiddenAccess DisconnectReason = "FORBIDDEN_ACCESS"
	// ReasonKeepAliveTimeout: nothing arrived for 1.5 × keep-alive.
	ReasonKeepAliveTimeout DisconnectReason = "MQTT_KEEP_ALIVE_TIMEOUT"
	// ReasonServerError: the server failed (for example Access.Connect
	// failed during Reauthorize).
	ReasonServerError DisconnectReason = "SERVER_ERROR"
	// ReasonServerInitiated: the server disconnected the client, for example
	// because it is shutting down.
	ReasonServerInitiated DisconnectReason = "SERVER_INITIATED_DISCONNECT"
	// ReasonThrottled: the client exceeded a rate limit.
	ReasonThrottled DisconnectReason = "THROTTLED"
	// ReasonAPIInitiated: an API call disconnected the client.
	ReasonAPIInitiated DisconnectReason = "API_INITIATED_DISCONNECT"
)

// code is the MQTT 5 DISCONNECT reason code the broker sends when it ends a
// connection for reason r.
func (r DisconnectReason) code() packets.Code {
	switch r {
	case ReasonAuthError, ReasonForbiddenAccess:
		return packets.ErrNotAuthorized
	case ReasonClientError:
		return packets.ErrProtocolViolation
	case ReasonDuplicateClientID:
		return packets.ErrSessionTakenOver
	case ReasonKeepAliveTimeout:
		return packets.ErrKeepAliveTimeout
	case ReasonServerError:
		return packets.ErrUnspecifiedError
	case ReasonThrottled:
		return packets.ErrMessageRateTooHigh
	default:
		return packets.ErrAdministrativeAction
	}
}

// Session identifies a connection in the lifecycle events: what every
// $aws/events/presence and subscriptions payload carries (§7.1).
type Session struct {
	ClientID      string
	Principal     string
	CertificateID string
	// SessionID is unique per connection (sessionIdentifier).
	SessionID string
	// IPAddress is the client's IP address without the port.
	IPAddress       string
	ProtocolVersion byte
	// VersionNumber increases with every connection (it is shared by the
	// events of one connection and may skip values, as AWS documents
	// versionNumber).
	VersionNumber int64
}

// ConnectEvent describes a connection that completed CONNECT/CONNACK
// ($aws/events/presence/connected/{clientId}).
type ConnectEvent struct {
	Session
	CleanStart     bool
	SessionPresent bool
	Time           time.Time
	Authorization  Authorization
}

// DisconnectEvent describes the end of a connection that had completed
// CONNECT/CONNACK ($aws/events/presence/disconnected/{clientId}).
type DisconnectEvent struct {
	Session
	Reason DisconnectReason
	// ClientInitiated is Reason == ReasonClientInitiated
	// (clientInitiatedDisconnect).
	ClientInitiated bool
	// SessionEnded is true when the session ended with the connection (clean
	// session, or an MQTT 5 session expiry interval of 0); false when a
	// persistent session stays to queue QoS 1 messages.
	SessionEnded bool
	Time         time.Time
	// Err is the underlying error, for logs; nil for a clean DISCONNECT.
	Err error
}

// SubscriptionEvent describes filters a client subscribed to (only those
// granted) or unsubscribed from ($aws/events/subscriptions/...).
type SubscriptionEvent struct {
	Session
	Filters []string
	Time    time.Time
}

// Message is a PUBLISH from a device delivered to a server-side handler (see
// (*Broker).Subscribe).
type Message struct {
	Topic string
	// Payload must not be modified: it is shared with the deliveries to the
	// subscribers.
	Payload []byte
	QoS     byte
	Retain  bool
	// ClientID is the publishing client's id.
	ClientID string
	// Authorization is the publishing connection's, nil when the connection
	// is gone (a delayed will).
	Authorization Authorization
	// Will is true when the message is the client's last will.
	Will bool
}

// RefusalEvent is a packet refused for authentication or authorization.
type RefusalEvent struct {
	ClientID      string
	CertificateID string // "" when the connection presented none known
	IPAddress     string // without the port
	Port          int
	// Action is the IoT action refused: iot:Connect, iot:Publish,
	// iot:RetainPublish or iot:Subscribe.
	Action string
	// Resource is the topic or topic filter (empty for iot:Connect).
	Resource string
	// Authentication is true when the client's identity was refused (an
	// unknown or inactive certificate) rather than its permissions.
	Authentication bool
	Details        string
	Time           time.Time
}
