package av1

import (
	"bytes"
	"testing"
)

func TestSequenceHeader(t *testing.T) {
	seq := []byte{0x0a, 0x03, 0xaa, 0xbb, 0xcc} // OBU_SEQUENCE_HEADER, has_size, 3 bytes
	td := []byte{0x12, 0x00}                    // temporal delimiter, size 0
	frame := []byte{0x32, 0x02, 0x01, 0x02}     // OBU_FRAME, 2 bytes
	ext := []byte{0x0e, 0x00, 0x02, 0xaa, 0xbb} // sequence header with extension byte
	noSize := []byte{0x08, 0xaa, 0xbb}          // sequence header without size: to the end
	for _, tc := range []struct {
		name string
		tu   []byte
		want []byte
	}{
		{"td_seq_frame", append(append(append([]byte{}, td...), seq...), frame...), seq},
		{"extension", append(append([]byte{}, td...), ext...), ext},
		{"no_size_field", noSize, noSize},
		{"no_header", append(append([]byte{}, td...), frame...), nil},
		{"truncated", []byte{0x0a, 0x05, 0xaa}, nil},
		{"forbidden_bit", []byte{0x8a, 0x00}, nil},
		{"bad_leb128", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil},
		{"empty", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SequenceHeader(tc.tu); !bytes.Equal(got, tc.want) {
				t.Errorf("SequenceHeader = %x, want %x", got, tc.want)
			}
		})
	}
}

func FuzzSequenceHeader(f *testing.F) {
	f.Add([]byte{0x12, 0x00, 0x0a, 0x03, 0xaa, 0xbb, 0xcc})
	f.Add([]byte{0x08, 0xaa})
	f.Fuzz(func(t *testing.T, b []byte) {
		sh := SequenceHeader(b)
		if sh != nil && (len(sh) == 0 || sh[0]>>3&0x0f != obuSequenceHeader) {
			t.Fatalf("not a sequence header: %x", sh)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{0x12, 0x00, 0x0a, 0x03, 0xaa, 0xbb, 0xcc})
	seq := []byte{0x0a, 0x0b, 0x00, 0x00, 0x00, 0x40, 0xff, 0xa7, 0x78, 0x1f, 0xfe, 0x00, 0x00}
	f.Add(append(append([]byte{}, seq...), 0x32, 0x01, 0x10))
	f.Add([]byte{0x32, 0x01, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, h, ok := Size(b)
		if ok && (w <= 0 || h <= 0 || w > 1<<16 || h > 1<<16) {
			t.Fatalf("size %dx%d", w, h)
		}
		if ok != (SequenceHeader(b) != nil) && ok {
			t.Fatal("size without a sequence header")
		}
		if IsKeyframe(b) && SequenceHeader(b) == nil {
			t.Fatal("keyframe without a sequence header")
		}
	})
}
