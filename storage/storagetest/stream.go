package storagetest

import (
	"io"
	"math/rand/v2"
)

// BenchSize is the size of the object the backends' upload benchmarks
// send: that of a long session's composed MP4.
const BenchSize = 200_000_000

// Stream returns a reader of n pseudo-random bytes that cycles over a
// 1 MiB block, so that benchmarks do not hold the object in memory. It
// offers only Read (no Seek, no WriterTo): stores must stream it.
func Stream(n int64) io.Reader {
	block := make([]byte, 1<<20+13)                 // Odd length: parts differ.
	_, _ = rand.NewChaCha8([32]byte{1}).Read(block) // Never fails.
	return &patternReader{block: block, left: n}
}

type patternReader struct {
	block []byte
	off   int
	left  int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.left)]
	n := 0
	for n < len(b) {
		c := copy(b[n:], p.block[p.off:])
		n += c
		p.off = (p.off + c) % len(p.block)
	}
	p.left -= int64(n)
	return n, nil
}
