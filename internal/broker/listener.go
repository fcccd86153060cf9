package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Listener names, also the ConnectInfo.Listener values.
const (
	listenerTLS       = "mqtts"
	listenerWebSocket = "wss"
	listenerPlain     = "mqtt"
)

// listener accepts MQTT connections for mochi (it implements
// listeners.Listener). Unlike mochi's own listeners it completes the TLS
// handshake before handing a connection over, bounds the handshake and the
// CONNECT packet by a deadline, binds in Init so that port 0 works, and
// closes connections that never reached CONNACK when it closes.
type listener struct {
	id      string
	addr    string
	tls     *tls.Config // nil: plain TCP
	ws      bool        // MQTT over WebSocket (always over TLS)
	timeout time.Duration
	maxRead int64 // largest WebSocket message
	log     *slog.Logger

	ln        net.Listener
	http      *http.Server
	establish listeners.EstablishFn

	wg     sync.WaitGroup // Serve and every tracked connection
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

var _ listeners.Listener = (*listener)(nil)

func (l *listener) ID() string { return l.id }

// Address returns the bound address once Init has run.
func (l *listener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

func (l *listener) Protocol() string { return l.id }

// Init binds the address; mochi calls it from AddListener.
func (l *listener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("listen %s on %s: %w", l.id, l.addr, err)
	}
	l.ln = ln
	l.conns = make(map[net.Conn]struct{})
	if l.ws {
		l.http = &http.Server{
			Handler:           http.HandlerFunc(l.serveWebSocket),
			ReadHeaderTimeout: l.timeout,
			ErrorLog:          slog.NewLogLogger(l.log.Handler(), slog.LevelDebug),
		}
	}
	return nil
}

// willServe tells the listener that mochi is about to run Serve, so that wait
// waits for it too. The broker calls it before mochi's Serve.
func (l *listener) willServe() { l.wg.Add(1) }

// Serve accepts connections until Close; mochi runs it on its own goroutine.
func (l *listener) Serve(establish listeners.EstablishFn) {
	defer l.wg.Done()
	l.establish = establish
	if l.ws {
		err := l.http.Serve(tls.NewListener(l.ln, l.tls))
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !l.isClosed() {
			l.log.Error("websocket listener failed", "error", err)
		}
		return
	}
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and try again,
			// as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.log.Warn("accept failed", "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !l.track(c) {
			continue
		}
		go func() {
			defer l.untrack(c)
			l.serveConn(c)
		}()
	}
}

// serveConn runs one TCP connection: TLS handshake, then mochi until the
// connection ends.
func (l *listener) serveConn(c net.Conn) {
	// The deadline covers the handshake and the CONNECT packet; mochi
	// replaces it with 1.5 × keep-alive once the client is accepted.
	_ = c.SetDeadline(time.Now().Add(l.timeout))
	if l.tls != nil {
		tc := tls.Server(c, l.tls)
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			// No client certificate, a bad one, or a client speaking
			// something else: refused at the TLS level (§5.3).
			l.log.Debug("tls handshake failed", "remote", c.RemoteAddr().String(), "error", err)
			_ = c.Close()
			return
		}
		c = tc
	}
	if err := l.establish(l.id, c); err != nil {
		l.log.Debug("connection ended", "remote", c.RemoteAddr().String(), "error", err)
	}
	_ = c.Close()
}

// serveWebSocket upgrades one HTTPS request to MQTT over WebSocket.
func (l *listener) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "client certificate required", http.StatusForbidden)
		return
	}
	up := websocket.Upgrader{
		HandshakeTimeout: l.timeout,
		Subprotocols:     []string{"mqtt"},
		// Devices are not browsers: there is no origin to check, and the
		// client certificate is the credential.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		l.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		return
	}
	ws.SetReadLimit(l.maxRead)
	c := &wsConn{ws: ws, state: *r.TLS}
	if !l.track(c) {
		return
	}
	defer l.untrack(c)
	_ = c.SetDeadline(time.Now().Add(l.timeout))
	if err := l.establish(l.id, c); err != nil {
		l.log.Debug("connection ended", "remote", r.RemoteAddr, "error", err)
	}
	_ = c.Close()
}

// Close stops accepting, lets mochi disconnect the clients of this listener,
// and closes the connections still before CONNACK.
func (l *listener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	l.mu.Unlock()
	if already {
		return
	}
	if l.http != nil {
		_ = l.http.Close() // closes l.ln; hijacked connections stay ours
	} else if l.ln != nil {
		_ = l.ln.Close()
	}
	closeClients(l.id)
	l.closeConns()
}

// closeConns closes every connection of the listener.
func (l *listener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		closeConn(c)
	}
}

// wait waits for the connection goroutines of the listener to end.
func (l *listener) wait() { l.wg.Wait() }

func (l *listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// track records a new connection, which its goroutine must untrack when it
// ends; after Close it closes the connection instead and returns false.
func (l *listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return false
	}
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	return true
}

func (l *listener) untrack(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
	l.wg.Done()
}

// wsConn is an MQTT byte stream over WebSocket binary messages. It exposes
// the TLS state of the HTTPS connection it was upgraded from, so that the
// broker finds the client certificates as it does on the TLS listener.
type wsConn struct {
	ws    *websocket.Conn
	r     io.Reader // the message being read, nil between messages
	state tls.ConnectionState
	// writeDeadline is applied by Write: gorilla keeps the write deadline
	// in a plain field that only the (single) writer may touch, while mochi
	// sets deadlines from the reading goroutine.
	writeDeadline atomic.Pointer[time.Time]
}

var errTextMessage = errors.New("websocket: text message; MQTT needs binary")

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errTextMessage
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// Write sends p as one binary message. mochi serializes writes per client.
func (c *wsConn) Write(p []byte) (int, error) {
	var deadline time.Time
	if d := c.writeDeadline.Load(); d != nil {
		deadline = *d
	}
	_ = c.ws.SetWriteDeadline(deadline)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error                      { return c.ws.Close() }
func (c *wsConn) LocalAddr() net.Addr               { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr              { return c.ws.RemoteAddr() }
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

func (c *wsConn) SetWriteDeadline(t time.Time) error {
	c.writeDeadline.Store(&t)
	return nil
}

func (c *wsConn) SetDeadline(t time.Time) error {
	_ = c.SetWriteDeadline(t)
	return c.SetReadDeadline(t)
}

// closeNow closes the TCP connection under the TLS one, which cannot block.
func (c *wsConn) closeNow() error {
	if tc, ok := c.ws.NetConn().(*tls.Conn); ok {
		return tc.NetConn().Close()
	}
	return c.ws.Close()
}

// ConnectionState is the TLS state of the connection the WebSocket runs on.
func (c *wsConn) ConnectionState() tls.ConnectionState { return c.state }
