package iotdm

import "context"

// Device connectivity (AWS §2.1, §7.1) and the registry event configuration
// (AWS §7.2).
//
// The broker's connects and disconnects of a client whose client id is the
// name of a registered thing are stored as one KindConnectivity entity per
// thing, keyed by the thing name, holding a ConnectivityState. The fleet index
// follows it into the connectivity section of the thing's document
// (connectivity.connected, connectivity.timestamp,
// connectivity.disconnectReason) and GetThingConnectivityData reads it.
// Clients whose id names no thing produce lifecycle events but no entity.
//
// The account's event configuration (which registry events are published)
// is the KindAccount entity EventConfigurationsKey, holding an
// EventConfigurationsState.
const (
	KindConnectivity       = "connectivity"
	EventConfigurationsKey = "eventconfigurations"
)

// ConnectivityState is the stored connection state of one thing.
//
// ThingID is the id of the thing the state was recorded for: a thing
// deleted and created again under the same name gets a new id, and a state
// whose ThingID is not the current thing's is ignored (the new thing is
// disconnected until its client connects again). VersionNumber orders the
// events of different connections (the broker's versionNumber, §7.1): an
// event older than the stored one never replaces it, so a late disconnect of
// an old connection cannot overwrite the connect of a newer one.
type ConnectivityState struct {
	Connected bool `json:"connected"`
	// Timestamp is the time of the last connect or disconnect, in epoch
	// milliseconds.
	Timestamp        int64  `json:"timestamp"`
	DisconnectReason string `json:"disconnectReason,omitempty"`

	ThingID       string `json:"thingId,omitempty"`
	VersionNumber int64  `json:"versionNumber"`
	// SessionID and Principal identify the connection the state is of
	// (sessionIdentifier and principalIdentifier of its events).
	SessionID string `json:"sessionIdentifier,omitempty"`
	Principal string `json:"principalIdentifier,omitempty"`
	// Node is the cluster node the connection is (or was) on; empty for a
	// server of its own.
	Node string `json:"node,omitempty"`
}

// DisconnectReasonValue values (the model's enum; §1.6).
const (
	DisconnectAuthError              = "AUTH_ERROR"
	DisconnectClientInitiated        = "CLIENT_INITIATED_DISCONNECT"
	DisconnectClientError            = "CLIENT_ERROR"
	DisconnectConnectionLost         = "CONNECTION_LOST"
	DisconnectDuplicateClientID      = "DUPLICATE_CLIENTID"
	DisconnectForbiddenAccess        = "FORBIDDEN_ACCESS"
	DisconnectKeepAliveTimeout       = "MQTT_KEEP_ALIVE_TIMEOUT"
	DisconnectServerError            = "SERVER_ERROR"
	DisconnectServerInitiated        = "SERVER_INITIATED_DISCONNECT"
	DisconnectThrottled              = "THROTTLED"
	DisconnectWebsocketTTLExpiration = "WEBSOCKET_TTL_EXPIRATION"
	DisconnectCustomAuthTTLExpired   = "CUSTOMAUTH_TTL_EXPIRATION"
	DisconnectUnknown                = "UNKNOWN"
	DisconnectNone                   = "NONE"
)

// EventType values of UpdateEventConfigurations (the model's EventType).
const (
	EventThing                = "THING"
	EventThingGroup           = "THING_GROUP"
	EventThingType            = "THING_TYPE"
	EventThingGroupMembership = "THING_GROUP_MEMBERSHIP"
	EventThingGroupHierarchy  = "THING_GROUP_HIERARCHY"
	EventThingTypeAssociation = "THING_TYPE_ASSOCIATION"
	EventJob                  = "JOB"
	EventJobExecution         = "JOB_EXECUTION"
	EventPolicy               = "POLICY"
	EventCertificate          = "CERTIFICATE"
	EventCACertificate        = "CA_CERTIFICATE"
)

// EventTypes lists every EventType, in the model's order.
var EventTypes = []string{
	EventThing, EventThingGroup, EventThingType, EventThingGroupMembership, EventThingGroupHierarchy,
	EventThingTypeAssociation, EventJob, EventJobExecution, EventPolicy, EventCertificate, EventCACertificate,
}

// EventConfiguration is AWS's Configuration of one event type. AWS
// capitalises its member name.
type EventConfiguration struct {
	Enabled bool `json:"Enabled"`
}

// EventConfigurationsState is the stored event configuration of the
// account: the enabled flag of each event type that was ever configured
// (absent types are disabled), and when it was first and last updated.
type EventConfigurationsState struct {
	EventConfigurations map[string]EventConfiguration `json:"eventConfigurations"`
	CreationDate        Timestamp                     `json:"creationDate"`
	LastModifiedDate    Timestamp                     `json:"lastModifiedDate"`
}

// Enabled reports whether registry events of type eventType are published.
func (s *EventConfigurationsState) Enabled(eventType string) bool {
	return s != nil && s.EventConfigurations[eventType].Enabled
}

// --- operation shapes ---

type GetThingConnectivityDataInput struct {
	ThingName string `json:"-" uri:"thingName"`
}

type GetThingConnectivityDataOutput struct {
	ThingName string `json:"thingName"`
	Connected bool   `json:"connected"`
	// Timestamp is absent when the thing never connected.
	Timestamp        *Timestamp `json:"timestamp,omitempty"`
	DisconnectReason string     `json:"disconnectReason,omitempty"`
}

type UpdateEventConfigurationsInput struct {
	EventConfigurations map[string]EventConfiguration `json:"eventConfigurations,omitempty"`
}

type DescribeEventConfigurationsInput struct{}

type DescribeEventConfigurationsOutput struct {
	EventConfigurations map[string]EventConfiguration `json:"eventConfigurations"`
	CreationDate        *Timestamp                    `json:"creationDate,omitempty"`
	LastModifiedDate    *Timestamp                    `json:"lastModifiedDate,omitempty"`
}

// Connectivity answers the connection state of things (AWS §2.1, "Device
// connectivity status queries").
type Connectivity interface {
	GetThingConnectivityData(ctx context.Context, in *GetThingConnectivityDataInput) (*GetThingConnectivityDataOutput, error)
}

// EventConfigurations switches the registry events of AWS §7.2 on and off.
type EventConfigurations interface {
	UpdateEventConfigurations(ctx context.Context, in *UpdateEventConfigurationsInput) (*Empty, error)
	DescribeEventConfigurations(ctx context.Context, in *DescribeEventConfigurationsInput) (*DescribeEventConfigurationsOutput, error)
}
