package wav

import (
	"encoding/binary"
	"math"
)

// Scales between integer samples and float32 in [-1, 1).
const (
	scale8  = 1 << 7
	scale16 = 1 << 15
	scale24 = 1 << 23
	scale32 = 1 << 31
)

// decode converts whole samples of src (encoding e) into dst and returns
// the number of samples written: min(len(dst), len(src)/e.Size()).
func decode(dst []float32, src []byte, e Encoding) int {
	n := min(len(dst), len(src)/e.Size())
	dst = dst[:n]
	switch e {
	case Uint8:
		for i := range dst {
			dst[i] = float32(int(src[i])-128) / scale8
		}
	case Int16:
		for i := range dst {
			dst[i] = float32(int16(binary.LittleEndian.Uint16(src[2*i:]))) / scale16
		}
	case Int24:
		for i := range dst {
			b := src[3*i : 3*i+3]
			v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
			dst[i] = float32(v) / scale24
		}
	case Int32:
		for i := range dst {
			dst[i] = float32(float64(int32(binary.LittleEndian.Uint32(src[4*i:]))) / scale32)
		}
	case Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case Float64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	}
	return n
}

// encode converts src into dst (encoding e), which must hold
// len(src)*e.Size() bytes. Integer encodings round to nearest and
// saturate; NaN becomes 0.
func encode(dst []byte, src []float32, e Encoding) {
	switch e {
	case Uint8:
		for i, x := range src {
			dst[i] = byte(quantize(x, scale8) + 128)
		}
	case Int16:
		for i, x := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], uint16(int16(quantize(x, scale16))))
		}
	case Int24:
		for i, x := range src {
			v := uint32(int32(quantize(x, scale24)))
			dst[3*i], dst[3*i+1], dst[3*i+2] = byte(v), byte(v>>8), byte(v>>16)
		}
	case Int32:
		for i, x := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], uint32(int32(quantize(x, scale32))))
		}
	case Float32:
		for i, x := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(x))
		}
	case Float64:
		for i, x := range src {
			binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(float64(x)))
		}
	}
}

// quantize returns round(x*scale) saturated to [-scale, scale-1].
func quantize(x float32, scale float64) int64 {
	v := math.RoundToEven(float64(x) * scale)
	switch {
	case v != v:
		return 0
	case v >= scale:
		return int64(scale) - 1
	case v < -scale:
		return -int64(scale)
	}
	return int64(v)
}
