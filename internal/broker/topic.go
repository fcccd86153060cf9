package broker

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	// basicIngestPrefix starts the topics of AWS Basic Ingest; the prefix
	// and the rule name after it do not count towards the topic limits.
	basicIngestPrefix = "$aws/rules/"
	// sharePrefix starts a shared subscription filter.
	sharePrefix = "$share/"
	// eventsPrefix starts the reserved event topics clients may only
	// subscribe to (§7).
	eventsPrefix = "$aws/events/"
	// sysPrefix starts the broker core's own $SYS topics, which are not
	// part of AWS IoT; devices may neither publish nor subscribe there.
	sysPrefix = "$SYS"
)

// checkTopic reports whether a topic name or filter is within the length and
// depth limits (§9.3). The prefixes "$aws/rules/{rule}/" and
// "$share/{group}/" do not count.
func (l Limits) checkTopic(topic string) error {
	rest := topic
	for _, prefix := range []string{sharePrefix, basicIngestPrefix} {
		if after, ok := strings.CutPrefix(rest, prefix); ok {
			if _, tail, ok := strings.Cut(after, "/"); ok {
				rest = tail
			}
		}
	}
	if len(rest) > l.MaxTopicLength {
		return fmt.Errorf("topic longer than %d bytes", l.MaxTopicLength)
	}
	if n := strings.Count(rest, "/"); n > l.MaxTopicSlashes {
		return fmt.Errorf("topic has %d slashes, more than %d", n, l.MaxTopicSlashes)
	}
	return nil
}

// reservedForPublish reports whether devices may not publish to topic
// whatever their policy says: the event topics are the broker's own (§7), and
// $SYS belongs to the broker core.
func reservedForPublish(topic string) bool {
	return strings.HasPrefix(topic, eventsPrefix) || hasSysPrefix(topic)
}

// reservedForSubscribe reports whether devices may not subscribe to filter
// whatever their policy says.
func reservedForSubscribe(filter string) bool {
	return hasSysPrefix(filter)
}

func hasSysPrefix(s string) bool {
	return len(s) >= len(sysPrefix) && strings.EqualFold(s[:len(sysPrefix)], sysPrefix)
}

// validServerTopic reports whether the server itself may publish to topic:
// a non-empty UTF-8 topic name without wildcards or NUL. The device limits
// do not apply to the server.
func validServerTopic(topic string) bool {
	return topic != "" && utf8.ValidString(topic) && !strings.ContainsAny(topic, "+#\x00")
}
