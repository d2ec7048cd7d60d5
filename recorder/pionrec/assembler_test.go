package pionrec

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/stretchr/testify/require"
)

// vp8Packet is a VP8 packet of frame ts; start marks a frame's first
// packet, last its marker; data follows the payload descriptor.
func vp8Packet(seq uint16, ts uint32, start, last bool, data byte) *rtp.Packet {
	desc := byte(0)
	if start {
		desc = 0x10 // S=1, partition 0
	}
	return &rtp.Packet{
		Header:  rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: last},
		Payload: []byte{desc, data},
	}
}

// event is one step of an assembler scenario: a packet pushed at a time
// (ms), or a flush when pkt is nil.
type event struct {
	at  int
	pkt *rtp.Packet
}

// frameOut is an emitted frame: timestamp, data and lost count.
type frameOut struct {
	ts   uint32
	data string
	lost int
}

func TestAssembler(t *testing.T) {
	const maxLatency = 100 * time.Millisecond
	// wantUnused are the packets a case reads but uses nowhere (0 if
	// not listed).
	wantUnused := map[string]int{"loss given up after maxLatency": 1, "duplicate": 2}
	for _, tc := range []struct {
		name   string
		events []event
		want   []frameOut
	}{
		{"in order", []event{
			{0, vp8Packet(10, 0, true, false, 'a')},
			{0, vp8Packet(11, 0, false, true, 'b')},
			{33, vp8Packet(12, 3000, true, true, 'c')},
			{66, nil},
		}, []frameOut{{0, "ab", 0}, {3000, "c", 0}}},
		{"reordered", []event{
			{0, vp8Packet(11, 0, false, true, 'b')},
			{1, vp8Packet(10, 0, true, false, 'a')},
			{2, vp8Packet(13, 3000, false, true, 'd')},
			{3, vp8Packet(12, 3000, true, false, 'c')},
		}, []frameOut{{0, "ab", 0}, {3000, "cd", 0}}},
		{"across the sequence wrap", []event{
			{0, vp8Packet(65535, 0, true, false, 'a')},
			{0, vp8Packet(0, 0, false, true, 'b')},
			{33, vp8Packet(1, 3000, true, true, 'c')},
		}, []frameOut{{0, "ab", 0}, {3000, "c", 0}}},
		{"retransmission in time", []event{
			{0, vp8Packet(10, 0, true, false, 'a')},
			{33, vp8Packet(12, 3000, true, true, 'c')},
			{90, vp8Packet(11, 0, false, true, 'b')},
		}, []frameOut{{0, "ab", 0}, {3000, "c", 0}}},
		{"loss given up after maxLatency", []event{
			{0, vp8Packet(10, 0, true, false, 'a')},
			{33, vp8Packet(12, 3000, true, true, 'c')},
			{66, vp8Packet(13, 6000, true, true, 'd')},
			{101, vp8Packet(14, 9000, true, true, 'e')},
			{150, vp8Packet(11, 0, false, true, 'b')}, // too late
		}, []frameOut{{3000, "c", 2}, {6000, "d", 0}, {9000, "e", 0}}},
		{"stream starts with a frame's middle", []event{
			{0, vp8Packet(11, 0, false, true, 'b')},
			{33, vp8Packet(12, 3000, true, true, 'c')},
			{150, vp8Packet(13, 6000, true, true, 'd')},
		}, []frameOut{{3000, "c", 1}, {6000, "d", 0}}},
		{"frame start lost later", []event{
			{0, vp8Packet(10, 0, true, true, 'a')},
			{33, vp8Packet(12, 3000, false, true, 'b')},
			{66, vp8Packet(13, 6000, true, true, 'c')},
			{150, nil},
		}, []frameOut{{0, "a", 0}, {6000, "c", 2}}},
		{"duplicate", []event{
			{0, vp8Packet(10, 0, true, true, 'a')},
			{1, vp8Packet(10, 0, true, true, 'a')},
			{33, vp8Packet(11, 3000, true, true, 'c')},
			{34, vp8Packet(10, 0, true, true, 'a')},
		}, []frameOut{{0, "a", 0}, {3000, "c", 0}}},
		{"jump beyond the window", []event{
			{0, vp8Packet(10, 0, true, true, 'a')},
			{1, vp8Packet(30000, 3000, true, true, 'z')},
			{2, vp8Packet(30001, 6000, true, true, 'y')},
		}, []frameOut{{0, "a", 0}, {3000, "z", 30000 - 11}, {6000, "y", 0}}},
		{"flush gives up", []event{
			{0, vp8Packet(10, 0, true, true, 'a')}, {1, vp8Packet(11, 3000, true, false, 'b')}, {2, nil},
		}, []frameOut{{0, "a", 0}}},
		{"no marker: the next timestamp ends a frame", []event{
			{0, vp8Packet(10, 0, true, false, 'a')}, {33, vp8Packet(11, 3000, true, true, 'c')},
		}, []frameOut{{0, "a", 0}, {3000, "c", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAssembler(func() rtp.Depacketizer { return &codecs.VP8Packet{} }, maxLatency)
			origin := time.Unix(0, 0)
			var got []frameOut
			for _, ev := range tc.events {
				now := origin.Add(time.Duration(ev.at) * time.Millisecond)
				if ev.pkt != nil {
					a.push(ev.pkt)
				}
				for {
					f, ok := a.pop(now, ev.pkt == nil)
					if !ok {
						break
					}
					got = append(got, frameOut{f.ts, string(f.data), f.lost})
				}
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, wantUnused[tc.name], a.unused, "unused packets")
		})
	}
}
