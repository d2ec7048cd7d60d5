package red

import (
	"bytes"
	"errors"
	"testing"
)

var cases = []struct {
	name    string
	in      []byte
	primary []byte
	pt      uint8
	err     error
}{
	{"primary only", []byte{111, 1, 2, 3}, []byte{1, 2, 3}, 111, nil},
	{"one redundant block", []byte{0x80 | 111, 0x03, 0xc0, 2, 111, 9, 9, 1, 2}, []byte{1, 2}, 111, nil},
	{"two redundant blocks", []byte{0x80 | 111, 0, 0, 1, 0x80 | 111, 0, 0, 2, 111, 7, 8, 8, 5}, []byte{5}, 111, nil},
	{"empty primary", []byte{111}, []byte{}, 111, nil},
	{"empty", nil, nil, 0, ErrMalformed},
	{"short header", []byte{0x80 | 111, 0, 0}, nil, 0, ErrMalformed},
	{"no final header", []byte{0x80 | 111, 0, 0, 0}, nil, 0, ErrMalformed},
	{"block longer than payload", []byte{0x80 | 111, 0, 0, 5, 111, 1}, nil, 0, ErrMalformed},
}

func TestPrimary(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, pt, err := Primary(c.in)
			if !errors.Is(err, c.err) || !bytes.Equal(got, c.primary) || pt != c.pt {
				t.Fatalf("Primary(%v) = %v, %d, %v; want %v, %d, %v", c.in, got, pt, err, c.primary, c.pt, c.err)
			}
		})
	}
}

// FuzzPrimary: never panics; the primary block is the payload's tail.
func FuzzPrimary(f *testing.F) {
	for _, c := range cases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, _, err := Primary(in)
		if err != nil {
			return
		}
		if len(got) >= len(in) || !bytes.HasSuffix(in, got) {
			t.Fatalf("primary %v is not a strict tail of %v", got, in)
		}
	})
}
