package synth

import (
	"math/rand/v2"
	"net"
	"strings"
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
// mu guards rng, held and audio. Delayed packets are written by timer
// goroutines that wg counts; the publisher waits for them before it
// leaves, so that nothing is in flight when its WHIP DELETE goes out.
type impairment struct {
	interceptor.NoOp
	loss, reorder float64
	jitter        time.Duration

	mu      sync.Mutex
	rng     *rand.Rand
	held    *heldPacket
	dropped atomic.Int64
	wg      sync.WaitGroup
	// audio accounts for the audio streams' packets (see audioCount).
	audio map[uint32]*streamCount
}

// streamCount accounts for one stream's packets on the way out.
type streamCount struct {
	delivered int64
	// oldest and newest are the oldest and newest sequence numbers
	// delivered (when delivered > 0).
	oldest, newest uint16
	// dropped are the sequence numbers dropped, oldest first.
	dropped []uint16
}

// knownLost returns how many dropped packets a receiver can know of: those
// between delivered packets. A drop before the first delivery or after the
// last is invisible to anyone downstream.
func (c *streamCount) knownLost() int64 {
	var n int64
	for _, s := range c.dropped {
		if c.delivered > 0 && int16(c.newest-s) > 0 && int16(s-c.oldest) > 0 {
			n++
		}
	}
	return n
}

// countAudio records a packet of an audio stream (ssrc), delivered or
// dropped.
func (m *impairment) countAudio(ssrc uint32, seq uint16, delivered bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.audio == nil {
		m.audio = map[uint32]*streamCount{}
	}
	c := m.audio[ssrc]
	if c == nil {
		c = &streamCount{}
		m.audio[ssrc] = c
	}
	if !delivered {
		c.dropped = append(c.dropped, seq)
		return
	}
	if c.delivered == 0 || int16(seq-c.newest) > 0 {
		c.newest = seq
	}
	if c.delivered == 0 || int16(c.oldest-seq) > 0 {
		c.oldest = seq
	}
	c.delivered++
}

// audioCount returns the audio packets delivered to the network and the
// dropped ones a receiver can know of, over every audio stream.
func (m *impairment) audioCount() (delivered, knownLost int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.audio {
		delivered += c.delivered
		knownLost += c.knownLost()
	}
	return delivered, knownLost
}

// maxJitterFactor caps a packet's delay at this many times the mean
// jitter: an exponential distribution's tail beyond it (under 2 %) would
// only add packets the recorder gives up on.
const maxJitterFactor = 4

// wait returns once every delayed packet has been written, including one
// held for the next packet that will not come.
func (m *impairment) wait() {
	m.wg.Wait()
	m.mu.Lock()
	held := m.held
	m.held = nil
	m.mu.Unlock()
	if held != nil {
		_, _ = held.writer.Write(&held.header, held.payload, held.attr)
	}
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
// reorder of them with the following packet, or delays each by a random
// jitter (packets then overtake each other).
func (m *impairment) BindLocalStream(info *interceptor.StreamInfo, next interceptor.RTPWriter) interceptor.RTPWriter {
	w := next
	audio := strings.HasPrefix(strings.ToLower(info.MimeType), "audio/")
	if audio {
		w = interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
			n, err := next.Write(h, payload, a)
			m.countAudio(h.SSRC, h.SequenceNumber, err == nil)
			return n, err
		})
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		m.mu.Lock()
		r := m.rng.Float64()
		var release *heldPacket
		switch {
		case r < m.loss:
			m.mu.Unlock()
			m.dropped.Add(1)
			if audio {
				m.countAudio(h.SSRC, h.SequenceNumber, false)
			}
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
