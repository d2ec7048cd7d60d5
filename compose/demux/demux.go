// Package demux opens a media file with go-astiav and decodes its main video
// or audio stream, the one piece of FFmpeg plumbing that compose,
// internal/mediacheck and internal/testmedia share.
//
// A [Decoder] reads packets of one stream, decodes them and hands out frames
// in decode order with their timestamps in the stream's time base. Damaged
// packets (a truncated file, a bot that was killed mid-write) are skipped and
// counted rather than failing the whole read: see [Decoder.Skipped].
package demux

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/internal/avlog"
)

// ErrNoStream is returned by [Open] when the file has no stream of the
// requested media type.
var ErrNoStream = errors.New("demux: no such stream")

// ErrNoDecoder is returned by [Open] when FFmpeg has no decoder for the
// stream's codec.
var ErrNoDecoder = errors.New("demux: no decoder")

// Kind is the media type of the stream a [Decoder] reads.
type Kind int

// Stream kinds.
const (
	Video Kind = iota + 1
	Audio
)

func (k Kind) String() string {
	switch k {
	case Video:
		return "video"
	case Audio:
		return "audio"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func (k Kind) mediaType() astiav.MediaType {
	if k == Audio {
		return astiav.MediaTypeAudio
	}
	return astiav.MediaTypeVideo
}

// Options tune [Open].
type Options struct {
	// Threads (optional) is the decoder's thread count; defaults to 0, which
	// lets FFmpeg choose.
	Threads int
	// Logger (optional) receives warnings about skipped packets; defaults to
	// a discard logger.
	Logger *slog.Logger
	// Reader (optional) is read instead of opening the file: path then only
	// names it in messages. The input is read once from the start, never
	// seeked, so a Reader that blocks at the end of a file still being
	// written (until more bytes come or the file is complete) lets the
	// decoder follow it live.
	Reader io.Reader
}

// readerBufferSize is the I/O buffer of a [Options.Reader] input.
const readerBufferSize = 32 << 10

// Decoder decodes the best stream of one kind of one file.
type Decoder struct {
	path    string
	kind    Kind
	log     *slog.Logger
	fc      *astiav.FormatContext
	pb      *astiav.IOContext // custom I/O over Options.Reader
	opened  bool
	stream  *astiav.Stream
	cc      *astiav.CodecContext
	pkt     *astiav.Packet
	drained bool // EOF packet sent to the decoder
	skipped int
	closed  bool
	logs    avlog.Set // the contexts' FFmpeg lines go to Options.Logger
}

// Open opens path and prepares a decoder for its best stream of kind k. It
// wraps [ErrNoStream] or [ErrNoDecoder], or FFmpeg's error naming the file.
func Open(path string, k Kind, opts Options) (_ *Decoder, err error) {
	d := &Decoder{path: path, kind: k, log: opts.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.fc = astiav.AllocFormatContext(); d.fc == nil {
		return nil, fmt.Errorf("demux: %s: allocating format context failed", path)
	}
	d.logs.Add(d.fc, opts.Logger)
	url := path
	if r := opts.Reader; r != nil {
		if d.pb, err = astiav.AllocIOContext(readerBufferSize, false, r.Read, nil, nil); err != nil {
			return nil, fmt.Errorf("demux: %s: %w", path, err)
		}
		d.fc.SetPb(d.pb)
		url = ""
	}
	if err = d.fc.OpenInput(url, nil, nil); err != nil {
		return nil, fmt.Errorf("demux: opening %s: %w", path, err)
	}
	d.opened = true
	// A file followed live is not probed: probing reads packets ahead
	// (about 20 video frames, 0.7 s) and would hold its first pictures
	// back while they are being recorded. The recorder's Matroska header
	// carries every parameter the decoder needs.
	if opts.Reader == nil {
		if err = d.fc.FindStreamInfo(nil); err != nil {
			return nil, fmt.Errorf("demux: reading stream info of %s: %w", path, err)
		}
	}
	s, codec, err := d.fc.FindBestStream(k.mediaType(), -1, -1)
	if err != nil || s == nil {
		return nil, fmt.Errorf("%w: %s stream in %s", ErrNoStream, k, path)
	}
	if codec == nil {
		return nil, fmt.Errorf("%w: %s stream in %s (%s)", ErrNoDecoder, k, path, s.CodecParameters().CodecID())
	}
	d.stream = s
	for _, o := range d.fc.Streams() {
		if o.Index() != s.Index() {
			o.SetDiscard(astiav.DiscardAll)
		}
	}
	if d.cc = astiav.AllocCodecContext(codec); d.cc == nil {
		return nil, fmt.Errorf("demux: %s: allocating codec context failed", path)
	}
	d.logs.Add(d.cc, opts.Logger)
	if err = s.CodecParameters().ToCodecContext(d.cc); err != nil {
		return nil, fmt.Errorf("demux: %s: codec parameters: %w", path, err)
	}
	d.cc.SetTimeBase(s.TimeBase())
	d.cc.SetThreadCount(opts.Threads)
	if err = d.cc.Open(codec, nil); err != nil {
		return nil, fmt.Errorf("demux: opening %s decoder for %s: %w", codec.Name(), path, err)
	}
	d.pkt = astiav.AllocPacket()
	return d, nil
}

// Path is the file being decoded.
func (d *Decoder) Path() string { return d.path }

// TimeBase is the time base of the frames' timestamps.
func (d *Decoder) TimeBase() astiav.Rational { return d.stream.TimeBase() }

// CodecContext is the opened decoder, for sample rates, pixel formats and
// sizes of the stream.
func (d *Decoder) CodecContext() *astiav.CodecContext { return d.cc }

// Stream is the stream being decoded.
func (d *Decoder) Stream() *astiav.Stream { return d.stream }

// Skipped counts the packets that failed to read or decode and were
// skipped.
func (d *Decoder) Skipped() int { return d.skipped }

// Duration of the container as FFmpeg reports it, 0 when unknown.
func (d *Decoder) Duration() time.Duration {
	v := d.fc.Duration()
	if v <= 0 {
		return 0
	}
	return time.Duration(v) * time.Microsecond
}

// Time converts a timestamp of this stream to a duration.
func (d *Decoder) Time(ts int64) time.Duration {
	return TSToDuration(ts, d.stream.TimeBase())
}

// TSToDuration converts a timestamp in time base tb to a duration.
func TSToDuration(ts int64, tb astiav.Rational) time.Duration {
	return time.Duration(astiav.RescaleQ(ts, tb, astiav.NewRational(1, int(time.Second/time.Nanosecond))))
}

// Next decodes the next frame into f, which the caller unreferences when
// done with it. It returns io.EOF after the last frame. Read or decode
// errors on damaged data are logged, counted and skipped: the file is used
// as far as it decodes.
func (d *Decoder) Next(f *astiav.Frame) error {
	for {
		err := d.cc.ReceiveFrame(f)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, astiav.ErrEof):
			return io.EOF
		case errors.Is(err, astiav.ErrEagain):
		default:
			d.skip("decoding", err)
			continue
		}
		if d.drained {
			return io.EOF
		}
		if err := d.feed(); err != nil {
			return err
		}
	}
}

// feed sends the next packet of the stream (or the end-of-stream marker) to
// the decoder.
func (d *Decoder) feed() error {
	for {
		err := d.fc.ReadFrame(d.pkt)
		if err != nil {
			if !errors.Is(err, astiav.ErrEof) {
				d.skip("reading", err)
			}
			d.drained = true
			if err := d.cc.SendPacket(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
				return fmt.Errorf("demux: %s: flushing decoder: %w", d.path, err)
			}
			return nil
		}
		sent := func() bool {
			defer d.pkt.Unref()
			if d.pkt.StreamIndex() != d.stream.Index() {
				return false
			}
			if err := d.cc.SendPacket(d.pkt); err != nil {
				d.skip("decoding", err)
				return false
			}
			return true
		}()
		if sent {
			return nil
		}
	}
}

func (d *Decoder) skip(what string, err error) {
	d.skipped++
	if d.skipped <= 3 {
		d.log.Warn("damaged media skipped", "file", d.path, "stream", d.kind.String(), "while", what, "error", err)
	}
}

// Close frees the decoder. Calling it more than once is a no-op.
func (d *Decoder) Close() {
	if d.closed {
		return
	}
	d.closed = true
	if d.pkt != nil {
		d.pkt.Free()
	}
	if d.cc != nil {
		d.cc.Free()
	}
	if d.fc != nil {
		if d.opened {
			d.fc.CloseInput()
		}
		d.fc.Free()
	}
	if d.pb != nil { // custom I/O: the format context does not own it
		d.pb.Free()
	}
	d.logs.Release()
}
