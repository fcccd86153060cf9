package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/shadow"
)

// The Device Shadow service over MQTT (AWS §6.1): devices publish requests
// on $aws/things/{thing}/shadow[/name/{shadowName}]/{get,update,delete} and
// the service answers on the request topic plus /accepted or /rejected; an
// accepted update is also published on …/update/delta (when the delta is not
// empty) and …/update/documents. The requests run the REST operations of
// shadows.go on the same store, so both APIs share validation, versions and
// the change feed, and REST updates and deletes are published too. REST
// errors are never published (AWS §6.1: the two channels never cross).

// MessagePublisher publishes a message as the server: the broker's Publish.
// Services do not import the broker; cmd/iotdm hands it in.
type MessagePublisher interface {
	Publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error
}

// ShadowTopicFilter is the topic filter of the shadow requests, for the
// broker's server-side Subscribe. It also matches the service's own replies
// and anything else under …/shadow/; HandleMQTT ignores what is no request.
const ShadowTopicFilter = "$aws/things/+/shadow/#"

// shadowReplyQoS is the QoS of every message the service publishes. AWS
// delivers shadow messages at the QoS the device subscribed with; publishing
// at QoS 1 does that, because the broker delivers at the lower of the
// publication's and the subscription's QoS (MQTT 3.1.1 and 5, §3.8.4; mochi
// does so for the server's messages too), and AWS IoT has no QoS 2.
const shadowReplyQoS = 1

// msgInternalFailure is the text of AWS's 500 on a /rejected topic.
const msgInternalFailure = "Internal service failure"

// SetPublisher sets the publisher of the shadow messages; nil stops
// publishing (and HandleMQTT then drops requests). It may be called at any
// time, typically once the broker has started.
func (s *Shadows) SetPublisher(p MessagePublisher) { s.pub.set(p) }

// ShadowRejection is a shadow request over MQTT the service refused.
type ShadowRejection struct {
	Op                   string // get, update or delete
	Thing, Shadow, Topic string
	ClientID             string
	Status               int // the HTTP status of the error document's code
	Message              string
}

// ShadowRejectionHook is told about refused requests; it must be quick.
type ShadowRejectionHook func(ShadowRejection)

// SetRejectionHook sets (or, with nil, clears) the hook told about refused
// requests over MQTT.
func (s *Shadows) SetRejectionHook(h ShadowRejectionHook) {
	if h == nil {
		s.rejected.Store(nil)
		return
	}
	s.rejected.Store(&h)
}

// publisherSlot holds a MessagePublisher that may be set at any time.
type publisherSlot struct {
	p atomic.Pointer[MessagePublisher]
}

func (s *publisherSlot) set(p MessagePublisher) {
	if p == nil {
		s.p.Store(nil)
		return
	}
	s.p.Store(&p)
}

// get returns the publisher, nil when none is set.
func (s *publisherSlot) get() MessagePublisher {
	if p := s.p.Load(); p != nil {
		return *p
	}
	return nil
}

// shadowRequest is a request topic taken apart.
type shadowRequest struct {
	thing, shadow string
	named         bool
	op            string // get, update or delete
}

// parseShadowTopic recognizes a request topic:
// $aws/things/{thing}/shadow/{op} or
// $aws/things/{thing}/shadow/name/{shadowName}/{op}, op one of get, update
// and delete (AWS §6.1). Every other topic, the service's replies among
// them, is no request. The names are not validated here.
func parseShadowTopic(topic string) (shadowRequest, bool) {
	rest, ok := strings.CutPrefix(topic, "$aws/things/")
	if !ok {
		return shadowRequest{}, false
	}
	levels := strings.Split(rest, "/")
	var r shadowRequest
	switch {
	case len(levels) == 3 && levels[1] == "shadow":
		r = shadowRequest{thing: levels[0], op: levels[2]}
	case len(levels) == 5 && levels[1] == "shadow" && levels[2] == "name":
		r = shadowRequest{thing: levels[0], shadow: levels[3], named: true, op: levels[4]}
	default:
		return shadowRequest{}, false
	}
	switch r.op {
	case "get", "update", "delete":
		return r, true
	}
	return shadowRequest{}, false
}

// shadowTopic is the topic prefix of a shadow (AWS §6.1).
func shadowTopic(thingName, shadowName string) string {
	if shadowName == "" {
		return "$aws/things/" + thingName + "/shadow"
	}
	return "$aws/things/" + thingName + "/shadow/name/" + shadowName
}

// HandleMQTT serves one message a device published under ShadowTopicFilter:
// a get, update or delete request runs the REST operation and its outcome is
// published (see the file comment); any other topic is ignored. A request
// the service refuses is answered on …/rejected with the error document
// {code, message, timestamp, clientToken?} (AWS §6.2) and is not an error of
// HandleMQTT, which returns only the store's failures (also answered, 500)
// and the publisher's. The payload is only read. clientID names the
// publisher in errors.
//
// HandleMQTT may run concurrently; the messages of one shadow go out in
// commit order. Calling it on the publishing connection's goroutine keeps a
// device's requests in order (its get sees its update).
func (s *Shadows) HandleMQTT(ctx context.Context, topic string, payload []byte, clientID string) error {
	req, ok := parseShadowTopic(topic)
	if !ok {
		return nil
	}
	pub := s.pub.get()
	if pub == nil {
		return fmt.Errorf("shadow request %q from %q: no publisher", topic, clientID)
	}
	// AWS §6.1: get and delete ignore their payload but for the clientToken.
	token := shadow.ClientToken(payload)
	var pubErr, err error
	if req.named && req.shadow == "" {
		// An empty level is no shadow name; the classic shadow has its own
		// topics.
		err = &shadow.Error{Kind: shadow.InvalidRequest, Message: "Invalid shadow name"}
	} else {
		switch req.op {
		case "get":
			var st *shadow.State
			if st, err = s.state(ctx, req.thing, req.shadow); err == nil {
				pubErr = pub.Publish(context.WithoutCancel(ctx), topic+"/accepted", shadow.GetWithToken(st, token), shadowReplyQoS, false)
			}
		case "update":
			_, pubErr, err = s.update(ctx, req.thing, req.shadow, payload)
		case "delete":
			_, pubErr, err = s.delete(ctx, req.thing, req.shadow, token)
		}
	}
	if err != nil {
		rej, internal := rejection(err)
		if hook := s.rejected.Load(); hook != nil {
			(*hook)(ShadowRejection{Op: req.op, Thing: req.thing, Shadow: req.shadow, Topic: topic, ClientID: clientID,
				Status: rej.Kind.Status(), Message: rej.Message})
		}
		pubErr = pub.Publish(context.WithoutCancel(ctx), topic+"/rejected", shadow.RejectedDocument(rej, token, s.opts.Now()), shadowReplyQoS, false)
		if !internal {
			err = nil
		}
	}
	if err = errors.Join(err, pubErr); err != nil {
		return fmt.Errorf("shadow request %q from %q: %w", topic, clientID, err)
	}
	return nil
}

// rejection returns the error document's code and message for err, and
// whether err is a failure of the service rather than of the request
// (500, AWS's "Internal service failure").
func rejection(err error) (rej *shadow.Error, internal bool) {
	if errors.As(err, &rej) {
		return rej, false
	}
	var e *iotdm.Error
	if errors.As(err, &e) {
		if kind := shadowErrorKinds[e.Code]; kind != 0 {
			return &shadow.Error{Kind: kind, Message: e.Message}, false
		}
	}
	// The zero ErrorKind has status 500.
	return &shadow.Error{Message: msgInternalFailure}, true
}

// shadowErrorKinds inverts shadowError, for the errors the operations
// return as *iotdm.Error (invalid names).
var shadowErrorKinds = map[iotdm.ErrorCode]shadow.ErrorKind{
	iotdm.ErrInvalidRequest:              shadow.InvalidRequest,
	iotdm.ErrResourceNotFound:            shadow.NotFound,
	iotdm.ErrConflict:                    shadow.Conflict,
	iotdm.ErrRequestEntityTooLarge:       shadow.RequestEntityTooLarge,
	iotdm.ErrUnsupportedDocumentEncoding: shadow.UnsupportedDocumentEncoding,
}

// publishUpdate publishes an accepted update under the shadow's topic
// prefix: …/update/accepted, …/update/delta when the delta is not empty (AWS
// §6.3 item 7), and …/update/documents.
func publishUpdate(ctx context.Context, pub MessagePublisher, prefix string, res *shadow.Result) error {
	errs := []error{pub.Publish(ctx, prefix+"/update/accepted", res.Accepted, shadowReplyQoS, false)}
	if res.Delta != nil {
		errs = append(errs, pub.Publish(ctx, prefix+"/update/delta", res.Delta, shadowReplyQoS, false))
	}
	errs = append(errs, pub.Publish(ctx, prefix+"/update/documents", res.Documents, shadowReplyQoS, false))
	return errors.Join(errs...)
}

// publishDelete publishes …/delete/accepted, {version, timestamp,
// clientToken?} (AWS §6.1), for the tombstone of the deleted shadow: the
// DeleteThingShadow response plus the request's clientToken.
func publishDelete(ctx context.Context, pub MessagePublisher, prefix string, tomb *shadow.State, clientToken string) error {
	body := encodeShadowMessage(struct {
		Version     int64  `json:"version"`
		Timestamp   int64  `json:"timestamp"`
		ClientToken string `json:"clientToken,omitempty"`
	}{tomb.Version, tomb.DeletedAt.Unix(), clientToken})
	return pub.Publish(ctx, prefix+"/delete/accepted", body, shadowReplyQoS, false)
}

// encodeShadowMessage encodes v compactly without HTML escaping, as
// internal/shadow encodes its documents.
func encodeShadowMessage(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("control: encode shadow message: " + err.Error()) // only plain values are encoded
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// keyLocks is a mutex per key, held by the operations on that key, for as
// long as any holds or waits for it.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	refs int // holders and waiters
}

// lock locks key and returns its unlock.
func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
