// Package mkv writes one encoded stream into a Matroska file through
// FFmpeg's muxer, as received (no transcoding), in a way that survives a
// crash: clusters are closed at least every ClusterTime and written
// straight to the file, so a file cut at any byte plays up to the last
// complete cluster.
package mkv

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/asticode/go-astiav"
)

// ClusterTime is the longest span of media held in the muxer's memory
// before it reaches the file; a crash loses at most about this much (plus
// what Flush was not called for).
const ClusterTime = time.Second

// Codec is a codec the writer stores.
type Codec int

// Codecs.
const (
	VP8 Codec = iota + 1
	VP9
	H264
	AV1
	Opus
)

// ErrCodec is returned by Create for a codec it cannot store.
var ErrCodec = errors.New("mkv: unsupported codec")

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("mkv: writer closed")

// Params describe the stream.
type Params struct {
	Codec Codec
	// Width and Height are the picture size of a video stream, 0 if unknown.
	Width, Height int
	// Channels is the channel count of an audio stream (1 or 2).
	Channels int
	// SampleRate is the sample rate of an audio stream.
	SampleRate int
	// Extradata is the codec's global header: Annex-B SPS and PPS for
	// H.264 (the muxer turns it into avcC and the Annex-B packets into
	// length-prefixed ones), the sequence header OBU for AV1, OpusHead for
	// Opus; nil for VP8 and VP9.
	Extradata []byte
	// Reorder is the most packets a video packet may be presented after
	// a later one in decode order (H.264 B-frames: max_num_reorder_frames;
	// at most MaxReorder); 0 when presentation order is decode order.
	Reorder int
}

// MaxReorder bounds Params.Reorder (H.264's largest picture buffer).
const MaxReorder = 16

// ErrParams is returned by Create for inconsistent Params.
var ErrParams = errors.New("mkv: invalid params")

// Writer writes packets of one stream into a Matroska file. It is not safe
// for concurrent use.
type Writer struct {
	path string
	fc   *astiav.FormatContext
	pb   *astiav.IOContext
	st   *astiav.Stream
	pkt  *astiav.Packet
	tb   astiav.Rational
	// ptsBuf holds the latest Reorder+1 presentation times in increasing
	// order (nil without reordering): the smallest is the next decode time.
	ptsBuf []int64
	// lastDTS is the decode time last returned by dts (haveDTS: one was).
	lastDTS int64
	haveDTS bool
	// opened says Create created the file (to remove it if Create fails).
	opened bool
	// width and height are the header's picture size; maxW and maxH the
	// largest picture seen (see Resize).
	width, height, maxW, maxH int
}

// codecID maps a Codec to FFmpeg's codec id and media type.
func codecID(c Codec) (astiav.CodecID, astiav.MediaType, bool) {
	switch c {
	case VP8:
		return astiav.CodecIDVp8, astiav.MediaTypeVideo, true
	case VP9:
		return astiav.CodecIDVp9, astiav.MediaTypeVideo, true
	case H264:
		return astiav.CodecIDH264, astiav.MediaTypeVideo, true
	case AV1:
		return astiav.CodecIDAv1, astiav.MediaTypeVideo, true
	case Opus:
		return astiav.CodecIDOpus, astiav.MediaTypeAudio, true
	}
	return 0, 0, false
}

// Create creates (or truncates) the file at path and writes the Matroska
// header for a stream described by p.
func Create(path string, p Params) (w *Writer, err error) {
	id, mt, ok := codecID(p.Codec)
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrCodec, p.Codec)
	}
	if p.Reorder < 0 || p.Reorder > MaxReorder || (p.Reorder > 0 && mt != astiav.MediaTypeVideo) {
		return nil, fmt.Errorf("%w: reorder %d", ErrParams, p.Reorder)
	}
	fc, err := astiav.AllocOutputFormatContext(nil, "matroska", path)
	if err != nil {
		return nil, fmt.Errorf("mkv: %s: alloc muxer: %w", path, err)
	}
	nw := &Writer{path: path, fc: fc, width: p.Width, height: p.Height, maxW: p.Width, maxH: p.Height}
	w = nw
	defer func() {
		if err != nil {
			nw.free()
			if nw.opened {
				_ = os.Remove(path)
			}
		}
	}()
	w.st = fc.NewStream(nil)
	if w.st == nil {
		return nil, fmt.Errorf("mkv: %s: cannot add stream", path)
	}
	cp := w.st.CodecParameters()
	cp.SetMediaType(mt)
	cp.SetCodecID(id)
	if mt == astiav.MediaTypeVideo {
		cp.SetWidth(p.Width)
		cp.SetHeight(p.Height)
	} else {
		cp.SetSampleRate(p.SampleRate)
		layout := astiav.ChannelLayoutStereo
		if p.Channels == 1 {
			layout = astiav.ChannelLayoutMono
		}
		cp.SetChannelLayout(layout)
	}
	if len(p.Extradata) > 0 {
		if err := cp.SetExtraData(p.Extradata); err != nil {
			return nil, fmt.Errorf("mkv: %s: extradata: %w", path, err)
		}
	}
	w.st.SetTimeBase(astiav.NewRational(1, 1000))
	w.pb, err = astiav.OpenIOContext(path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("mkv: %s: open: %w", path, err)
	}
	w.opened = true
	fc.SetPb(w.pb)
	// Write every packet through to the file as soon as the muxer
	// releases it (with the cluster it belongs to).
	fc.SetFlags(fc.Flags().Add(astiav.FormatContextFlagFlushPackets))
	opts := astiav.NewDictionary()
	defer opts.Free()
	for k, v := range map[string]string{
		"cluster_time_limit": strconv.FormatInt(ClusterTime.Milliseconds(), 10),
		// Audio-only files hold 50 packets a second; a small size
		// limit keeps clusters (and what a crash can lose) short too.
		"cluster_size_limit": strconv.Itoa(clusterSizeLimit),
	} {
		if err := opts.Set(k, v, 0); err != nil {
			return nil, fmt.Errorf("mkv: %s: option %s: %w", path, k, err)
		}
	}
	if err := fc.WriteHeader(opts); err != nil {
		return nil, fmt.Errorf("mkv: %s: write header: %w", path, err)
	}
	// The muxer sets its own time base (1/1000 for Matroska).
	w.tb = w.st.TimeBase()
	w.pb.Flush()
	w.pkt = astiav.AllocPacket()
	if p.Reorder > 0 {
		w.ptsBuf = make([]int64, p.Reorder+1)
		for i := range w.ptsBuf {
			w.ptsBuf[i] = astiav.NoPtsValue
		}
	}
	return w, nil
}

// dts returns the decode time of the next packet, presented at pts and
// lasting dur (ticks): without reordering pts itself; with it, the
// smallest of the latest Reorder+1 presentation times, which is never
// after pts and never goes back (FFmpeg's muxers derive it so). The first
// packets' decode times lie before the first presentation time by whole
// frames.
func (w *Writer) dts(pts, dur int64) int64 {
	if w.ptsBuf == nil {
		return pts
	}
	n := len(w.ptsBuf) - 1
	if dur <= 0 {
		dur = 1
	}
	w.ptsBuf[0] = pts
	for i := 1; i <= n && w.ptsBuf[i] == astiav.NoPtsValue; i++ {
		w.ptsBuf[i] = pts + int64(i-n-1)*dur
	}
	for i := 0; i < n && w.ptsBuf[i] > w.ptsBuf[i+1]; i++ {
		w.ptsBuf[i], w.ptsBuf[i+1] = w.ptsBuf[i+1], w.ptsBuf[i]
	}
	// The window's minimum goes back when presentation times step back
	// by more than the window (a revision of the sender's clock offset
	// moves every later frame): decode times must not, or the muxer
	// refuses the packet and the track's file fails.
	d := w.ptsBuf[0]
	if w.haveDTS && d < w.lastDTS {
		d = w.lastDTS
	}
	w.lastDTS, w.haveDTS = d, true
	return d
}

// clusterSizeLimit bounds a cluster's bytes (FFmpeg's default for
// non-seekable output).
const clusterSizeLimit = 32 << 10

// WritePacket writes one packet with presentation time pts (from the
// file's time zero; rounded to the muxer's millisecond time base) and
// duration dur (0 if unknown). Packets come in decode order, which is pts
// order unless Params.Reorder allows pts to go back.
func (w *Writer) WritePacket(data []byte, pts, dur time.Duration, key bool) error {
	if w.fc == nil {
		return fmt.Errorf("mkv: %s: %w", w.path, ErrClosed)
	}
	defer w.pkt.Unref()
	if err := w.pkt.FromData(data); err != nil {
		return fmt.Errorf("mkv: %s: packet: %w", w.path, err)
	}
	ts := w.ticks(pts)
	var d int64
	if dur > 0 {
		d = w.ticks(dur)
		w.pkt.SetDuration(d)
	}
	dts := w.dts(ts, d)
	// A picture is never presented before it is decoded: after a step
	// back (see dts) it is shown at its decode time.
	w.pkt.SetPts(max(ts, dts))
	w.pkt.SetDts(dts)
	if key {
		w.pkt.SetFlags(w.pkt.Flags().Add(astiav.PacketFlagKey))
	}
	w.pkt.SetStreamIndex(w.st.Index())
	if err := w.fc.WriteFrame(w.pkt); err != nil {
		return fmt.Errorf("mkv: %s: write packet at %v: %w", w.path, pts, osError(err))
	}
	return nil
}

// osError makes an FFmpeg error that carries an OS error number (FFmpeg's
// AVERROR(e) is -e) match that number too, so that callers can test a full
// disk with errors.Is(err, syscall.ENOSPC).
func osError(err error) error {
	var av astiav.Error
	if !errors.As(err, &av) || av >= 0 || av < -maxErrno {
		return err
	}
	return errnoError{err: err, errno: syscall.Errno(-av)}
}

// maxErrno bounds the OS error numbers (Linux's MAX_ERRNO); FFmpeg's own
// error codes are far larger tags.
const maxErrno = 4095

// errnoError is an FFmpeg error matching its OS error number as well.
type errnoError struct {
	err   error
	errno syscall.Errno
}

func (e errnoError) Error() string   { return e.err.Error() }
func (e errnoError) Unwrap() []error { return []error{e.err, e.errno} }

// ticks converts d to the stream time base, rounding to nearest.
func (w *Writer) ticks(d time.Duration) int64 {
	num, den := int64(w.tb.Num()), int64(w.tb.Den())
	unit := int64(time.Second) * num // nanoseconds per den ticks
	if d >= 0 {
		return (int64(d)*den + unit/2) / unit
	}
	return (int64(d)*den - unit/2) / unit
}

// Flush closes the current cluster and writes it to the file, so that a
// crash after Flush loses nothing written before it.
func (w *Writer) Flush() error {
	if w.fc == nil {
		return fmt.Errorf("mkv: %s: %w", w.path, ErrClosed)
	}
	if err := w.fc.WriteFrame(nil); err != nil {
		return fmt.Errorf("mkv: %s: flush: %w", w.path, osError(err))
	}
	w.pb.Flush()
	return nil
}

// Resize tells a video writer that the stream's pictures are now width x
// height. The header, written with Params' size, gets the largest picture
// (by area; the first of equal ones) when Close rewrites it: a VP9 stream
// with spatial layers starts with a small keyframe and grows on inter
// frames, and players size their window from the header. Every packet's
// own size stays in its bitstream.
func (w *Writer) Resize(width, height int) {
	if width > 0 && height > 0 && width*height > w.maxW*w.maxH {
		w.maxW, w.maxH = width, height
	}
}

// Close writes the trailer (cues, duration), rewrites the header's picture
// size if a larger picture came (see Resize) and closes the file. Calling
// it again returns nil.
func (w *Writer) Close() error {
	if w.fc == nil {
		return nil
	}
	err := w.fc.WriteTrailer()
	if err != nil {
		err = fmt.Errorf("mkv: %s: write trailer: %w", w.path, osError(err))
	}
	if cerr := w.pb.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("mkv: %s: close: %w", w.path, osError(cerr)))
	}
	w.pb = nil
	w.free()
	if err == nil && (w.maxW != w.width || w.maxH != w.height) {
		perr := patchFile(w.path, w.maxW, w.maxH)
		switch {
		case errors.Is(perr, errLayout) || errors.Is(perr, errNoRoom):
			// The header keeps the first size (see header.go).
		case perr != nil:
			err = fmt.Errorf("mkv: %s: header size: %w", w.path, osError(perr))
		}
	}
	return err
}

// Abort closes the file without the trailer, after a write failed (a full
// disk): what reached the file stays there, playable up to its last
// complete cluster like a file cut by a crash, and nothing more is
// written. Calling it, or Close, again returns nil.
func (w *Writer) Abort() {
	w.free()
}

// free releases the C objects.
func (w *Writer) free() {
	if w.pkt != nil {
		w.pkt.Free()
		w.pkt = nil
	}
	if w.pb != nil {
		_ = w.pb.Close()
		w.pb = nil
	}
	if w.fc != nil {
		w.fc.Free()
		w.fc = nil
	}
}
