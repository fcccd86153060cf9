package control

import (
	"encoding/base64"
	"strings"
)

// Page tokens are opaque to clients: the base64 of the last key returned,
// prefixed with a tag naming the listing so a token from one listing is not
// accepted by another.

func encodeToken(list, lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(list + "\x00" + lastKey))
}

func decodeToken(list, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", invalid("Invalid nextToken: %s", token)
	}
	tag, key, ok := strings.Cut(string(b), "\x00")
	if !ok || tag != list {
		return "", invalid("Invalid nextToken: %s", token)
	}
	return key, nil
}

// pager collects one page of at most size items and knows whether more follow.
type pager[T any] struct {
	size  int
	items []T
	keys  []string
	more  bool
}

// add appends an item; it returns false when the page is full and one more
// item was seen, so the caller stops scanning.
func (p *pager[T]) add(key string, item T) bool {
	if len(p.items) == p.size {
		p.more = true
		return false
	}
	p.items = append(p.items, item)
	p.keys = append(p.keys, key)
	return true
}

// next returns the token for the following page, or "" at the end.
func (p *pager[T]) next(list string) string {
	if !p.more {
		return ""
	}
	return encodeToken(list, p.keys[len(p.keys)-1])
}
