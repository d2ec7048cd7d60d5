// Package bits reads bitstreams most significant bit first, as the video
// codecs' headers are written.
package bits

// Reader reads B from bit Pos on; a read past the end sets Err and returns
// 0, and so do later reads, so that a parser may check Err once at the end.
type Reader struct {
	B   []byte
	Pos int // in bits
	Err bool
}

// U reads an unsigned n-bit value (n at most 32).
func (r *Reader) U(n int) uint32 {
	var v uint32
	for range n {
		if r.Err || r.Pos >= len(r.B)*8 {
			r.Err = true
			return 0
		}
		v = v<<1 | uint32(r.B[r.Pos/8]>>(7-r.Pos%8)&1)
		r.Pos++
	}
	return v
}

// Flag reads one bit as a bool.
func (r *Reader) Flag() bool { return r.U(1) == 1 }
