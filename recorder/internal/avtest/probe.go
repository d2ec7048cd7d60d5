package avtest

import (
	"errors"
	"fmt"
	"time"

	"github.com/asticode/go-astiav"
)

// Size is a picture size.
type Size struct{ W, H int }

// Report is what Probe found in a file's first stream.
type Report struct {
	// Codec is FFmpeg's codec name, e.g. "vp8", "h264", "opus".
	Codec string
	// PacketPTS are the demuxed packets' timestamps, in file order.
	PacketPTS []time.Duration
	// Keyframes counts packets flagged as keyframes.
	Keyframes int
	// Frames counts decoded frames (pictures, or audio frames).
	Frames int
	// FramePTS are the decoded video frames' timestamps, in output
	// order (frames without one are left out).
	FramePTS []time.Duration
	// Samples counts decoded audio samples per channel.
	Samples int
	// Sizes lists the decoded picture sizes, one entry per change.
	Sizes []Size
	// DecodeErrors counts packets the decoder rejected.
	DecodeErrors int
	// Duration is the container's duration, 0 if it has none (a file cut
	// by a crash).
	Duration time.Duration
}

// Last returns the last packet timestamp (0 if none).
func (r *Report) Last() time.Duration {
	if len(r.PacketPTS) == 0 {
		return 0
	}
	return r.PacketPTS[len(r.PacketPTS)-1]
}

// Demux returns the packet timestamps and codec name of the first stream
// of the file at path, without decoding.
func Demux(path string) ([]time.Duration, string, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return nil, "", errors.New("avtest: alloc format context")
	}
	defer fc.Free()
	if err := fc.OpenInput(path, nil, nil); err != nil {
		return nil, "", fmt.Errorf("avtest: open %s: %w", path, err)
	}
	defer fc.CloseInput()
	if len(fc.Streams()) == 0 {
		return nil, "", fmt.Errorf("avtest: %s has no stream", path)
	}
	st := fc.Streams()[0]
	tb := st.TimeBase()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	var pts []time.Duration
	for {
		if err := fc.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				return pts, st.CodecParameters().CodecID().Name(), nil
			}
			return pts, "", fmt.Errorf("avtest: %s: read: %w", path, err)
		}
		if pkt.StreamIndex() == st.Index() {
			pts = append(pts, ticks(pkt.Pts(), tb))
		}
		pkt.Unref()
	}
}

// ticks converts a timestamp in time base tb to a Duration.
func ticks(ts int64, tb astiav.Rational) time.Duration {
	return time.Duration(ts) * time.Second * time.Duration(tb.Num()) / time.Duration(tb.Den())
}

// Probe demuxes and decodes every packet of the first stream of the file
// at path. A file cut short (after a crash) is read up to where it breaks.
func Probe(path string) (*Report, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return nil, errors.New("avtest: alloc format context")
	}
	defer fc.Free()
	if err := fc.OpenInput(path, nil, nil); err != nil {
		return nil, fmt.Errorf("avtest: open %s: %w", path, err)
	}
	defer fc.CloseInput()
	if err := fc.FindStreamInfo(nil); err != nil {
		return nil, fmt.Errorf("avtest: stream info %s: %w", path, err)
	}
	if len(fc.Streams()) == 0 {
		return nil, fmt.Errorf("avtest: %s has no stream", path)
	}
	st := fc.Streams()[0]
	dec := astiav.FindDecoder(st.CodecParameters().CodecID())
	if dec == nil {
		return nil, fmt.Errorf("avtest: %s: no decoder for %s", path, st.CodecParameters().CodecID())
	}
	cc := astiav.AllocCodecContext(dec)
	defer cc.Free()
	if err := st.CodecParameters().ToCodecContext(cc); err != nil {
		return nil, fmt.Errorf("avtest: %s: %w", path, err)
	}
	if err := cc.Open(dec, nil); err != nil {
		return nil, fmt.Errorf("avtest: %s: open decoder: %w", path, err)
	}
	r := &Report{Codec: st.CodecParameters().CodecID().Name()}
	if d := fc.Duration(); d > 0 {
		r.Duration = time.Duration(d) * time.Second / time.Duration(astiav.TimeBase)
	}
	tb := st.TimeBase()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	frame := astiav.AllocFrame()
	defer frame.Free()
	drain := func() error {
		for {
			if err := cc.ReceiveFrame(frame); err != nil {
				if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
					return nil
				}
				return err
			}
			r.Frames++
			r.Samples += frame.NbSamples()
			if st.CodecParameters().MediaType() == astiav.MediaTypeVideo {
				s := Size{frame.Width(), frame.Height()}
				if len(r.Sizes) == 0 || r.Sizes[len(r.Sizes)-1] != s {
					r.Sizes = append(r.Sizes, s)
				}
				if pts := frame.Pts(); pts != astiav.NoPtsValue {
					r.FramePTS = append(r.FramePTS, ticks(pts, tb))
				}
			}
			frame.Unref()
		}
	}
	for {
		if err := fc.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			return r, fmt.Errorf("avtest: %s: read: %w", path, err)
		}
		if pkt.StreamIndex() == st.Index() {
			r.PacketPTS = append(r.PacketPTS, ticks(pkt.Pts(), tb))
			if pkt.Flags().Has(astiav.PacketFlagKey) {
				r.Keyframes++
			}
			if err := cc.SendPacket(pkt); err != nil {
				r.DecodeErrors++
			} else if err := drain(); err != nil {
				r.DecodeErrors++
			}
		}
		pkt.Unref()
	}
	if err := cc.SendPacket(nil); err == nil {
		if err := drain(); err != nil {
			r.DecodeErrors++
		}
	}
	return r, nil
}

// HeaderSize returns the picture size the container header of the file at
// path gives for its first stream, as FFmpeg's demuxer reads it before
// decoding anything.
func HeaderSize(path string) (Size, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return Size{}, errors.New("avtest: alloc format context")
	}
	defer fc.Free()
	if err := fc.OpenInput(path, nil, nil); err != nil {
		return Size{}, fmt.Errorf("avtest: open %s: %w", path, err)
	}
	defer fc.CloseInput()
	if len(fc.Streams()) == 0 {
		return Size{}, fmt.Errorf("avtest: %s has no stream", path)
	}
	cp := fc.Streams()[0].CodecParameters()
	return Size{W: cp.Width(), H: cp.Height()}, nil
}
