package control

import (
	"fmt"
	"sync"
	"testing"
)

func TestParsedDocsParseEachTextOnce(t *testing.T) {
	var c parsedDocs
	const text = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}"}]}`
	a, err := c.parse(text)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.parse(text)
	if err != nil || a != b {
		t.Fatalf("second parse of the same text = %p, %v; want the first document %p", b, err, a)
	}
	other, err := c.parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}`)
	if err != nil || other == a {
		t.Fatalf("another text = %p, %v; want a document of its own", other, err)
	}
	if _, err := c.parse(`{"Statement":`); err == nil {
		t.Fatal("a broken document parsed")
	}
	if _, err := c.parse(`{"Statement":`); err == nil {
		t.Fatal("a broken document parsed the second time")
	}
}

// The cache stays bounded, and is safe for the connections that share it
// (run with -race).
func TestParsedDocsBoundedAndConcurrent(t *testing.T) {
	var c parsedDocs
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range maxParsedDocs {
				text := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/t%d"}]}`, i%(maxParsedDocs/2+g))
				if _, err := c.parse(text); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.docs) > maxParsedDocs {
		t.Fatalf("%d documents kept, want at most %d", len(c.docs), maxParsedDocs)
	}
}
