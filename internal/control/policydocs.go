package control

import (
	"sync"

	"github.com/iotdm/iotdm/internal/policy"
)

// maxParsedDocs bounds the parsed policy documents kept: more distinct
// documents than this in use at once make the cache start over.
const maxParsedDocs = 1024

// parsedDocs keeps policy documents parsed, by their text. Every MQTT
// CONNECT evaluates the default versions of the device's policies, and a
// fleet shares a handful of documents: parsing one costs tens of
// microseconds and hundreds of allocations, which a reconnecting fleet
// would pay per device. A parsed document is never modified, so
// connections share it; a new version has a new text, so nothing needs
// invalidating.
type parsedDocs struct {
	mu   sync.Mutex
	docs map[string]parsedDoc
}

type parsedDoc struct {
	doc *policy.Document
	err error
}

// parse returns policy.Parse(text), parsing each text once.
func (c *parsedDocs) parse(text string) (*policy.Document, error) {
	c.mu.Lock()
	p, ok := c.docs[text]
	c.mu.Unlock()
	if ok {
		return p.doc, p.err
	}
	doc, err := policy.Parse([]byte(text))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.docs == nil || len(c.docs) >= maxParsedDocs {
		c.docs = make(map[string]parsedDoc)
	}
	c.docs[text] = parsedDoc{doc: doc, err: err}
	return doc, err
}
