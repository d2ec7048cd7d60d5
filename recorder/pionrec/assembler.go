package pionrec

import (
	"time"

	"github.com/pion/rtp"
)

// ringSize is the reorder window in packets (a power of two). At the
// bitrates WebRTC sends (up to a few thousand packets per second),
// MaxLatency runs out before the window does.
const ringSize = 1024

// assembledFrame is a depacketised frame.
type assembledFrame struct {
	// ts is the RTP timestamp of the frame.
	ts uint32
	// data is the access unit (Annex-B for H.264).
	data []byte
	// lost counts the packets given up (missing, or unusable without the
	// missing ones) since the previous frame.
	lost int
	// level is the frame's RFC 6464 audio level (-dBov), -1 for none.
	level int
}

// assembler reorders RTP packets and depacketises complete frames. It is a
// bounded replacement for pion's samplebuilder: each packet costs O(1)
// amortised, whatever the sequence numbers, and a frame waits for missing
// packets (NACK retransmissions) at most maxLatency of arrival time.
type assembler struct {
	newDepack  func() rtp.Depacketizer
	maxLatency time.Duration
	levelID    uint8 // the audio-level extension's ID, 0 for none

	ring     [ringSize]*rtp.Packet
	next     uint16 // first sequence number not yet emitted or dropped
	newest   uint16 // newest sequence number stored
	started  bool
	emitted  bool      // a frame was emitted
	gapSince time.Time // when the frame at next was first found incomplete
	lost     int
	// unused counts packets stored nowhere: duplicates, and packets that
	// came after their frame was emitted or given up (those given up are
	// in lost already).
	unused int
}

// newAssembler returns an assembler that waits at most maxLatency for a
// missing packet.
func newAssembler(newDepack func() rtp.Depacketizer, maxLatency time.Duration) *assembler {
	return &assembler{newDepack: newDepack, maxLatency: maxLatency}
}

// push stores a packet; one far beyond the window gives up what the window
// can no longer hold.
func (a *assembler) push(pkt *rtp.Packet) {
	seq := pkt.SequenceNumber
	if !a.started {
		a.started, a.next, a.newest = true, seq, seq
	}
	d := int(int16(seq - a.next))
	switch {
	case d < 0 && !a.emitted && -d < ringSize/2:
		// Reordered before the first frame: the stream starts earlier.
		a.next = seq
	case d < 0:
		// Already emitted or given up: a duplicate, or a packet (a
		// retransmission) that came after its frame was given up.
		a.unused++
		return
	case d >= ringSize:
		// A discontinuity (a sender restarting its sequence, or 1024
		// packets lost in a row): what lies between will not come.
		a.skipTo(seq)
	}
	if a.at(seq) != nil {
		a.unused++ // a duplicate of a packet still waiting
		return
	}
	a.ring[seq%ringSize] = pkt
	if int16(seq-a.newest) > 0 {
		a.newest = seq
	}
}

// skipTo gives up every packet before seq.
func (a *assembler) skipTo(seq uint16) {
	n := int(seq - a.next)
	if n >= ringSize {
		for i := range a.ring {
			if a.ring[i] != nil {
				a.ring[i] = nil
			}
		}
		a.lost += n
		a.next = seq
		a.gapSince = time.Time{}
		return
	}
	for ; a.next != seq; a.next++ {
		a.drop(a.next)
	}
	a.gapSince = time.Time{}
}

// drop discards the slot of seq, counting it as lost.
func (a *assembler) drop(seq uint16) {
	a.ring[seq%ringSize] = nil
	a.lost++
}

// at returns the stored packet with sequence number seq, or nil.
func (a *assembler) at(seq uint16) *rtp.Packet {
	p := a.ring[seq%ringSize]
	if p == nil || p.SequenceNumber != seq {
		return nil
	}
	return p
}

// pop returns the next complete frame, if any. At now, a frame that has
// waited maxLatency for a missing packet is given up; flush gives up at
// once (end of stream).
func (a *assembler) pop(now time.Time, flush bool) (assembledFrame, bool) {
	for a.started && int16(a.newest-a.next) >= 0 {
		depack := a.newDepack()
		head := a.at(a.next)
		if head != nil && !depack.IsPartitionHead(head.Payload) && (a.emitted || a.late(now, flush)) {
			// The start of this frame is gone (after the first frame,
			// only a loss given up leads here): its rest is useless.
			a.drop(a.next)
			a.next++
			continue
		}
		end, complete := a.scan(head, depack)
		if head != nil && !depack.IsPartitionHead(head.Payload) {
			complete = false // the stream's first packets may still come
		}
		if !complete {
			if !a.late(now, flush) {
				return assembledFrame{}, false
			}
			// Give up the incomplete frame up to its gap, and the gap.
			// gapSince stays: what was lost with it is as late.
			for a.at(a.next) != nil && a.next != end {
				a.drop(a.next)
				a.next++
			}
			if a.at(a.next) == nil && int16(a.newest-a.next) >= 0 {
				a.drop(a.next)
				a.next++
			}
			continue
		}
		f := assembledFrame{ts: head.Timestamp, level: -1}
		if l, ok := audioLevel(head, a.levelID); ok {
			f.level = int(l)
		}
		ok := true
		for s := a.next; s != end; s++ {
			payload, err := depack.Unmarshal(a.at(s).Payload)
			if err != nil {
				ok = false
			}
			f.data = append(f.data, payload...)
			a.ring[s%ringSize] = nil
		}
		n := int(end - a.next)
		a.next = end
		a.gapSince = time.Time{}
		if !ok || len(f.data) == 0 {
			a.lost += n
			continue
		}
		f.lost, a.lost = a.lost, 0
		a.emitted = true
		return f, true
	}
	return assembledFrame{}, false
}

// late reports whether the frame at next, incomplete since gapSince
// (set now if unset), must be given up: at a flush, after maxLatency, or
// when the window is half full.
func (a *assembler) late(now time.Time, flush bool) bool {
	if a.gapSince.IsZero() {
		a.gapSince = now
	}
	return flush || now.Sub(a.gapSince) >= a.maxLatency || int(a.newest-a.next) >= ringSize/2
}

// scan looks for the end of the frame starting at head (nil if missing):
// end is the sequence number after its last packet. complete is false
// when a packet is missing before the frame's end is known.
func (a *assembler) scan(head *rtp.Packet, depack rtp.Depacketizer) (end uint16, complete bool) {
	if head == nil {
		return a.next, false
	}
	for s := a.next; ; s++ {
		p := a.at(s)
		if p == nil {
			return s, false
		}
		if p.Timestamp != head.Timestamp {
			return s, true // the next frame started without a marker
		}
		if depack.IsPartitionTail(p.Marker, p.Payload) {
			return s + 1, true
		}
		if s == a.newest {
			return s + 1, false
		}
	}
}

// AudioLevelURI is the RTP header extension of RFC 6464 (client-to-mixer
// audio level) that [NewAPI] negotiates for audio.
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// audioLevel returns the RFC 6464 level of pkt (-dBov, 0 to 127) carried
// in header extension id (one or two bytes, the first holding the voice
// bit and the level), false when id is 0 or pkt has none.
func audioLevel(pkt *rtp.Packet, id uint8) (uint8, bool) {
	if id == 0 || pkt == nil || !pkt.Extension {
		return 0, false
	}
	var ext rtp.AudioLevelExtension
	if err := ext.Unmarshal(pkt.GetExtension(id)); err != nil {
		return 0, false
	}
	return ext.Level, true
}
