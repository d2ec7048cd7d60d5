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

// levelPacket is an Opus packet carrying an RFC 6464 level in extension
// id (one-byte header for id < 15, two-byte above).
func levelPacket(tb testing.TB, id, level uint8, voice bool) []byte {
	tb.Helper()
	pkt := rtpPacket(1, 960, true, []byte{0xfc, 0xff, 0xfe})
	ext, err := rtp.AudioLevelExtension{Level: level, Voice: voice}.Marshal()
	require.NoError(tb, err)
	if id > 14 {
		pkt.Extension, pkt.ExtensionProfile = true, rtp.ExtensionProfileTwoByte
	}
	require.NoError(tb, pkt.SetExtension(id, ext))
	raw, err := pkt.Marshal()
	require.NoError(tb, err)
	return raw
}

func TestAudioLevel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		raw    []byte
		id     uint8
		level  uint8
		ok     bool
		reason string
	}{
		{"one-byte header", levelPacket(t, 1, 30, true), 1, 30, true, ""},
		{"two-byte header", levelPacket(t, 20, 127, false), 20, 127, true, ""},
		{"other id", levelPacket(t, 3, 30, true), 4, 0, false, "no extension of that id"},
		{"not negotiated", levelPacket(t, 3, 30, true), 0, 0, false, "id 0"},
		{"no extension", func() []byte { p := rtpPacket(1, 2, true, []byte{1}); b, _ := p.Marshal(); return b }(), 1, 0, false, "no header extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pkt rtp.Packet
			require.NoError(t, pkt.Unmarshal(tc.raw))
			level, ok := audioLevel(&pkt, tc.id)
			require.Equal(t, tc.ok, ok, tc.reason)
			require.Equal(t, tc.level, level)
		})
	}
}

// FuzzAudioLevel parses the audio level of any packet that unmarshals: no
// panic, and a level found is the low 7 bits of the extension's first
// byte, at most 127.
func FuzzAudioLevel(f *testing.F) {
	f.Add(levelPacket(f, 1, 30, true), uint8(1))
	f.Add(levelPacket(f, 20, 127, false), uint8(20))
	f.Add(levelPacket(f, 3, 0, true), uint8(4))
	f.Fuzz(func(t *testing.T, raw []byte, id uint8) {
		var pkt rtp.Packet
		if pkt.Unmarshal(raw) != nil {
			return
		}
		level, ok := audioLevel(&pkt, id)
		if !ok {
			return
		}
		ext := pkt.GetExtension(id)
		require.NotZero(t, id)
		require.NotEmpty(t, ext)
		require.LessOrEqual(t, level, uint8(127))
		require.Equal(t, ext[0]&0x7f, level)
	})
}
