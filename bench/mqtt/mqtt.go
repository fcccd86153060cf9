package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A minimal MQTT 3.1.1 client, the same code for every broker: CONNECT
// (clean session), SUBSCRIBE, PUBLISH at QoS 0 and 1, PUBACK, PINGREQ and
// DISCONNECT. It is far lighter than a general client library (no
// goroutine per packet, no channels per message, writes batched in a
// bufio.Writer), so on this 2-core machine the brokers get most of the CPU.

// MQTT 3.1.1 control packet types (§2.2.1), in the high nibble.
const (
	pktConnect    = 1
	pktConnack    = 2
	pktPublish    = 3
	pktPuback     = 4
	pktSubscribe  = 8
	pktSuback     = 9
	pktPingreq    = 12
	pktPingresp   = 13
	pktDisconnect = 14
)

// maxPacket bounds what the client reads: the bench's packets are small.
const maxPacket = 1 << 20

// dialTimeout bounds the TCP connect, the TLS handshake and CONNACK.
const dialTimeout = 15 * time.Second

// mqttConn is one MQTT connection. After dial, either start runs the read
// loop in a goroutine (publishers and subscribers), or the connection stays
// idle and nothing reads it (idle connections).
type mqttConn struct {
	nc  net.Conn
	br  *bufio.Reader
	wmu sync.Mutex // guards bw and nextID
	bw  *bufio.Writer

	nextID uint16

	// Set before start; called on the read loop's goroutine. topic and
	// payload are valid only during the call.
	onPublish func(topic, payload []byte)

	acks     atomic.Int64  // PUBACKs received
	ackWake  chan struct{} // gets a token after each batch of PUBACKs
	pong     chan struct{} // gets a token for each PINGRESP
	readDone chan struct{} // closed when the read loop ends
	readErr  error         // valid once readDone is closed
}

// dialMQTT opens a TLS connection to addr (from local, when not nil),
// sends CONNECT and waits for a successful CONNACK.
func dialMQTT(ctx context.Context, addr string, cfg *tls.Config, local net.Addr, clientID string, keepAlive time.Duration) (*mqttConn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{LocalAddr: local}, Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	// Small buffers: an idle connection keeps them; active ones get larger
	// ones from grow.
	c := &mqttConn{nc: nc, br: bufio.NewReaderSize(nc, 512), bw: bufio.NewWriterSize(nc, 256)}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if err := c.connect(clientID, keepAlive); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *mqttConn) connect(clientID string, keepAlive time.Duration) error {
	ka := min(keepAlive/time.Second, 65535)
	body := make([]byte, 0, 12+len(clientID))
	body = appendString(body, "MQTT")
	body = append(body, 4)    // protocol level 3.1.1 [MQTT-3.1.2-2]
	body = append(body, 0x02) // clean session, no will, no user name or password
	body = binary.BigEndian.AppendUint16(body, uint16(ka))
	body = appendString(body, clientID)
	pkt := appendHeader(nil, pktConnect<<4, len(body))
	if _, err := c.bw.Write(append(pkt, body...)); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	typ, b, err := c.readPacket(nil)
	if err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if typ>>4 != pktConnack || len(b) != 2 {
		return fmt.Errorf("read CONNACK: got packet type %d (%d bytes)", typ>>4, len(b))
	}
	if b[1] != 0 {
		return fmt.Errorf("CONNACK refused the connection: return code %d (%s)", b[1], connackCode(b[1]))
	}
	return nil
}

func connackCode(rc byte) string {
	switch rc {
	case 1:
		return "unacceptable protocol version"
	case 2:
		return "identifier rejected"
	case 3:
		return "server unavailable"
	case 4:
		return "bad user name or password"
	case 5:
		return "not authorized"
	}
	return "unknown"
}

// subscribe subscribes to filter at qos and waits for the SUBACK; call it
// before start.
func (c *mqttConn) subscribe(filter string, qos byte) error {
	_ = c.nc.SetDeadline(time.Now().Add(dialTimeout))
	defer c.nc.SetDeadline(time.Time{})
	body := binary.BigEndian.AppendUint16(nil, 1)
	body = appendString(body, filter)
	body = append(body, qos)
	pkt := appendHeader(nil, pktSubscribe<<4|0x02, len(body)) // [MQTT-3.8.1-1]
	if _, err := c.bw.Write(append(pkt, body...)); err != nil {
		return fmt.Errorf("send SUBSCRIBE: %w", err)
	}
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("send SUBSCRIBE: %w", err)
	}
	for {
		typ, b, err := c.readPacket(nil)
		if err != nil {
			return fmt.Errorf("read SUBACK: %w", err)
		}
		if typ>>4 != pktSuback {
			continue // e.g. a retained message: none in this bench
		}
		if len(b) != 3 {
			return fmt.Errorf("SUBACK of %d bytes", len(b))
		}
		if b[2] == 0x80 {
			return fmt.Errorf("SUBACK refused %q", filter)
		}
		return nil
	}
}

// grow gives an active connection 32 KiB read and write buffers. The new
// reader reads through the old one, so nothing it buffered is lost.
func (c *mqttConn) grow() {
	c.br = bufio.NewReaderSize(c.br, 32<<10)
	c.bw = bufio.NewWriterSize(c.nc, 32<<10)
}

// start runs the read loop.
func (c *mqttConn) start() {
	c.ackWake = make(chan struct{}, 1)
	c.pong = make(chan struct{}, 1)
	c.readDone = make(chan struct{})
	go c.readLoop()
}

func (c *mqttConn) readLoop() {
	defer close(c.readDone)
	var buf []byte
	var ackBatch int64
	for {
		if c.br.Buffered() == 0 {
			// About to block on the network: send the PUBACKs gathered so
			// far, and count the PUBACKs received.
			if ackBatch > 0 {
				c.acks.Add(ackBatch)
				ackBatch = 0
				select {
				case c.ackWake <- struct{}{}:
				default:
				}
			}
			c.wmu.Lock()
			var err error
			if c.bw.Buffered() > 0 {
				err = c.bw.Flush()
			}
			c.wmu.Unlock()
			if err != nil {
				c.readErr = err
				return
			}
		}
		typ, b, err := c.readPacket(buf)
		if err != nil {
			c.readErr = err
			return
		}
		buf = b[:0]
		switch typ >> 4 {
		case pktPublish:
			qos := typ >> 1 & 3
			if len(b) < 2 {
				c.readErr = errors.New("short PUBLISH")
				return
			}
			tl := int(binary.BigEndian.Uint16(b))
			p := 2 + tl
			if qos > 0 {
				p += 2
			}
			if p > len(b) {
				c.readErr = errors.New("short PUBLISH")
				return
			}
			if c.onPublish != nil {
				c.onPublish(b[2:2+tl], b[p:])
			}
			if qos == 1 {
				c.wmu.Lock()
				_, err = c.bw.Write([]byte{pktPuback << 4, 2, b[2+tl], b[3+tl]})
				c.wmu.Unlock()
				if err != nil {
					c.readErr = err
					return
				}
			}
		case pktPuback:
			ackBatch++
			if ackBatch >= 16 {
				c.acks.Add(ackBatch)
				ackBatch = 0
				select {
				case c.ackWake <- struct{}{}:
				default:
				}
			}
		case pktPingresp:
			select {
			case c.pong <- struct{}{}:
			default:
			}
		}
	}
}

// readPacket reads one packet into buf (grown as needed) and returns its
// first byte and its body.
func (c *mqttConn) readPacket(buf []byte) (byte, []byte, error) {
	typ, err := c.br.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		if i == 4 {
			return 0, nil, errors.New("malformed remaining length")
		}
		b, err := c.br.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			break
		}
		mul *= 128
	}
	if n > maxPacket {
		return 0, nil, fmt.Errorf("packet of %d bytes", n)
	}
	if cap(buf) < n {
		buf = make([]byte, n, max(n, 512))
	}
	buf = buf[:n]
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return 0, nil, err
	}
	return typ, buf, nil
}

// publish writes a PUBLISH into the write buffer; flush sends it. Only one
// goroutine publishes on a connection.
func (c *mqttConn) publish(topic string, payload []byte, qos byte) error {
	var hdr [16]byte
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	h := appendHeader(hdr[:0], pktPublish<<4|qos<<1, n)
	h = appendString(h, topic)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if qos > 0 {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1 // [MQTT-2.3.1-1]
		}
		h = binary.BigEndian.AppendUint16(h, c.nextID)
	}
	if _, err := c.bw.Write(h); err != nil {
		return err
	}
	_, err := c.bw.Write(payload)
	return err
}

// flush sends what publish wrote.
func (c *mqttConn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.bw.Flush()
}

// ping sends PINGREQ and waits up to timeout for the PINGRESP (the read
// loop must run).
func (c *mqttConn) ping(timeout time.Duration) error {
	c.wmu.Lock()
	_, err := c.bw.Write([]byte{pktPingreq << 4, 0})
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-c.pong:
		return nil
	case <-c.readDone:
		return fmt.Errorf("connection ended: %v", c.readErr)
	case <-time.After(timeout):
		return errors.New("no PINGRESP")
	}
}

// pingSync sends PINGREQ and reads the PINGRESP on a connection without a
// read loop (an idle connection).
func (c *mqttConn) pingSync(timeout time.Duration) error {
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	if _, err := c.nc.Write([]byte{pktPingreq << 4, 0}); err != nil {
		return err
	}
	for {
		typ, _, err := c.readPacket(nil)
		if err != nil {
			return err
		}
		if typ>>4 == pktPingresp {
			return nil
		}
	}
}

// disconnect sends DISCONNECT and closes the connection after the broker
// has closed its side (so the TIME_WAIT is the broker's, not a client port),
// or after timeout.
func (c *mqttConn) disconnect(timeout time.Duration) {
	c.wmu.Lock()
	_, err := c.bw.Write([]byte{pktDisconnect << 4, 0})
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err == nil {
		if c.readDone != nil {
			select {
			case <-c.readDone:
			case <-time.After(timeout):
			}
		} else {
			_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
			_, _ = io.Copy(io.Discard, c.br)
		}
	}
	c.nc.Close()
	if c.readDone != nil {
		<-c.readDone
	}
}

// close closes the connection at once and waits for the read loop.
func (c *mqttConn) close() {
	c.nc.Close()
	if c.readDone != nil {
		<-c.readDone
	}
}

// appendHeader appends a fixed header: the first byte and the remaining
// length (§2.2.3).
func appendHeader(b []byte, first byte, n int) []byte {
	b = append(b, first)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// appendString appends an MQTT UTF-8 string: a 2-byte length, then s.
func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
