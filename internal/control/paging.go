package control

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/iotdm/iotdm"
)

// Page tokens are opaque to clients: the base64 of the last key returned,
// prefixed with a tag naming the listing so a token from one listing is not
// accepted by another.

func encodeToken(list, lastKey string) string {
	return encodePage(base64.RawURLEncoding, list, lastKey)
}

func decodeToken(list, token string) (string, error) {
	return decodePage(base64.RawURLEncoding, "nextToken", list, token)
}

// Markers, the page tokens of the marker/nextMarker listings (§1.4), carry
// the same payload in padded standard base64: the model constrains them to
// [A-Za-z0-9+/]+={0,2}.

func encodeMarker(list, lastKey string) string {
	return encodePage(base64.StdEncoding, list, lastKey)
}

func decodeMarker(list, marker string) (string, error) {
	return decodePage(base64.StdEncoding, "marker", list, marker)
}

func encodePage(enc *base64.Encoding, list, lastKey string) string {
	return enc.EncodeToString([]byte(list + "\x00" + lastKey))
}

// decodePage returns the last key a page token carries; member names the
// token in the error.
func decodePage(enc *base64.Encoding, member, list, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	b, err := enc.DecodeString(token)
	if err != nil {
		return "", invalid("Invalid %s: %s", member, token)
	}
	tag, key, ok := strings.Cut(string(b), "\x00")
	if !ok || tag != list {
		return "", invalid("Invalid %s: %s", member, token)
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

// page returns the page's items, never nil: AWS answers an empty list as [].
func (p *pager[T]) page() []T {
	if p.items == nil {
		return []T{}
	}
	return p.items
}

// next returns the token for the following page, or "" at the end.
func (p *pager[T]) next(list string) string {
	if !p.more {
		return ""
	}
	return encodeToken(list, p.keys[len(p.keys)-1])
}

// nextMarker returns the marker for the following page, or "" at the end.
func (p *pager[T]) nextMarker(list string) string {
	if !p.more {
		return ""
	}
	return encodeMarker(list, p.keys[len(p.keys)-1])
}

// scanDecode calls fn with each entity of kind under prefix, decoded, in
// key order.
func scanDecode[T any](ctx context.Context, tx iotdm.ReadTx, kind, prefix string, fn func(key string, v *T) error) error {
	return tx.Scan(ctx, kind, prefix, "", 0, func(key string, value []byte) error {
		v := new(T)
		if err := json.Unmarshal(value, v); err != nil {
			return fmt.Errorf("decode %s %q: %w", kind, key, err)
		}
		return fn(key, v)
	})
}

// keyed is a list item with the key it sorts and pages by.
type keyed[T any] struct {
	key  string
	item T
}

// timeKey sorts by time, then by name.
func timeKey(t iotdm.Timestamp, name string) string {
	return fmt.Sprintf("%020d/%s", t.UnixMilli(), name)
}

// markerPage sorts items by key, in descending order unless ascending, and
// returns the page of at most size items after the marker key after, with
// the marker of the next page ("" at the end). Empty pages are [].
func markerPage[T any](list string, items []keyed[T], after string, size int, ascending bool) ([]T, string) {
	slices.SortFunc(items, func(a, b keyed[T]) int { return strings.Compare(a.key, b.key) })
	if !ascending {
		slices.Reverse(items)
	}
	pg := pager[T]{size: size}
	for _, it := range items {
		if after != "" && (ascending && it.key <= after || !ascending && it.key >= after) {
			continue
		}
		if !pg.add(it.key, it.item) {
			break
		}
	}
	if pg.items == nil {
		pg.items = []T{}
	}
	return pg.items, pg.nextMarker(list)
}
