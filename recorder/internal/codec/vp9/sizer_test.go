package vp9

import (
	"encoding/hex"
	"testing"

	"github.com/roomtape/roomtape/recorder/internal/avtest"
)

// keyHeader is a profile 0 keyframe header of w x h.
func keyHeader(w, h int) []byte {
	hw := &avtest.BitWriter{}
	hw.Put(2, 2).Put(0, 2).Put(0, 1) // frame_marker, profile 0, show_existing_frame
	hw.Put(0, 1).Put(1, 1).Put(0, 1) // KEY_FRAME, show_frame, error_resilient_mode
	hw.Put(keyframeSyncCode, 24).Put(0, 3).Put(0, 1)
	hw.Put(uint32(w-1), 16).Put(uint32(h-1), 16).Put(0, 1)
	return hw.Bytes()
}

// interHeader is a shown profile 0 inter frame header that refreshes the
// slots in refresh and either takes its size from reference fromRef (0-2
// of refs) or codes w x h (fromRef < 0).
func interHeader(refresh uint32, refs [3]uint32, fromRef, w, h int) []byte {
	hw := &avtest.BitWriter{}
	hw.Put(2, 2).Put(0, 2).Put(0, 1)
	hw.Put(1, 1).Put(1, 1).Put(0, 1) // NON_KEY_FRAME, show_frame, error_resilient_mode
	hw.Put(0, 2)                     // reset_frame_context
	hw.Put(refresh, 8)
	for _, r := range refs {
		hw.Put(r, 3).Put(0, 1)
	}
	for i := range 3 {
		if i == fromRef {
			hw.Put(1, 1)
			break
		}
		hw.Put(0, 1)
	}
	if fromRef < 0 {
		hw.Put(uint32(w-1), 16).Put(uint32(h-1), 16)
	}
	hw.Put(0, 8)
	return hw.Bytes()
}

// showExisting is a header that shows reference slot idx.
func showExisting(idx uint32) []byte {
	return (&avtest.BitWriter{}).Put(2, 2).Put(0, 2).Put(1, 1).Put(idx, 3).Bytes()
}

// superframe packs frames with a one-byte-per-size index.
func superframe(frames ...[]byte) []byte {
	var out []byte
	marker := byte(0xc0 | (len(frames) - 1))
	for _, f := range frames {
		out = append(out, f...)
	}
	out = append(out, marker)
	for _, f := range frames {
		out = append(out, byte(len(f)))
	}
	return append(out, marker)
}

// sizerCases are streams and the size Sizer.Next gives after each frame
// (0x0: not known).
var sizerCases = []struct {
	name   string
	frames [][]byte
	want   [][2]int
}{
	{
		name: "inter_frame_steps_up", // livekit-client SVC: small keyframe, larger inter frames
		frames: [][]byte{
			keyHeader(320, 180),
			interHeader(0x02, [3]uint32{0, 0, 0}, -1, 640, 360),
			interHeader(0x02, [3]uint32{1, 0, 0}, 0, 0, 0),
		},
		want: [][2]int{{320, 180}, {640, 360}, {640, 360}},
	},
	{
		name: "size_from_reference_slot",
		frames: [][]byte{
			keyHeader(640, 360),
			interHeader(0x04, [3]uint32{0, 0, 0}, -1, 320, 180), // slot 2 now 320x180
			interHeader(0x01, [3]uint32{2, 0, 1}, 1, 0, 0),      // second ref (slot 0): 640x360
			interHeader(0x00, [3]uint32{2, 0, 1}, 0, 0, 0),      // first ref (slot 2): 320x180
		},
		want: [][2]int{{640, 360}, {320, 180}, {640, 360}, {320, 180}},
	},
	{
		name:   "show_existing_frame",
		frames: [][]byte{keyHeader(320, 240), interHeader(0x08, [3]uint32{}, -1, 160, 120), showExisting(3), showExisting(0)},
		want:   [][2]int{{320, 240}, {160, 120}, {160, 120}, {320, 240}},
	},
	{
		name: "spatial_layers_in_a_superframe",
		frames: [][]byte{
			superframe(keyHeader(320, 180), interHeader(0x02, [3]uint32{0, 0, 0}, -1, 640, 360)),
			superframe(interHeader(0x01, [3]uint32{0, 0, 0}, 0, 0, 0), interHeader(0x02, [3]uint32{1, 0, 0}, 0, 0, 0)),
		},
		want: [][2]int{{640, 360}, {640, 360}},
	},
	{
		name:   "inter_before_keyframe",
		frames: [][]byte{interHeader(0x01, [3]uint32{}, 0, 0, 0), interHeader(0x01, [3]uint32{}, -1, 64, 64), keyHeader(96, 64)},
		want:   [][2]int{{0, 0}, {0, 0}, {96, 64}},
	},
	{
		name:   "garbage_keeps_nothing",
		frames: [][]byte{{0x00}, keyHeader(32, 32), {0xff, 0xff}},
		want:   [][2]int{{0, 0}, {32, 32}, {0, 0}},
	},
}

func TestSizer(t *testing.T) {
	for _, tc := range sizerCases {
		t.Run(tc.name, func(t *testing.T) {
			var s Sizer
			for i, f := range tc.frames {
				w, h, ok := s.Next(f)
				if got := [2]int{w, h}; got != tc.want[i] || ok != (tc.want[i] != [2]int{}) {
					t.Errorf("frame %d: Next = %v %v, want %v", i, got, ok, tc.want[i])
				}
			}
		})
	}
}

// TestSizerLibvpx checks the inter frames of a real libvpx stream: every
// one parses and keeps the keyframe's size.
func TestSizerLibvpx(t *testing.T) {
	for _, tc := range cases {
		b, _ := hex.DecodeString(tc.Hex)
		var s Sizer
		if !tc.Key {
			continue
		}
		w, h, ok := s.Next(b)
		if !ok || w != tc.Width || h != tc.Height {
			t.Errorf("%s: Next = %dx%d %v", tc.Name, w, h, ok)
		}
	}
	delta, _ := hex.DecodeString("86004092f0c12e0600777fbc5f91ba39")
	key, _ := hex.DecodeString(cases[0].Hex)
	var s Sizer
	s.Next(key)
	if w, h, ok := s.Next(delta); !ok || w != 1920 || h != 1080 {
		t.Errorf("libvpx delta frame: Next = %dx%d %v, want 1920x1080", w, h, ok)
	}
}

func FuzzSizer(f *testing.F) {
	for _, tc := range sizerCases {
		var all []byte
		for _, fr := range tc.frames {
			all = append(all, byte(len(fr)))
			all = append(all, fr...)
		}
		f.Add(all)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// b is a stream of frames, each prefixed with its length.
		var s Sizer
		for len(b) > 0 {
			n := min(int(b[0]), len(b)-1)
			fr := b[1 : 1+n]
			b = b[1+n:]
			w, h, ok := s.Next(fr)
			if ok && (w <= 0 || h <= 0 || w > 1<<16 || h > 1<<16) {
				t.Fatalf("size %dx%d", w, h)
			}
			if !ok && (w != 0 || h != 0) {
				t.Fatalf("size %dx%d without ok", w, h)
			}
			for _, sub := range Frames(fr) {
				if len(sub) > len(fr) {
					t.Fatal("superframe part longer than the data")
				}
			}
		}
	})
}
