package bits

import "testing"

func TestReader(t *testing.T) {
	r := &Reader{B: []byte{0b1010_0000, 0xff}}
	if v := r.U(3); v != 0b101 {
		t.Fatalf("U(3) = %b", v)
	}
	if r.Flag() {
		t.Fatal("Flag = true")
	}
	if v := r.U(12); v != 0x0ff {
		t.Fatalf("U(12) = %x", v)
	}
	if r.Err {
		t.Fatal("Err before the end")
	}
	if v := r.U(1); v != 0 || !r.Err {
		t.Fatalf("past the end: %d, Err %v", v, r.Err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte{0xaa, 0x55}, uint8(7))
	f.Fuzz(func(t *testing.T, b []byte, n uint8) {
		r := &Reader{B: b}
		total := 0
		for !r.Err {
			k := int(n%32) + 1
			r.U(k)
			total += k
			if total > len(b)*8+64 {
				t.Fatal("no error past the end")
			}
		}
		if r.Pos > len(b)*8 {
			t.Fatalf("Pos %d past %d bits", r.Pos, len(b)*8)
		}
	})
}
