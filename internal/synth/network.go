package synth

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5"
)

// impairment is an interceptor that drops and reorders outgoing RTP. It is
// registered closest to the network, so the NACK responder's send buffer
// still holds what it drops and retransmissions can repair it (and may be
// dropped too).
type impairment struct {
	interceptor.NoOp
	loss, reorder float64

	mu      sync.Mutex
	rng     *rand.Rand
	held    *heldPacket
	dropped atomic.Int64
}

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
// reorder of them with the following packet.
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
