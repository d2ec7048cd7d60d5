package synth

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5"
)

// impairment is an interceptor that drops, reorders and delays outgoing
// RTP. It is registered closest to the network, so the NACK responder's
// send buffer still holds what it drops and retransmissions can repair it
// (and may be dropped too).
//
// mu guards rng and held. Delayed packets are written by timer goroutines
// that wg counts; the publisher waits for them when it closes.
type impairment struct {
	interceptor.NoOp
	loss, reorder float64
	jitter        time.Duration

	mu      sync.Mutex
	rng     *rand.Rand
	held    *heldPacket
	dropped atomic.Int64
	wg      sync.WaitGroup
}

// maxJitterFactor caps a packet's delay at this many times the mean
// jitter: an exponential distribution's tail beyond it (under 2 %) would
// only add packets the recorder gives up on.
const maxJitterFactor = 4

// wait returns once every delayed packet has been written.
func (m *impairment) wait() { m.wg.Wait() }

// heldPacket is a packet delayed to be sent after the next one.
type heldPacket struct {
	header  rtp.Header
	payload []byte
	attr    interceptor.Attributes
	writer  interceptor.RTPWriter
}

// NewInterceptor returns the impairment itself: one per publisher.
func (m *impairment) NewInterceptor(string) (interceptor.Interceptor, error) { return m, nil }

// BindLocalStream drops a fraction loss of packets and swaps a fraction
// reorder of them with the following packet, or delays each by a random
// jitter (packets then overtake each other).
func (m *impairment) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		m.mu.Lock()
		r := m.rng.Float64()
		var release *heldPacket
		switch {
		case r < m.loss:
			m.mu.Unlock()
			m.dropped.Add(1)
			return len(payload), nil
		case r < m.loss+m.reorder && m.held == nil:
			m.held = &heldPacket{header: h.Clone(), payload: append([]byte(nil), payload...), attr: a, writer: w}
			m.mu.Unlock()
			return len(payload), nil
		case m.jitter > 0:
			d := min(time.Duration(m.rng.ExpFloat64()*float64(m.jitter)), maxJitterFactor*m.jitter)
			m.mu.Unlock()
			hp := &heldPacket{header: h.Clone(), payload: append([]byte(nil), payload...), attr: a, writer: w}
			m.wg.Add(1)
			time.AfterFunc(d, func() {
				defer m.wg.Done()
				_, _ = hp.writer.Write(&hp.header, hp.payload, hp.attr)
			})
			return len(payload), nil
		default:
			release, m.held = m.held, nil
		}
		m.mu.Unlock()
		n, err := w.Write(h, payload, a)
		if release != nil {
			_, _ = release.writer.Write(&release.header, release.payload, release.attr)
		}
		return n, err
	})
}

// severableNet is the standard network with a switch that silently drops
// every datagram in both directions, as when a participant's network goes
// away without a goodbye.
type severableNet struct {
	transport.Net
	cut *atomic.Bool
}

// ListenUDP wraps the standard connection.
func (n *severableNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &severableConn{UDPConn: c, cut: n.cut}, nil
}

// ListenPacket wraps UDP connections.
func (n *severableNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return &severablePacketConn{PacketConn: c, cut: n.cut}, nil
}

// severableConn drops datagrams once cut.
type severableConn struct {
	transport.UDPConn
	cut *atomic.Bool
}

// WriteTo drops the datagram once cut.
func (c *severableConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(p), nil
	}
	return c.UDPConn.WriteTo(p, addr)
}

// WriteToUDP drops the datagram once cut.
func (c *severableConn) WriteToUDP(p []byte, addr *net.UDPAddr) (int, error) {
	if c.cut.Load() {
		return len(p), nil
	}
	return c.UDPConn.WriteToUDP(p, addr)
}

// Write drops the datagram once cut.
func (c *severableConn) Write(p []byte) (int, error) {
	if c.cut.Load() {
		return len(p), nil
	}
	return c.UDPConn.Write(p)
}

// ReadFrom discards datagrams that arrive once cut.
func (c *severableConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(p)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

// severablePacketConn drops datagrams once cut.
type severablePacketConn struct {
	net.PacketConn
	cut *atomic.Bool
}

// WriteTo drops the datagram once cut.
func (c *severablePacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}

// ReadFrom discards datagrams that arrive once cut.
func (c *severablePacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}
