package broker

import (
	"context"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// coreLogHandler passes the broker core's (mochi's) records on one level
// lower: its Info is start-up chatter, its Warn and Error are mostly about one
// misbehaving client. The broker logs what matters itself. Records about a
// PUBLISH the broker refused are the broker's own refusals and go to Debug.
// Packets in records are reduced to their type, topic and id: a CONNECT
// carries a password and a PUBLISH a device's payload, neither of which
// belongs in a log.
type coreLogHandler struct{ h slog.Handler }

func coreLevel(l slog.Level) slog.Level {
	switch {
	case l >= slog.LevelError:
		return slog.LevelWarn
	case l >= slog.LevelWarn:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

func (c coreLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return c.h.Enabled(ctx, coreLevel(l))
}

func (c coreLogHandler) Handle(ctx context.Context, r slog.Record) error {
	level := coreLevel(r.Level)
	if r.Message == "publish packet error" || r.Message == "publish packet rejected" {
		level = slog.LevelDebug
	}
	if !c.h.Enabled(ctx, level) {
		return nil
	}
	out := slog.NewRecord(r.Time, level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrub(a))
		return true
	})
	return c.h.Handle(ctx, out)
}

func (c coreLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = scrub(a)
	}
	return coreLogHandler{c.h.WithAttrs(out)}
}

// scrub replaces a packet or a will by a summary without payload or
// credentials.
func scrub(a slog.Attr) slog.Attr {
	switch v := a.Value.Any().(type) {
	case packets.Packet:
		return slog.Group(a.Key, "type", packets.PacketNames[v.FixedHeader.Type], "topic", v.TopicName, "id", v.PacketID)
	case *packets.Packet:
		if v != nil {
			return slog.Group(a.Key, "type", packets.PacketNames[v.FixedHeader.Type], "topic", v.TopicName, "id", v.PacketID)
		}
	case mqtt.Will:
		return slog.Group(a.Key, "topic", v.TopicName)
	}
	return a
}

func (c coreLogHandler) WithGroup(name string) slog.Handler {
	return coreLogHandler{c.h.WithGroup(name)}
}
