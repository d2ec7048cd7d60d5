package pionrec

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/recorder"
)

// fuzzCodecs are the codecs a fuzz input's first byte selects from: Opus,
// VP8, VP9, H.264.
var fuzzCodecs = Codecs()[:4]

// countingRTCP counts the PLIs the writer sends.
type countingRTCP struct{ plis int }

func (c *countingRTCP) WriteRTCP(pkts []rtcp.Packet) error {
	for _, p := range pkts {
		if _, ok := p.(*rtcp.PictureLossIndication); ok {
			c.plis++
		}
	}
	return nil
}

// fuzzPacket is one packet of a seed and the milliseconds since the
// previous one.
type fuzzPacket struct {
	pkt     rtp.Packet
	deltaMS byte
}

// fuzzInput encodes packets as the fuzz target reads them: a codec byte,
// then per packet a 16-bit length, a delay byte and the raw packet.
func fuzzInput(tb testing.TB, codec byte, pkts []fuzzPacket) []byte {
	tb.Helper()
	out := []byte{codec}
	for _, p := range pkts {
		raw, err := p.pkt.Marshal()
		require.NoError(tb, err)
		out = binary.BigEndian.AppendUint16(out, uint16(len(raw)))
		out = append(out, p.deltaMS)
		out = append(out, raw...)
	}
	return out
}

// rtpPacket builds a packet of payload type 96.
func rtpPacket(seq uint16, ts uint32, marker bool, payload []byte) rtp.Packet {
	return rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 1, Marker: marker},
		Payload: payload,
	}
}

// fuzzSeeds are hand-made streams: well-formed frames of each codec, then
// reordering, sequence and timestamp jumps, padding and truncation.
func fuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	vp8Key := []byte{0x10, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 1, 2, 3}
	vp8Delta := []byte{0x10, 0x51, 0x02, 0x00, 4, 5, 6}
	vp9Key := []byte{0x08, 0x82, 0x49, 0x83, 0x42, 0x00, 0x13, 0xf0, 0x0e, 0xf6}
	sps := []byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x01, 0x40, 0x7b, 0x20}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	stap := append([]byte{24}, append(binary.BigEndian.AppendUint16(nil, uint16(len(sps))), sps...)...)
	stap = append(stap, append(binary.BigEndian.AppendUint16(nil, uint16(len(pps))), pps...)...)
	fuStart := []byte{28, 0x80 | 5, 0x88, 0x84}
	fuEnd := []byte{28, 0x40 | 5, 0x21, 0x22}
	opus := []byte{0xf8, 0xff, 0xfe}

	padded := rtpPacket(7, 6000, true, vp8Delta)
	padded.Padding, padded.PaddingSize = true, 4

	return [][]byte{
		fuzzInput(tb, 1, []fuzzPacket{ // VP8: key, delta, reordered, jump
			{rtpPacket(1, 0, true, vp8Key), 0},
			{rtpPacket(3, 6000, true, vp8Delta), 33},
			{rtpPacket(2, 3000, true, vp8Delta), 1},
			{rtpPacket(40000, 90000, true, vp8Key), 33},
			{padded, 1},
		}),
		fuzzInput(tb, 2, []fuzzPacket{ // VP9 key then a timestamp going back
			{rtpPacket(1, 1<<31, true, vp9Key), 0},
			{rtpPacket(2, 1<<30, true, vp9Key), 33},
			{rtpPacket(3, 1<<31+3000, true, vp9Key), 33},
		}),
		fuzzInput(tb, 3, []fuzzPacket{ // H.264: STAP-A SPS/PPS, FU-A IDR, lost start
			{rtpPacket(65534, 0xffffff00, false, stap), 0},
			{rtpPacket(65535, 0xffffff00, false, fuStart), 0},
			{rtpPacket(0, 0xffffff00, true, fuEnd), 0},
			{rtpPacket(2, 0x00000b00, true, fuEnd), 33},
			{rtpPacket(3, 0x00001700, true, []byte{5}), 33},
		}),
		fuzzInput(tb, 0, []fuzzPacket{ // Opus with a DTX gap and a wrap
			{rtpPacket(10, 0xfffffc40, true, opus), 0},
			{rtpPacket(11, 0x00000000, true, opus), 20},
			{rtpPacket(12, 0x0000bb80, true, opus), 250},
			{rtpPacket(13, 0x0000bb80, true, nil), 1},
		}),
	}
}

// FuzzPush feeds hostile RTP to the depacketising and timing path: it
// must not panic, and every frame it hands to the recorder must be in
// presentation order.
func FuzzPush(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	s, err := recorder.NewSession(recorder.Config{ID: "fuzz", Dir: f.TempDir(), DisableFiles: true, CheckpointInterval: -1})
	require.NoError(f, err)
	f.Cleanup(func() { _ = s.Close(f.Context()) })
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		n++
		p, err := s.Join(fmt.Sprintf("p%d", n), "fuzz")
		require.NoError(t, err)
		var fb countingRTCP
		w, err := newWriter(p, s, "t", fuzzCodecs[int(data[0])%len(fuzzCodecs)], 1, &fb, Config{})
		require.NoError(t, err)
		defer releaseGroup(p)
		now := s.StartedAt()
		for data = data[1:]; len(data) >= 3; {
			size := min(int(binary.BigEndian.Uint16(data)), len(data)-3)
			now = now.Add(time.Duration(data[2]) * time.Millisecond)
			raw := append([]byte(nil), data[3:3+size]...)
			data = data[3+size:]
			var pkt rtp.Packet
			if pkt.Unmarshal(raw) == nil {
				w.push(&pkt, now)
			}
		}
		w.finish()
		st := w.track.Stats()
		require.Zero(t, st.DroppedOutOfOrder, "frames out of order")
		// The recorder may still drop an H.264 IDR that comes without
		// SPS and PPS; nothing else.
		ws := w.snapshot()
		require.Equal(t, uint64(ws.Frames), st.Frames+st.DroppedBeforeKeyframe)
		if w.codec == recorder.Opus {
			// One packet per frame: every packet read is written,
			// dropped, unwritten or given up (each counted), or
			// unused.
			require.LessOrEqual(t, ws.Packets-ws.UnusedPackets, ws.Frames+ws.DroppedFrames+ws.Unwritten+ws.LostPackets,
				"audio packets neither written nor counted: %+v", ws)
		}
		require.NoError(t, p.Leave())
	})
}
