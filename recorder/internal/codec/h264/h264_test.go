package h264

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// cases are access unit starts produced by libx264 (Constrained Baseline,
// Annex-B, SPS and PPS before each IDR); 1080p is coded as 1088 lines and
// cropped.
var cases = []struct {
	name          string
	hex           string
	key           bool
	params        string // expected ParamSets, hex
	width, height int
}{
	{
		"idr_1080p",
		"000000016742c028da01e0089f961000000300100000030148f1832a0000000168ce3c800000010605ffff67dc45e9bd0000016588",
		true, "000000016742c028da01e0089f961000000300100000030148f1832a0000000168ce3c80", 1920, 1080,
	},
	{
		"idr_portrait",
		"000000016742d00bda0815e5e1000003000100000300148f1226a00000000168ce3c800000010605ffff65dc45e9bde6",
		false, "000000016742d00bda0815e5e1000003000100000300148f1226a00000000168ce3c80", 120, 160,
	},
	{"delta", "00000001419a206ae083ffffffffffff", false, "", 0, 0},
	{"idr_only", "0000016588840021", true, "", 0, 0},
	{"sps_truncated", "000000016742c028", false, "", 0, 0},
	{"garbage", "0102030405", false, "", 0, 0},
	{"empty", "", false, "", 0, 0},
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
			if got := hex.EncodeToString(ParamSets(b)); got != tc.params {
				t.Errorf("ParamSets = %s, want %s", got, tc.params)
			}
			w, h, ok := Size(b)
			if ok != (tc.width > 0) || w != tc.width || h != tc.height {
				t.Errorf("Size = %d, %d, %v; want %d, %d", w, h, ok, tc.width, tc.height)
			}
		})
	}
}

func TestNALUs(t *testing.T) {
	au := []byte{9, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 1, 0, 0, 1, 0x65, 0, 0}
	got := NALUs(au)
	want := [][]byte{{0x67, 1, 2}, {0x68, 3}, {0x65, 0, 0}}
	if len(got) != len(want) {
		t.Fatalf("NALUs = %x, want %x", got, want)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("NALU %d = %x, want %x", i, got[i], want[i])
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range cases {
		b, _ := hex.DecodeString(tc.hex)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range NALUs(b) {
			if len(n) == 0 {
				t.Fatal("empty NAL unit")
			}
		}
		if n, ok := Reorder(b); n < 0 || n > maxReorder || (!ok && n != 0) {
			t.Fatalf("reorder %d %v", n, ok)
		}
		if ps := ParamSets(b); ps != nil && !bytes.HasPrefix(ps, startCode) {
			t.Fatalf("param sets %x", ps)
		}
		if w, h, ok := Size(b); ok && (w <= 0 || h <= 0 || w > maxMBs*16 || h > 2*maxMBs*16) {
			t.Fatalf("size %dx%d", w, h)
		}
	})
}
