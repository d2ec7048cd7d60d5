package mkv

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/recorder/internal/avtest"
)

// headerOf creates a file of codec at width x height with one packet and
// returns the start of the file (the header and the first cluster).
func headerOf(tb testing.TB, codec Codec, width, height int, extradata []byte, packet []byte) []byte {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "h.mkv")
	w, err := Create(path, Params{Codec: codec, Width: width, Height: height, Extradata: extradata})
	require.NoError(tb, err)
	require.NoError(tb, w.WritePacket(packet, 0, 33*time.Millisecond, true))
	require.NoError(tb, w.Close())
	b, err := os.ReadFile(path)
	require.NoError(tb, err)
	return b
}

// headerCases are the headers FFmpeg writes for each video codec, shared by
// the table test and the fuzz seeds.
func headerCases(tb testing.TB) map[string][]byte {
	tb.Helper()
	seq := avtest.AV1SequenceHeader(320, 180)
	return map[string][]byte{
		"vp8": headerOf(tb, VP8, 320, 180, nil, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}),
		"vp9": headerOf(tb, VP9, 320, 180, nil, avtest.VP9KeyHeader(320, 180)),
		"av1": headerOf(tb, AV1, 320, 180, seq, append([]byte{0x12, 0x00}, seq...)),
		"h264": headerOf(tb, H264, 320, 180,
			[]byte{0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80},
			[]byte{0, 0, 0, 1, 0x65, 0x88, 0x84}),
	}
}

// TestPatchVideoSize rewrites the size in every codec's header, growing
// each field by a byte, by two, and shrinking it back: the header keeps
// its length, the tracks' CRC-32 stays valid (findTrack checks it) and the
// rest of the file is untouched.
func TestPatchVideoSize(t *testing.T) {
	for name, b := range headerCases(t) {
		t.Run(name, func(t *testing.T) {
			w, h, err := videoSize(b)
			require.NoError(t, err)
			require.Equal(t, [2]int{320, 180}, [2]int{w, h})
			for _, size := range [][2]int{{640, 360}, {320, 360}, {16384, 16384}, {64, 48}, {320, 180}} {
				out, err := patchVideoSize(b, size[0], size[1])
				require.NoError(t, err, "%v", size)
				require.Len(t, out, len(b))
				w, h, err := videoSize(out)
				require.NoError(t, err)
				require.Equal(t, size, [2]int{w, h})
				l, err := findTrack(b)
				require.NoError(t, err)
				require.Equal(t, b[l.tracks.end:], out[l.tracks.end:], "bytes after the tracks changed")
				require.Equal(t, b[:l.tracks.data], out[:l.tracks.data], "bytes before the tracks changed")
				if l.crc != nil {
					require.Equal(t, b[l.crc.end:l.entry.start], out[l.crc.end:l.entry.start], "bytes before the track entry changed")
				}
				again, err := patchVideoSize(out, size[0], size[1])
				require.NoError(t, err)
				require.Equal(t, out, again, "patching twice")
			}
		})
	}
}

// TestPatchNoRoom: without the Void FFmpeg reserves, a field that needs
// another byte cannot be patched, and one of the same length can.
func TestPatchNoRoom(t *testing.T) {
	b := headerCases(t)["vp9"]
	l, err := findTrack(b)
	require.NoError(t, err)
	require.GreaterOrEqual(t, l.void, 0, "FFmpeg reserved no Void in the track entry")
	// Turn the Void into an unknown element the patcher must keep.
	nb := append([]byte(nil), b...)
	nb[l.entryCh[l.void].start] = 0xEB
	_, err = patchVideoSize(nb, 640, 360)
	require.ErrorIs(t, err, errLayout, "a CRC-32 over the changed bytes no longer matches")
	if l.crc != nil {
		// Recompute the CRC so only the room is missing.
		nb2, err := fixCRC(nb, l)
		require.NoError(t, err)
		_, err = patchVideoSize(nb2, 640, 360)
		require.ErrorIs(t, err, errNoRoom)
		out, err := patchVideoSize(nb2, 640, 200)
		require.NoError(t, err, "same field lengths fit")
		w, h, err := videoSize(out)
		require.NoError(t, err)
		require.Equal(t, [2]int{640, 200}, [2]int{w, h})
	}
	_, err = patchVideoSize(b[:40], 640, 360)
	require.ErrorIs(t, err, errLayout)
	_, err = patchVideoSize(b, 0, 360)
	require.ErrorIs(t, err, errLayout)
}

// fixCRC recomputes the tracks' CRC-32 of b (laid out as l).
func fixCRC(b []byte, l trackLayout) ([]byte, error) {
	out := append([]byte(nil), b...)
	putCRC(out, l)
	_, err := findTrack(out)
	return out, err
}

// FuzzPatchVideoSize: on any input the patcher does not panic; when it
// patches, the output has the input's length, reads back the size asked
// for, and patching it again changes nothing.
func FuzzPatchVideoSize(f *testing.F) {
	for _, b := range headerCases(f) {
		f.Add(b[:min(len(b), 1024)], uint16(640), uint16(360))
	}
	f.Fuzz(func(t *testing.T, b []byte, w, h uint16) {
		out, err := patchVideoSize(b, int(w), int(h))
		if err != nil {
			return
		}
		require.Len(t, out, len(b))
		gw, gh, err := videoSize(out)
		require.NoError(t, err)
		require.Equal(t, [2]int{int(w), int(h)}, [2]int{gw, gh})
		again, err := patchVideoSize(out, int(w), int(h))
		require.NoError(t, err)
		require.Equal(t, out, again)
	})
}
