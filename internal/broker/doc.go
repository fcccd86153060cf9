// Package broker is iotdm's MQTT broker: MQTT 3.1.1 and 5 over mutual TLS
// (and over WebSocket with the same mutual TLS), authorizing every packet as
// AWS IoT Core does (§4.2–4.6, §5.3, §7 and §9.3 of
// shared/reference/aws-iot.md).
//
// # Why mochi
//
// The protocol work (packet codecs for both versions, sessions, QoS 1 flows,
// retained messages, topic matching, shared subscriptions, keep-alive) is
// mochi-mqtt's (github.com/mochi-mqtt/server/v2): a pure Go broker core,
// maintained, without cgo or global state, that is embedded as a library and
// extended through hooks with no-op defaults. The broker keeps mochi behind
// interfaces of its own: Access and Authorization decide, Options configure,
// and callers never see a mochi type. Nothing here is global: every Broker
// owns its mochi server, its listeners and its goroutines.
//
// # Identity
//
// The listeners (listener.go, not mochi's) complete the TLS handshake with
// ClientAuth RequireAnyClientCert before handing a connection to mochi, so a
// client without a certificate is refused at the TLS level; the chain is not
// verified there, because registered CAs and SNI_ONLY certificates change at
// run time. On CONNECT, mochi's OnConnect hook calls Access.Connect with the
// peer certificates, the client id, the SNI name and the remote address, and
// writes the refusing CONNACK itself (mochi's own refusal only knows "bad
// user name or password"): ErrNotAuthorized is 0x87 (MQTT 5) / 0x05 (3.1.1),
// ErrBadCredentials 0x86 / 0x04, anything else 0x80 / 0x03. The
// Authorization it returns is kept per connection (and per offline
// persistent session) and asked on every packet.
//
// # Authorization at mochi's hook points
//
// The resources are "topic/<topic>" and "topicfilter/<filter>" (TopicResource,
// FilterResource); the Access implementation prepends the ARN prefix.
//
//   - PUBLISH needs iot:Publish on topic/<topic>, and iot:RetainPublish too
//     when RETAIN is set. An MQTT 5 PUBLISH is decided in OnPublish: a refused
//     QoS 1 PUBLISH gets PUBACK 0x87, a refused QoS 0 one is dropped, and the
//     connection stays. A 3.1.1 PUBLISH is decided in OnPacketRead, where
//     returning ErrRejectPacket makes mochi close the connection as a broken
//     one (with the will): AWS disconnects 3.1.1 clients that publish where
//     they may not (AUTH_ERROR). Topic aliases are off (Topic Alias Maximum
//     0), so the topic is final in both places.
//   - SUBSCRIBE needs iot:Subscribe on topicfilter/<filter>, per filter.
//     OnSubscribe decides every filter; a refused filter is replaced by the
//     empty filter, which mochi refuses without subscribing, and
//     OnPacketEncode restores the reason code in the SUBACK (0x87 not
//     authorized, 0x8F over the topic limits, 0x97 over a quota; 3.1.1 knows
//     only 0x80). Granted filters in the same packet succeed.
//   - Every delivery to a subscriber needs iot:Receive on topic/<topic>, so a
//     revocation bites existing subscriptions: mochi asks OnACLCheck(write =
//     false) before it queues a message for a client, retained messages
//     included. mochi asks the same hook, with the filter, while it
//     processes a SUBSCRIBE; OnSubscribe hands mochi a private copy of each
//     granted filter and OnACLCheck recognizes that very string (by address),
//     so everything else it is asked is a delivery.
//   - Messages queued for an offline persistent session are checked against
//     the new connection's Authorization in OnSessionEstablish, before mochi
//     resends them.
//   - A will is kept only if the Authorization at CONNECT allows publishing
//     it.
//
// Reauthorize runs Access.Connect again for live sessions (after a policy
// change) and ends those no longer allowed to connect; Disconnect ends
// sessions (a certificate that left ACTIVE). Both take effect at once: the
// Authorization is swapped atomically, and a connection is ended by closing
// its network connection (MQTT 5 clients get a DISCONNECT first).
//
// Devices may not publish to $aws/events/... (§7) and may neither publish nor
// subscribe to mochi's $SYS topics, whatever their policy.
//
// # Limits and sessions
//
// Limits default to AWS's (§9.3): 128 KiB payloads (larger ones close the
// connection, MQTT 5 with DISCONNECT 0x95), topics of at most 256 bytes and 7
// slashes, 8 filters per SUBSCRIBE, 50 subscriptions per session, client ids
// of at most 128 bytes, keep-alive between 30 s and 1200 s with
// disconnection after 1.5 × keep-alive, QoS 0 and 1 only (a QoS 2 PUBLISH
// closes the connection), Receive Maximum 100, persistent sessions kept for
// an hour with their QoS 1 messages in memory. A second CONNECT with the same
// client id takes the session over and ends the first connection
// (DUPLICATE_CLIENTID).
//
// # The server's own messages
//
// Publish publishes as the server (shadow responses, events) without
// authorization, through a mochi client that is not registered with mochi,
// so no device can take it over; subscribers still need iot:Receive.
// Subscribe registers server-side handlers for device messages (shadow
// requests, for example); they run in OnPublished, on the publishing
// connection's goroutine, with the publisher's client id and Authorization,
// after the message went to the subscribed devices.
//
// # Lifecycle callbacks
//
// Options.OnConnect, OnDisconnect, OnSubscribe and OnUnsubscribe carry what
// the §7.1 lifecycle events need, with the disconnect reason named as AWS
// names it. They run synchronously on connection goroutines and must only
// queue their event.
package broker
