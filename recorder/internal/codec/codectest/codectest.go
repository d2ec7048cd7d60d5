// Package codectest holds the table test and fuzz target that the frame
// parsers of recorder/internal/codec share: each codec package gives its
// cases and its IsKeyframe and Size functions.
package codectest

import (
	"encoding/hex"
	"testing"
)

// Case is one frame start (hex) with what IsKeyframe and Size must say of
// it; Width and Height are zero for a frame that is not a keyframe.
type Case struct {
	Name          string
	Hex           string
	Key           bool
	Width, Height int
}

// Codec is the part of a codec package under test.
type Codec struct {
	IsKeyframe func([]byte) bool
	Size       func([]byte) (width, height int, ok bool)
	// MaxSide is the largest width or height the bitstream can code.
	MaxSide int
}

// Parse checks every case: IsKeyframe, and Size giving the keyframe's
// size (and ok only for keyframes).
func Parse(t *testing.T, c Codec, cases []Case) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			b := decode(t, tc.Hex)
			if got := c.IsKeyframe(b); got != tc.Key {
				t.Errorf("IsKeyframe = %v, want %v", got, tc.Key)
			}
			w, h, ok := c.Size(b)
			if ok != tc.Key || w != tc.Width || h != tc.Height {
				t.Errorf("Size = %d, %d, %v; want %d, %d, %v", w, h, ok, tc.Width, tc.Height, tc.Key)
			}
		})
	}
}

// FuzzSize seeds f with the cases and checks that Size never reports a
// size for a non-keyframe or one outside 1..MaxSide.
func FuzzSize(f *testing.F, c Codec, cases []Case) {
	for _, tc := range cases {
		b, err := hex.DecodeString(tc.Hex)
		if err != nil {
			f.Fatalf("case %s: %v", tc.Name, err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, h, ok := c.Size(b)
		if ok && !c.IsKeyframe(b) {
			t.Fatal("size of a non-keyframe")
		}
		if ok && (w <= 0 || h <= 0 || w > c.MaxSide || h > c.MaxSide) {
			t.Fatalf("size %dx%d", w, h)
		}
	})
}

func decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
