package vp8

import (
	"encoding/hex"
	"testing"
)

// cases are frame starts produced by libvpx.
var cases = []struct {
	name          string
	hex           string
	key           bool
	width, height int
}{
	{"key_1080p", "107d049d012a8007380400c7088585889984880483bbf1fe3fa306ff", true, 1920, 1080},
	{"key_portrait", "301b009d012a7800a00000c70885858899848804821be3ec650f0a7f", true, 120, 160},
	{"delta", "91de000710f8001c880ff01ed67c09fb", false, 0, 0},
	{"short", "107d049d012a80", false, 0, 0},
	{"no_start_code", "107d049d012b8007380400c7", false, 0, 0},
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
		if ok && (w <= 0 || h <= 0 || w > 0x3fff || h > 0x3fff) {
			t.Fatalf("size %dx%d", w, h)
		}
	})
}
