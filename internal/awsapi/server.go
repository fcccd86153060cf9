package awsapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
)

// DefaultMaxBody bounds request bodies when Config.MaxBody is zero. The
// largest bodies AWS accepts on the services served here are about 1 MiB
// (CloudWatch Logs batches, CloudFormation templates).
const DefaultMaxBody = 8 << 20

// Config configures a Server.
type Config struct {
	// Keys finds the secret of an access key ID. Required.
	Keys KeyLookup
	// Logger receives refusals (debug) and internal failures (error);
	// slog.Default() when nil.
	Logger *slog.Logger
	// Now is the server's clock, for signature expiry and the Date header;
	// time.Now when nil.
	Now func() time.Time
	// MaxBody bounds the request body in bytes; DefaultMaxBody when zero.
	MaxBody int64
	// OnRequest, when set, is called once per request after the response
	// is written, on the request's goroutine: service is the signing name
	// when it names a registered service ("" otherwise), operation the
	// operation the service's protocol matched ("" when none did, for
	// example a refused signature), status the HTTP status written and
	// elapsed the time since the request reached the edge. It must be
	// quick; for metrics.
	OnRequest func(service, operation string, status int, elapsed time.Duration)
}

// Server is the signed-request edge: it reads the body (bounded), verifies
// the SigV4 signature, and hands the request to the service registered under
// the credential scope's signing name, with the Identity and a request ID in
// its context. Every response carries x-amzn-RequestId.
type Server struct {
	verifier *Verifier
	logger   *slog.Logger
	now      func() time.Time
	setDate  bool
	maxBody  int64
	onReq    func(service, operation string, status int, elapsed time.Duration)

	mu       sync.Mutex // serialises Handle
	services atomic.Pointer[map[string]http.Handler]
}

// New returns a Server with no services.
func New(cfg Config) *Server {
	if cfg.Keys == nil {
		panic("awsapi: Config.Keys is required")
	}
	s := &Server{
		verifier: NewVerifier(cfg.Keys, cfg.Now),
		logger:   cfg.Logger,
		now:      cfg.Now,
		setDate:  cfg.Now != nil,
		maxBody:  cfg.MaxBody,
		onReq:    cfg.OnRequest,
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBody
	}
	s.services.Store(&map[string]http.Handler{})
	return s
}

// Handle registers h for requests signed for signingName (iot, iotdata,
// iotdevicegateway, logs, ...). It panics on an empty name, a nil handler or
// a name registered twice, like http.ServeMux.
func (s *Server) Handle(signingName string, h http.Handler) {
	if signingName == "" || h == nil {
		panic("awsapi: Handle needs a signing name and a handler")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.services.Load()
	if _, dup := old[signingName]; dup {
		panic(fmt.Sprintf("awsapi: service %q registered twice", signingName))
	}
	m := make(map[string]http.Handler, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[signingName] = h
	s.services.Store(&m)
}

// ServeHTTP verifies and routes one signed request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &requestInfo{id: uuid.NewString(), logger: s.logger, recordOp: s.onReq != nil}
	h := w.Header()
	h.Set("X-Amzn-RequestId", info.id)
	if s.setDate {
		h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	}
	ctx := context.WithValue(r.Context(), infoKey{}, info)
	r = r.WithContext(ctx)
	debug := s.logger.Enabled(ctx, slog.LevelDebug)
	var sw *statusWriter
	if debug || s.onReq != nil {
		sw = &statusWriter{ResponseWriter: w, status: http.StatusOK}
		w = sw
	}
	if s.onReq != nil {
		defer func() { s.onReq(info.service, info.op, sw.status, time.Since(start)) }()
	}

	if r.ContentLength > s.maxBody {
		s.refuse(w, r, nil, tooLarge(s.maxBody))
		return
	}
	body, err := readBody(r.Body, r.ContentLength, s.maxBody)
	if err != nil {
		s.refuse(w, r, nil, err)
		return
	}
	id, err := s.verifier.Verify(r, body)
	services := *s.services.Load()
	svc := services[id.Service]
	if svc != nil {
		info.service = id.Service // a client-chosen name only once it is known: bounded
	}
	if err != nil {
		s.refuse(w, r, svc, err)
		return
	}
	if svc == nil {
		s.refuse(w, r, nil, invalidSig("Credential should be scoped to a service this endpoint serves, not '%s'. ", id.Service))
		return
	}
	info.identity = id
	info.body, info.bodyRead = body, true
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }

	svc.ServeHTTP(w, r)
	if !debug {
		return
	}
	s.logger.LogAttrs(ctx, slog.LevelDebug, "request",
		slog.String("requestId", info.id),
		slog.String("service", id.Service),
		slog.String("accessKeyId", id.AccessKeyID),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", sw.status),
		slog.Duration("elapsed", time.Since(start)))
}

// refuse answers a request the edge will not pass on, in the format of the
// service it was meant for when that service writes its own errors.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, svc http.Handler, err error) {
	ctx := r.Context()
	if s.logger.Enabled(ctx, slog.LevelDebug) {
		s.logger.LogAttrs(ctx, slog.LevelDebug, "request refused",
			slog.String("requestId", RequestIDFrom(ctx)),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Any("err", err))
	}
	if ew, ok := svc.(ErrorWriter); ok {
		ew.WriteError(w, r, err)
		return
	}
	WriteError(w, r, err)
}

// readBody reads at most max bytes of body; a longer body is refused with
// RequestEntityTooLargeException.
func readBody(body io.Reader, length, max int64) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	var buf []byte
	if length > 0 {
		buf = make([]byte, 0, length+1) // +1 so ReadAll can see EOF without growing
	}
	b, err := readAll(io.LimitReader(body, max+1), buf)
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if int64(len(b)) > max {
		return nil, tooLarge(max)
	}
	return b, nil
}

// readAll is io.ReadAll into buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	if buf == nil {
		return io.ReadAll(r)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func tooLarge(max int64) *iotdm.Error {
	return iotdm.Errorf(iotdm.ErrRequestEntityTooLarge, "Request body is larger than %d bytes.", max)
}

// statusWriter records the status a handler wrote, for the debug log and
// Config.OnRequest.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestInfo is what the edge knows about a request; one context value.
type requestInfo struct {
	id       string
	identity Identity
	body     []byte
	bodyRead bool // body holds the whole request body
	logger   *slog.Logger
	// service and op name what the request reached, for Config.OnRequest;
	// op is set by the protocol adapter (setOperation) when recordOp is.
	service  string
	op       string
	recordOp bool
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

// setOperation records the operation a protocol adapter matched, for
// Config.OnRequest. Adapters call it once they know the operation's name.
func setOperation(ctx context.Context, name string) {
	if i := infoFrom(ctx); i != nil && i.recordOp {
		i.op = name
	}
}

// IdentityFrom returns the verified signer of the request ctx belongs to.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	if i := infoFrom(ctx); i != nil && i.identity.AccessKeyID != "" {
		return i.identity, true
	}
	return Identity{}, false
}

// ContextWithIdentity returns ctx carrying id as a verified identity, for
// handlers served without the edge (tests, in-process callers).
func ContextWithIdentity(ctx context.Context, id Identity) context.Context {
	info := &requestInfo{identity: id}
	if old := infoFrom(ctx); old != nil {
		info.id, info.logger = old.id, old.logger
	}
	return context.WithValue(ctx, infoKey{}, info)
}

// RequestIDFrom returns the x-amzn-RequestId of the request ctx belongs to,
// or "" outside the edge.
func RequestIDFrom(ctx context.Context) string {
	if i := infoFrom(ctx); i != nil {
		return i.id
	}
	return ""
}

// bodyFrom returns the body the edge already read, so handlers need not
// read it again.
func bodyFrom(ctx context.Context) ([]byte, bool) {
	if i := infoFrom(ctx); i != nil && i.bodyRead {
		return i.body, true
	}
	return nil, false
}

func loggerFrom(ctx context.Context) *slog.Logger {
	if i := infoFrom(ctx); i != nil && i.logger != nil {
		return i.logger
	}
	return slog.Default()
}
