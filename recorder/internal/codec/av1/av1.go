// Package av1 finds the sequence header OBU in an AV1 temporal unit (AV1
// bitstream specification, section 5.3), which Matroska needs in its
// CodecPrivate (av1C).
package av1

// obuSequenceHeader is obu_type for a sequence header.
const obuSequenceHeader = 1

// maxLEB128Bytes is the longest leb128 the specification allows.
const maxLEB128Bytes = 8

// leb128 decodes an unsigned LEB128 value; n is 0 if b is truncated.
func leb128(b []byte) (v uint64, n int) {
	for i := 0; i < maxLEB128Bytes && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// SequenceHeader returns the first sequence header OBU of tu (in
// low-overhead format, with or without obu_size fields), or nil.
func SequenceHeader(tu []byte) []byte {
	for len(tu) > 0 {
		hdr := tu[0]
		if hdr&0x80 != 0 { // forbidden bit
			return nil
		}
		typ := hdr >> 3 & 0x0f
		hlen := 1
		if hdr&0x04 != 0 { // extension flag
			hlen++
		}
		if len(tu) < hlen {
			return nil
		}
		end := len(tu)
		if hdr&0x02 != 0 { // has size field
			size, n := leb128(tu[hlen:])
			if n == 0 || size > uint64(len(tu)-hlen-n) {
				return nil
			}
			end = hlen + n + int(size)
		}
		if typ == obuSequenceHeader {
			return tu[:end]
		}
		tu = tu[end:]
	}
	return nil
}
