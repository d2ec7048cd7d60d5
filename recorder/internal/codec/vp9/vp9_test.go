package vp9

import (
	"encoding/hex"
	"testing"
)

// cases are frame starts produced by libvpx-vp9 (profile 0).
var cases = []struct {
	name          string
	hex           string
	key           bool
	width, height int
}{
	{"key_1080p", "824983420077f043760838241c185c1801905f19f9bffe7f", true, 1920, 1080},
	{"key_portrait", "8249834200077009f60638241c18420003205dfc6e91ed1e", true, 120, 160},
	{"delta", "86004092f0c12e0600777fbc5f91ba39", false, 0, 0},
	{"truncated_key", "8249834200", false, 0, 0},
	{"bad_marker", "024983420077f043760838241c", false, 0, 0},
	{"bad_sync", "824983430077f043760838241c", false, 0, 0},
	{"empty", "", false, 0, 0},
}

func TestParse(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			if got := IsKeyframe(b); got != tc.key {
				t.Errorf("IsKeyframe = %v, want %v", got, tc.key)
			}
			w, h, ok := Size(b)
			if ok != tc.key || w != tc.width || h != tc.height {
				t.Errorf("Size = %d, %d, %v; want %d, %d, %v", w, h, ok, tc.width, tc.height, tc.key)
			}
		})
	}
}

func FuzzSize(f *testing.F) {
	for _, tc := range cases {
		b, _ := hex.DecodeString(tc.hex)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, h, ok := Size(b)
		if ok && !IsKeyframe(b) {
			t.Fatal("size of a non-keyframe")
		}
		if ok && (w <= 0 || h <= 0 || w > 1<<16 || h > 1<<16) {
			t.Fatalf("size %dx%d", w, h)
		}
	})
}
