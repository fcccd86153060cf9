package awsapi

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The botocore service models are the wire contract. Tests that compare
// against them need python3 with botocore and fail, not skip, without it.

// requirePython returns the python3 executable or fails the test.
func requirePython(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is required to read the botocore models: %v", err)
	}
	return p
}

var botocoreDir = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("python3", "-c", "import botocore,os;print(os.path.dirname(botocore.__file__))").Output()
	return strings.TrimSpace(string(out)), err
})

// serviceModel is the part of a botocore service-2.json the tests read.
type serviceModel struct {
	Metadata struct {
		Protocol    string `json:"protocol"`
		SigningName string `json:"signingName"`
	} `json:"metadata"`
	Operations map[string]struct {
		HTTP struct {
			Method     string `json:"method"`
			RequestURI string `json:"requestUri"`
		} `json:"http"`
		Input  *shapeRef `json:"input"`
		Output *shapeRef `json:"output"`
	} `json:"operations"`
	Shapes map[string]struct {
		Type    string `json:"type"`
		Payload string `json:"payload"` // the member that is the raw HTTP body
		Members map[string]struct {
			Shape        string `json:"shape"`
			Location     string `json:"location"`
			LocationName string `json:"locationName"`
		} `json:"members"`
		Member    *shapeRef `json:"member"` // of a list
		Value     *shapeRef `json:"value"`  // of a map
		Exception bool      `json:"exception"`
		Error     struct {
			HTTPStatusCode int `json:"httpStatusCode"`
		} `json:"error"`
	} `json:"shapes"`
}

// shapeRef names a shape.
type shapeRef struct {
	Shape string `json:"shape"`
}

// loadModel reads botocore's data/<service>/<version>/service-2.json.gz.
func loadModel(t *testing.T, service, version string) *serviceModel {
	t.Helper()
	requirePython(t)
	dir, err := botocoreDir()
	if err != nil || dir == "" {
		t.Fatalf("botocore is required (pip install botocore): %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "data", service, version, "service-2.json.gz"))
	if err != nil {
		t.Fatalf("open %s model: %v", service, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gunzip %s model: %v", service, err)
	}
	var m serviceModel
	if err := json.NewDecoder(zr).Decode(&m); err != nil {
		t.Fatalf("decode %s model: %v", service, err)
	}
	return &m
}
