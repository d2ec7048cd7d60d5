package mkv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// The Matroska header is written once, when the file is created, with the
// first picture's size. A stream whose pictures grow later (VP9 with
// spatial layers: a small first keyframe, then larger inter frames; any
// codec after a resolution change) would keep that first size in
// PixelWidth and PixelHeight, which players and probes take as the
// stream's size. On Close the writer rewrites them, in place, to the
// largest picture of the stream (see Writer.Resize).
//
// In place means without moving a byte outside the video track's entry:
// a larger value may need one more byte per field, taken from the EBML
// Void element FFmpeg's muxer reserves in every track entry. Where there
// is no such room, the header keeps its first size (errNoRoom); decoders
// read every picture's size from its bitstream anyway.

// Element IDs (with their length markers, as written).
const (
	idEBML        = 0x1A45DFA3
	idSegment     = 0x18538067
	idCluster     = 0x1F43B675
	idTracks      = 0x1654AE6B
	idTrackEntry  = 0xAE
	idVideo       = 0xE0
	idPixelWidth  = 0xB0
	idPixelHeight = 0xBA
	idVoid        = 0xEC
	idCRC32       = 0xBF
)

// headerScan bounds how much of the file's start is read to find the
// tracks: FFmpeg writes them within the first few hundred bytes (a
// SeekHead, Info and Tracks with at most a few hundred bytes of codec
// private data).
const headerScan = 64 << 10

// Errors of the header patcher (internal: Close treats them as "leave the
// header as it is").
var (
	errLayout = errors.New("mkv: unexpected header layout")
	errNoRoom = errors.New("mkv: no room in the header for the new size")
)

// element is one EBML element inside a buffer: the ID and the offsets of
// its start, of its data and of its end.
type element struct {
	id               uint32
	start, data, end int
}

// readVint reads an EBML variable-length integer at b[0:]: its value with
// (keepMarker) or without the length marker, and its length. unknown
// reports the reserved all-ones size.
func readVint(b []byte, keepMarker bool) (v uint64, n int, unknown bool, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false, false
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 8 || n > len(b) || (keepMarker && n > 4) {
		return 0, 0, false, false
	}
	v = uint64(b[0])
	if !keepMarker {
		v &= 0xFF >> n
	}
	allOnes := v == 0xFF>>n
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
		allOnes = allOnes && b[i] == 0xFF
	}
	return v, n, allOnes && !keepMarker, true
}

// readElement reads the element at b[off:], which must lie within b. An
// element of unknown size (a live Segment) extends to the end of b.
func readElement(b []byte, off int) (element, bool) {
	return readElementClamp(b, off, false)
}

// readElementClamp is readElement; with clamp an element running past the
// end of b (the Segment, of which b holds the start) ends there.
func readElementClamp(b []byte, off int, clamp bool) (element, bool) {
	id, n, _, ok := readVint(b[off:], true)
	if !ok {
		return element{}, false
	}
	size, m, unknown, ok := readVint(b[off+n:], false)
	if !ok {
		return element{}, false
	}
	e := element{id: uint32(id), start: off, data: off + n + m} //nolint:gosec // at most 4 bytes
	if unknown {
		e.end = len(b)
		return e, true
	}
	if size > uint64(len(b)-e.data) {
		if !clamp {
			return element{}, false
		}
		size = uint64(len(b) - e.data)
	}
	e.end = e.data + int(size)
	return e, true
}

// e0 returns the ID of the element at b[off:] (0 if unreadable).
func e0(b []byte, off int) uint32 {
	id, _, _, ok := readVint(b[off:], true)
	if !ok {
		return 0
	}
	return uint32(id) //nolint:gosec // at most 4 bytes
}

// children returns the elements inside b[from:to].
func children(b []byte, from, to int) ([]element, bool) {
	var out []element
	for off := from; off < to; {
		e, ok := readElement(b[:to], off)
		if !ok || e.end <= off {
			return nil, false
		}
		out = append(out, e)
		off = e.end
	}
	return out, true
}

// trackLayout locates the parts of the first track entry that a size patch
// touches.
type trackLayout struct {
	tracks  element
	crc     *element // the CRC-32 of Tracks, if any
	entry   element
	entryCh []element
	video   int // index in entryCh
	void    int // index in entryCh, -1 if none
}

// findTrack locates the first track entry of the file header in b.
func findTrack(b []byte) (trackLayout, error) {
	var l trackLayout
	top, ok := readElement(b, 0)
	if !ok || top.id != idEBML {
		return l, fmt.Errorf("%w: no EBML header", errLayout)
	}
	seg, ok := readElementClamp(b, top.end, true)
	if !ok || seg.id != idSegment {
		return l, fmt.Errorf("%w: no segment", errLayout)
	}
	found := false
	for off := seg.data; off < seg.end && !found; {
		e, ok := readElementClamp(b[:seg.end], off, e0(b, off) == idCluster)
		if !ok || e.id == idCluster {
			break
		}
		if e.id == idTracks {
			l.tracks, found = e, true
		}
		off = e.end
	}
	if !found {
		return l, fmt.Errorf("%w: no tracks before the first cluster", errLayout)
	}
	tch, ok := children(b, l.tracks.data, l.tracks.end)
	if !ok {
		return l, fmt.Errorf("%w: tracks", errLayout)
	}
	l.video, l.void = -1, -1
	for i := range tch {
		switch {
		case tch[i].id == idCRC32 && i == 0:
			l.crc = &tch[i]
		case tch[i].id == idTrackEntry && l.entryCh == nil:
			l.entry = tch[i]
			if l.entryCh, ok = children(b, tch[i].data, tch[i].end); !ok {
				return l, fmt.Errorf("%w: track entry", errLayout)
			}
		}
	}
	for i, e := range l.entryCh {
		switch e.id {
		case idVideo:
			if l.video < 0 {
				l.video = i
			}
		case idVoid:
			if l.void < 0 {
				l.void = i
			}
		}
	}
	if l.video < 0 {
		return l, fmt.Errorf("%w: no video track", errLayout)
	}
	if l.crc != nil {
		if l.crc.end-l.crc.data != 4 {
			return l, fmt.Errorf("%w: CRC-32 size", errLayout)
		}
		if binary.LittleEndian.Uint32(b[l.crc.data:]) != crc32.ChecksumIEEE(b[l.crc.end:l.tracks.end]) {
			return l, fmt.Errorf("%w: tracks CRC-32 mismatch", errLayout)
		}
	}
	return l, nil
}

// videoSize returns the PixelWidth and PixelHeight of the first track
// entry of the header in b.
func videoSize(b []byte) (width, height int, err error) {
	l, err := findTrack(b)
	if err != nil {
		return 0, 0, err
	}
	v := l.entryCh[l.video]
	vch, ok := children(b, v.data, v.end)
	if !ok {
		return 0, 0, fmt.Errorf("%w: video", errLayout)
	}
	for _, e := range vch {
		if e.end-e.data > 8 {
			continue
		}
		var n uint64
		for _, c := range b[e.data:e.end] {
			n = n<<8 | uint64(c)
		}
		switch e.id {
		case idPixelWidth:
			width = int(min(n, 1<<31)) //nolint:gosec // bounded above
		case idPixelHeight:
			height = int(min(n, 1<<31)) //nolint:gosec // bounded above
		}
	}
	return width, height, nil
}

// appendID appends an element ID (as written, markers included).
func appendID(out []byte, id uint32) []byte {
	switch {
	case id >= 1<<24:
		return append(out, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	case id >= 1<<16:
		return append(out, byte(id>>16), byte(id>>8), byte(id))
	case id >= 1<<8:
		return append(out, byte(id>>8), byte(id))
	}
	return append(out, byte(id))
}

// appendSize appends an element data size as a VINT of n bytes (1..8);
// the caller ensures it fits (size < 2^(7n) - 1).
func appendSize(out []byte, size uint64, n int) []byte {
	v := size | 1<<(7*n)
	for i := n - 1; i >= 0; i-- {
		out = append(out, byte(v>>(8*i)))
	}
	return out
}

// sizeLen returns the VINT length of the shortest encoding of size.
func sizeLen(size uint64) int {
	n := 1
	for size >= 1<<(7*n)-1 {
		n++
	}
	return n
}

// appendUint appends an unsigned integer element of at least pad data
// bytes.
func appendUint(out []byte, id uint32, v uint64, pad int) []byte {
	n := 1
	for n < 8 && v >= 1<<(8*n) {
		n++
	}
	n = max(n, pad)
	out = appendID(out, id)
	out = appendSize(out, uint64(n), 1)
	for i := n - 1; i >= 0; i-- {
		out = append(out, byte(v>>(8*i)))
	}
	return out
}

// encodeVideo re-encodes the video element e of b with the given size; pad
// is the least data length of the PixelWidth field.
func encodeVideo(b []byte, e element, width, height, pad int) ([]byte, error) {
	vch, ok := children(b, e.data, e.end)
	if !ok {
		return nil, fmt.Errorf("%w: video", errLayout)
	}
	var data []byte
	nw, nh := 0, 0
	for _, c := range vch {
		switch c.id {
		case idPixelWidth:
			data = appendUint(data, c.id, uint64(width), pad) //nolint:gosec // positive
			nw++
		case idPixelHeight:
			data = appendUint(data, c.id, uint64(height), 1) //nolint:gosec // positive
			nh++
		default:
			data = append(data, b[c.start:c.end]...)
		}
	}
	if nw != 1 || nh != 1 {
		return nil, fmt.Errorf("%w: video has %d PixelWidth and %d PixelHeight", errLayout, nw, nh)
	}
	out := appendID(nil, idVideo)
	n := max(e.data-e.start-1, sizeLen(uint64(len(data))))
	out = appendSize(out, uint64(len(data)), n)
	return append(out, data...), nil
}

// voidOf returns a Void element of exactly n bytes (n is 0 or at least 2).
func voidOf(n int) []byte {
	switch {
	case n == 0:
		return nil
	case n-2 < 127:
		out := appendSize([]byte{idVoid}, uint64(n-2), 1)
		return append(out, make([]byte, n-2)...)
	default:
		out := appendSize([]byte{idVoid}, uint64(n-9), 8)
		return append(out, make([]byte, n-9)...)
	}
}

// patchVideoSize returns the header in b with the first track's
// PixelWidth and PixelHeight set to width x height, the same length as b,
// the bytes outside the track entry untouched but for the tracks' CRC-32.
func patchVideoSize(b []byte, width, height int) ([]byte, error) {
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("%w: size %dx%d", errLayout, width, height)
	}
	l, err := findTrack(b)
	if err != nil {
		return nil, err
	}
	video := l.entryCh[l.video]
	// The span rewritten: from the video element through the Void (or
	// the video element alone).
	first, last := l.video, l.video
	if l.void >= 0 {
		first, last = min(l.video, l.void), max(l.video, l.void)
	}
	from, to := l.entryCh[first].start, l.entryCh[last].end
	var span []byte
	for pad := 1; pad <= 3; pad++ {
		nv, err := encodeVideo(b, video, width, height, pad)
		if err != nil {
			return nil, err
		}
		room := to - from - (video.end - video.start) // bytes of the span outside the video element
		if l.void >= 0 {
			room -= l.entryCh[l.void].end - l.entryCh[l.void].start
		}
		rest := to - from - room - len(nv) // what is left for the Void
		if rest < 0 || (l.void < 0 && rest != 0) {
			return nil, errNoRoom
		}
		if rest == 1 {
			continue // a Void takes at least 2 bytes: widen a field
		}
		span = span[:0]
		for i := first; i <= last; i++ {
			switch i {
			case l.video:
				span = append(span, nv...)
			case l.void:
				span = append(span, voidOf(rest)...)
			default:
				span = append(span, b[l.entryCh[i].start:l.entryCh[i].end]...)
			}
		}
		break
	}
	if len(span) != to-from {
		return nil, errNoRoom
	}
	out := append([]byte(nil), b...)
	copy(out[from:], span)
	putCRC(out, l)
	return out, nil
}

// putCRC recomputes the CRC-32 of the tracks of b (laid out as l), if any.
func putCRC(b []byte, l trackLayout) {
	if l.crc != nil {
		binary.LittleEndian.PutUint32(b[l.crc.data:], crc32.ChecksumIEEE(b[l.crc.end:l.tracks.end]))
	}
}

// patchFile rewrites the size in the header of the file at path (see
// patchVideoSize); errLayout and errNoRoom leave the file untouched.
func patchFile(path string, width, height int) (err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	buf := make([]byte, headerScan)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	buf = buf[:n]
	out, err := patchVideoSize(buf, width, height)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(out, 0)
	return err
}
