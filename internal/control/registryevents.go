package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/iotdm/iotdm"
)

// Registry events (AWS §7.2): the registry's changes published on reserved
// $aws/events/... topics, for the event types UpdateEventConfigurations
// enabled. RegistryEvents derives them from the change feed, not from the
// operations, so every writer of the registry is covered and nothing is
// published for a write that did not commit:
//
//   - THING: a put of a thing whose version is 1 is CREATED, any other put
//     UPDATED, a delete DELETED (the delete's change carries the thing).
//   - THING_TYPE and THING_GROUP likewise, by the entity's version.
//   - THING_TYPE_ASSOCIATION: ADDED when a thing is created with a type or
//     an update sets one (Thing.PreviousThingTypeName records the type an
//     update replaced: REMOVED for it), REMOVED when a typed thing is
//     deleted.
//   - THING_GROUP_MEMBERSHIP: puts and deletes of KindThingMembership, plus
//     dynamic group memberships, which are derived state of the fleet index
//     and arrive through EnqueueDynamicMembership.
//   - THING_GROUP_HIERARCHY: a group created with a parent (ADDED) or
//     deleted while it had one (REMOVED).
//
// Writes of tags only (TagResource, UntagResource) publish nothing.
// Events are published at QoS 1, not retained; a failed publish is logged
// and skipped (AWS: delivery is at least once, order is not guaranteed).
// Events of changes committed while the server was down are not published:
// the server follows the feed from its last seq at start.

// tagWriteMarker is the member writeTags adds to an entity whose only change
// is its tags, so RegistryEvents can skip the put.
const tagWriteMarker = "_tagsOnly"

// eventQoS is the QoS of every registry event.
const eventQoS = 1

// dynamicQueueSize bounds the dynamic membership events waiting to be
// published; beyond it they are dropped (and logged).
const dynamicQueueSize = 4096

// RegistryEventsOptions configures RegistryEvents.
type RegistryEventsOptions struct {
	Region    string // in ARNs
	AccountID string // accountId of the payloads, and in ARNs
	Logger    *slog.Logger
	// Now returns the current time (the timestamp of dynamic membership
	// events); nil means time.Now. Other events carry their commit time.
	Now func() time.Time
}

// RegistryEvents publishes the registry events of AWS §7.2.
type RegistryEvents struct {
	store   iotdm.Store
	opts    RegistryEventsOptions
	log     *slog.Logger
	pub     publisherSlot
	dynamic chan dynamicMembership

	// Owned by Run.
	cfg *iotdm.EventConfigurationsState
}

// dynamicMembership is one queued dynamic group membership change.
type dynamicMembership struct {
	group, thing string
	added        bool
	at           time.Time
}

// NewRegistryEvents returns the registry events of store; nothing is
// published before Run runs and a publisher is set.
func NewRegistryEvents(store iotdm.Store, opts RegistryEventsOptions) *RegistryEvents {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &RegistryEvents{
		store:   store,
		opts:    opts,
		log:     opts.Logger.With("component", "registryevents"),
		dynamic: make(chan dynamicMembership, dynamicQueueSize),
	}
}

// SetPublisher sets the publisher of the events (the broker); nil stops
// publishing. It may be called at any time.
func (e *RegistryEvents) SetPublisher(p MessagePublisher) { e.pub.set(p) }

// EnqueueDynamicMembership queues a dynamic thing group membership change
// (fleetindex.FeederOptions.OnMembership) for Run to publish as a
// THING_GROUP_MEMBERSHIP event. It never blocks: when the queue is full the
// event is dropped and logged.
func (e *RegistryEvents) EnqueueDynamicMembership(group, thing string, added bool) {
	select {
	case e.dynamic <- dynamicMembership{group: group, thing: thing, added: added, at: e.opts.Now()}:
	default:
		e.log.Warn("registry events: dynamic membership queue full; event dropped", "group", group, "thing", thing, "added", added)
	}
}

// Run follows the change feed after seq from and publishes the events of
// the enabled types until ctx ends (returning ctx's error) or the store
// fails. Call it once.
func (e *RegistryEvents) Run(ctx context.Context, from uint64) error {
	cfg, err := loadEventConfigurations(ctx, e.store)
	if err != nil {
		return fmt.Errorf("registry events: %w", err)
	}
	e.cfg = cfg
	// A goroutine waits for the feed to grow, so Run can serve the dynamic
	// queue meanwhile: it answers each seq sent on waitFrom with Wait's
	// result on woke.
	waitCtx, stop := context.WithCancel(ctx)
	defer stop()
	waitFrom, woke := make(chan uint64), make(chan error, 1)
	go func() {
		for {
			select {
			case seq := <-waitFrom:
				woke <- e.store.Wait(waitCtx, seq)
			case <-waitCtx.Done():
				return
			}
		}
	}()
	const page = 1024
	after := from
	for {
		changes, err := e.store.Changes(ctx, after, page)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("registry events: %w", err)
		}
		if len(changes) > 0 {
			e.page(ctx, changes)
			after = changes[len(changes)-1].Seq
		}
		if len(changes) == page {
			e.drainDynamic(ctx) // keep dynamic events flowing under load
			continue
		}
		select {
		case waitFrom <- after:
		case <-ctx.Done():
			return ctx.Err()
		}
		for waiting := true; waiting; {
			select {
			case err := <-woke:
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return fmt.Errorf("registry events: %w", err)
				}
				waiting = false
			case m := <-e.dynamic:
				e.publishDynamic(ctx, m)
			}
		}
	}
}

// drainDynamic publishes the dynamic membership events queued now.
func (e *RegistryEvents) drainDynamic(ctx context.Context) {
	for {
		select {
		case m := <-e.dynamic:
			e.publishDynamic(ctx, m)
		default:
			return
		}
	}
}

// enabled reports whether events of type t are published now.
func (e *RegistryEvents) enabled(t string) bool {
	return e.cfg.Enabled(t) && e.pub.get() != nil
}

// anyEnabled reports whether a change of kind can publish anything.
func (e *RegistryEvents) anyEnabled(kind string) bool {
	switch kind {
	case iotdm.KindThing:
		return e.enabled(iotdm.EventThing) || e.enabled(iotdm.EventThingTypeAssociation)
	case iotdm.KindThingType:
		return e.enabled(iotdm.EventThingType)
	case iotdm.KindThingGroup:
		return e.enabled(iotdm.EventThingGroup) || e.enabled(iotdm.EventThingGroupHierarchy)
	case iotdm.KindThingMembership:
		return e.enabled(iotdm.EventThingGroupMembership)
	}
	return false
}

// feedPage is one page of the feed being published: entities are looked up
// in it before the store, so an event of a change whose thing or group the
// same transaction deleted (DeleteThing removes the memberships first)
// still finds their ids in the delete's value.
type feedPage struct {
	changes []iotdm.Change
	byKey   map[entityRef][]int // indices of each entity's changes
}

type entityRef struct{ kind, key string }

// page publishes the events of one page of changes.
func (e *RegistryEvents) page(ctx context.Context, changes []iotdm.Change) {
	p := &feedPage{changes: changes}
	for i, c := range changes {
		if c.Kind == iotdm.KindAccount && c.Key == iotdm.EventConfigurationsKey {
			e.cfg = nil
			if c.Op == iotdm.OpPut {
				var st iotdm.EventConfigurationsState
				if err := json.Unmarshal(c.Value, &st); err != nil {
					e.log.Error("registry events: decode event configuration", "err", err)
				} else {
					e.cfg = &st
				}
			}
			continue
		}
		if !e.anyEnabled(c.Kind) {
			continue
		}
		if p.byKey == nil {
			p.byKey = map[entityRef][]int{}
			for j, d := range changes {
				k := entityRef{d.Kind, d.Key}
				p.byKey[k] = append(p.byKey[k], j)
			}
		}
		e.change(ctx, p, i)
	}
}

// lookup returns an entity's value as of change i of the page: its last
// change at or before i, else its first change after i (a later delete's
// value is the state at i), else the store's current value.
func (e *RegistryEvents) lookup(ctx context.Context, p *feedPage, i int, kind, key string) ([]byte, bool) {
	idx := p.byKey[entityRef{kind, key}]
	best := -1
	for _, j := range idx {
		if j <= i || best < 0 {
			best = j
		}
		if j > i {
			break
		}
	}
	if best >= 0 {
		return p.changes[best].Value, len(p.changes[best].Value) > 0
	}
	v, ok, err := e.store.Get(ctx, kind, key)
	if err != nil {
		e.log.Warn("registry events: read entity", "kind", kind, "key", key, "err", err)
		return nil, false
	}
	return v, ok
}

// change publishes the events of change i of p.
func (e *RegistryEvents) change(ctx context.Context, p *feedPage, i int) {
	c := p.changes[i]
	if c.Op == iotdm.OpPut && tagsOnly(c.Value) {
		return
	}
	var err error
	switch c.Kind {
	case iotdm.KindThing:
		err = e.thing(ctx, c)
	case iotdm.KindThingType:
		err = e.thingType(ctx, c)
	case iotdm.KindThingGroup:
		err = e.thingGroup(ctx, p, i)
	case iotdm.KindThingMembership:
		err = e.membership(ctx, p, i)
	}
	if err != nil {
		e.log.Error("registry events: bad change", "seq", c.Seq, "kind", c.Kind, "key", c.Key, "err", err)
	}
}

// decodeChange decodes a change's value into v; a delete without a value
// (written before deletes carried theirs) leaves v empty.
func decodeChange(c iotdm.Change, v any) error {
	if c.Op == iotdm.OpDelete && len(c.Value) == 0 {
		return nil
	}
	return json.Unmarshal(c.Value, v)
}

// tagsOnly reports whether a put only changed the entity's tags.
func tagsOnly(v []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(v, &m) == nil && string(m[tagWriteMarker]) == "true"
}

// operation is CREATED, UPDATED or DELETED for an entity change.
func operation(c iotdm.Change, version int64) string {
	switch {
	case c.Op == iotdm.OpDelete:
		return "DELETED"
	case version == 1:
		return "CREATED"
	}
	return "UPDATED"
}

// base returns the members every event payload has.
func (e *RegistryEvents) base(eventType, op string, at time.Time) map[string]any {
	return map[string]any{
		"eventType": eventType,
		"eventId":   uuid.NewString(),
		"timestamp": at.UnixMilli(),
		"operation": op,
		"accountId": e.opts.AccountID,
	}
}

// publish sends one event; errors are logged.
func (e *RegistryEvents) publish(ctx context.Context, topic string, payload map[string]any) {
	p := e.pub.get()
	if p == nil {
		return
	}
	b, err := json.Marshal(payload)
	if err != nil {
		e.log.Error("registry events: encode", "topic", topic, "err", err)
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.Publish(pctx, topic, b, eventQoS, false); err != nil {
		if ctx.Err() == nil {
			e.log.Warn("registry events: publish failed", "topic", topic, "err", err)
		}
	}
}

func (e *RegistryEvents) arn(resource, name string) string {
	return "arn:aws:iot:" + e.opts.Region + ":" + e.opts.AccountID + ":" + resource + "/" + name
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (e *RegistryEvents) thing(ctx context.Context, c iotdm.Change) error {
	var t iotdm.Thing
	if err := decodeChange(c, &t); err != nil {
		return err
	}
	name := c.Key
	op := operation(c, t.Version)
	if e.enabled(iotdm.EventThing) {
		attrs := t.Attributes
		if attrs == nil {
			attrs = map[string]string{}
		}
		m := e.base("THING_EVENT", op, c.Time)
		m["thingId"] = t.ThingID
		m["thingName"] = name
		m["versionNumber"] = t.Version
		m["thingTypeName"] = nullable(t.ThingTypeName)
		m["attributes"] = attrs
		e.publish(ctx, "$aws/events/thing/"+name+"/"+strings.ToLower(op), m)
	}
	if e.enabled(iotdm.EventThingTypeAssociation) {
		assoc := func(typeName string, added bool) {
			op := "REMOVED"
			if added {
				op = "ADDED"
			}
			m := map[string]any{
				"eventType":     "THING_TYPE_ASSOCIATION_EVENT",
				"eventId":       uuid.NewString(),
				"operation":     op,
				"thingId":       t.ThingID,
				"thingName":     name,
				"thingTypeName": typeName,
				"timestamp":     c.Time.UnixMilli(),
			}
			e.publish(ctx, "$aws/events/thingTypeAssociation/thing/"+name+"/thingType/"+typeName+"/"+strings.ToLower(op), m)
		}
		switch {
		case c.Op == iotdm.OpDelete:
			if t.ThingTypeName != "" {
				assoc(t.ThingTypeName, false)
			}
		case op == "CREATED":
			if t.ThingTypeName != "" {
				assoc(t.ThingTypeName, true)
			}
		case t.PreviousThingTypeName != nil && *t.PreviousThingTypeName != t.ThingTypeName:
			if prev := *t.PreviousThingTypeName; prev != "" {
				assoc(prev, false)
			}
			if t.ThingTypeName != "" {
				assoc(t.ThingTypeName, true)
			}
		}
	}
	return nil
}

func (e *RegistryEvents) thingType(ctx context.Context, c iotdm.Change) error {
	var tt iotdm.ThingType
	if err := decodeChange(c, &tt); err != nil {
		return err
	}
	op := operation(c, tt.Version)
	m := e.base("THING_TYPE_EVENT", op, c.Time)
	m["thingTypeId"] = tt.ThingTypeID
	m["thingTypeName"] = c.Key
	m["isDeprecated"] = tt.ThingTypeMetadata.Deprecated
	m["deprecationDate"] = nil
	if d := tt.ThingTypeMetadata.DeprecationDate; d != nil {
		m["deprecationDate"] = d.Time.UnixMilli()
	}
	searchable := tt.ThingTypeProperties.SearchableAttributes
	if searchable == nil {
		searchable = []string{}
	}
	m["searchableAttributes"] = searchable
	m["description"] = nullable(tt.ThingTypeProperties.ThingTypeDescription)
	e.publish(ctx, "$aws/events/thingType/"+c.Key+"/"+strings.ToLower(op), m)
	return nil
}

// groupID returns the id of a group as of change i of p, "" when unknown.
func (e *RegistryEvents) groupID(ctx context.Context, p *feedPage, i int, name string) string {
	v, ok := e.lookup(ctx, p, i, iotdm.KindThingGroup, name)
	if !ok {
		return ""
	}
	var g iotdm.ThingGroup
	if json.Unmarshal(v, &g) != nil {
		return ""
	}
	return g.ThingGroupID
}

func (e *RegistryEvents) thingGroup(ctx context.Context, p *feedPage, i int) error {
	c := p.changes[i]
	var g iotdm.ThingGroup
	if err := decodeChange(c, &g); err != nil {
		return err
	}
	op := operation(c, g.Version)
	parent := g.ThingGroupMetadata.ParentGroupName
	parentID := ""
	if parent != "" {
		parentID = e.groupID(ctx, p, i, parent)
	}
	if e.enabled(iotdm.EventThingGroup) {
		path := make([]map[string]any, 0, len(g.ThingGroupMetadata.RootToParentThingGroups))
		for _, a := range g.ThingGroupMetadata.RootToParentThingGroups {
			id := parentID
			if a.GroupName != parent {
				id = e.groupID(ctx, p, i, a.GroupName)
			}
			path = append(path, map[string]any{"groupArn": a.GroupARN, "groupId": id})
		}
		attrs := map[string]string{}
		if ap := g.ThingGroupProperties.AttributePayload; ap != nil && ap.Attributes != nil {
			attrs = ap.Attributes
		}
		m := e.base("THING_GROUP_EVENT", op, c.Time)
		m["thingGroupId"] = g.ThingGroupID
		m["thingGroupName"] = c.Key
		m["versionNumber"] = g.Version
		m["parentGroupName"] = nullable(parent)
		m["parentGroupId"] = nullable(parentID)
		m["description"] = nullable(g.ThingGroupProperties.ThingGroupDescription)
		m["rootToParentThingGroups"] = path
		m["attributes"] = attrs
		// AWS's own payloads carry the attributes as an attributePayload.
		m["attributePayload"] = map[string]any{"attributes": attrs, "merge": false}
		// A dynamic group's mapping: iotdm uses the group's id.
		m["dynamicGroupMappingId"] = nil
		if g.Dynamic() {
			m["dynamicGroupMappingId"] = g.ThingGroupID
		}
		e.publish(ctx, "$aws/events/thingGroup/"+c.Key+"/"+strings.ToLower(op), m)
	}
	if e.enabled(iotdm.EventThingGroupHierarchy) && parent != "" && op != "UPDATED" {
		hop := "ADDED"
		if op == "DELETED" {
			hop = "REMOVED"
		}
		m := e.base("THING_GROUP_HIERARCHY_EVENT", hop, c.Time)
		m["thingGroupId"] = parentID
		m["thingGroupName"] = parent
		m["childGroupId"] = g.ThingGroupID
		m["childGroupName"] = c.Key
		e.publish(ctx, "$aws/events/thingGroupHierarchy/thingGroup/"+parent+"/childThingGroup/"+c.Key+"/"+strings.ToLower(hop), m)
	}
	return nil
}

func (e *RegistryEvents) membership(ctx context.Context, p *feedPage, i int) error {
	c := p.changes[i]
	thing, group, ok := strings.Cut(c.Key, "/")
	if !ok {
		return errors.New("membership key is not thing/group")
	}
	thingID := ""
	if v, ok := e.lookup(ctx, p, i, iotdm.KindThing, thing); ok {
		var t iotdm.Thing
		if json.Unmarshal(v, &t) == nil {
			thingID = t.ThingID
		}
	}
	e.publishMembership(ctx, group, e.groupID(ctx, p, i, group), thing, thingID, c.Op == iotdm.OpPut, c.Time)
	return nil
}

// publishMembership publishes one THING_GROUP_MEMBERSHIP event.
func (e *RegistryEvents) publishMembership(ctx context.Context, group, groupID, thing, thingID string, added bool, at time.Time) {
	op := "REMOVED"
	if added {
		op = "ADDED"
	}
	m := e.base("THING_GROUP_MEMBERSHIP_EVENT", op, at)
	m["groupArn"] = e.arn("thinggroup", group)
	m["groupId"] = groupID
	m["thingArn"] = e.arn("thing", thing)
	m["thingId"] = thingID
	m["membershipId"] = membershipID(group, thing)
	e.publish(ctx, "$aws/events/thingGroupMembership/thingGroup/"+group+"/thing/"+thing+"/"+strings.ToLower(op), m)
}

// membershipID is the stable id of a thing's membership of a group: the
// same for its ADDED and REMOVED events.
func membershipID(group, thing string) string {
	sum := sha256.Sum256([]byte(group + "\x00" + thing))
	return hex.EncodeToString(sum[:16])
}

// publishDynamic publishes a queued dynamic membership change, reading the
// ids from the store (a group or thing deleted meanwhile leaves its id
// empty).
func (e *RegistryEvents) publishDynamic(ctx context.Context, m dynamicMembership) {
	if !e.enabled(iotdm.EventThingGroupMembership) {
		return
	}
	var groupID, thingID string
	if g, ok, err := get[iotdm.ThingGroup](ctx, e.store, iotdm.KindThingGroup, m.group); err == nil && ok {
		groupID = g.ThingGroupID
	}
	if t, ok, err := get[iotdm.Thing](ctx, e.store, iotdm.KindThing, m.thing); err == nil && ok {
		thingID = t.ThingID
	}
	e.publishMembership(ctx, m.group, groupID, m.thing, thingID, m.added, m.at)
}
