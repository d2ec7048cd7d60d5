package compose

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/internal/testhook"
)

// rtmpSendBuffer is the socket send buffer of an RTMP push: about 2 s of
// a 1 Mbit/s composed call; it allows 10 Mbit/s at a 200 ms round trip.
const rtmpSendBuffer = 256 << 10

// rtmpSink pushes the stream as FLV over FFmpeg's RTMP client. Owned by
// its output's goroutine.
type rtmpSink struct {
	url, name string // name is url redacted: the only one printed
	tls       *tls.Config
	relay     *tlsRelay // rtmps: the TLS leg, per connection
	params    *encoderParams
	fc        *astiav.FormatContext
	pb        *astiav.IOContext
	vst, ast  *astiav.Stream
}

func (*rtmpSink) retries() bool { return true }

func (r *rtmpSink) open(ii *astiav.IOInterrupter) (err error) {
	defer func() {
		if err != nil {
			_ = r.close(false)
		}
	}()
	if r.fc, err = astiav.AllocOutputFormatContext(nil, "flv", ""); err != nil {
		return fmt.Errorf("compose: RTMP target %s: allocating flv muxer: %w", r.name, err)
	}
	if r.vst, err = addStream(r.fc, r.params.video, r.params.videoTB); err != nil {
		return fmt.Errorf("compose: RTMP target %s: %w", r.name, err)
	}
	if r.ast, err = addStream(r.fc, r.params.audio, r.params.audioTB); err != nil {
		return fmt.Errorf("compose: RTMP target %s: %w", r.name, err)
	}
	d := astiav.NewDictionary()
	defer d.Free()
	// A connection attempt or a write that makes no progress for
	// streamStall fails (the watchdog interrupts writes as well).
	_ = d.Set("rw_timeout", strconv.FormatInt(streamStall.Microseconds(), 10), astiav.NewDictionaryFlags())
	_ = d.Set("tcp_nodelay", "1", astiav.NewDictionaryFlags())
	// A bounded socket buffer: what waits is in the output's queue, where
	// it is dropped oldest first, not in the kernel's (which autotunes to
	// megabytes on fast links, seconds of hidden latency when the server
	// slows down).
	sndbuf := int64(rtmpSendBuffer)
	if v := testhook.RTMPSendBuffer.Load(); v > 0 {
		sndbuf = v
	}
	_ = d.Set("send_buffer_size", strconv.FormatInt(sndbuf, 10), astiav.NewDictionaryFlags())
	target := r.url
	if u, perr := url.Parse(r.url); perr == nil && strings.EqualFold(u.Scheme, "rtmps") {
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), defaultRTMPSPort)
		}
		if r.relay, err = startTLSRelay(host, r.tls); err != nil {
			return fmt.Errorf("compose: RTMP target %s: %w", r.name, err)
		}
		var tcURL string
		target, tcURL = rtmpsLocal(u, r.relay.addr())
		_ = d.Set("rtmp_tcurl", tcURL, astiav.NewDictionaryFlags())
	}
	if r.pb, err = astiav.OpenIOContext(target, astiav.NewIOContextFlags(astiav.IOContextFlagWrite), ii, d); err != nil {
		if r.relay != nil {
			// The TLS leg's own error says more than FFmpeg's EOF.
			select {
			case <-r.relay.done:
				if r.relay.err != nil {
					return fmt.Errorf("compose: RTMP target %s: connecting: %w", r.name, r.relay.err)
				}
			case <-time.After(100 * time.Millisecond):
			}
		}
		return fmt.Errorf("compose: RTMP target %s: connecting: %w", r.name, err)
	}
	r.fc.SetPb(r.pb)
	o := astiav.NewDictionary()
	defer o.Free()
	// A live stream has no duration or size to patch in at the end.
	_ = o.Set("flvflags", "no_duration_filesize", astiav.NewDictionaryFlags())
	if err := r.fc.WriteHeader(o); err != nil {
		return fmt.Errorf("compose: RTMP target %s: writing the FLV header: %w", r.name, err)
	}
	return nil
}

// addStream adds a stream copying par, in time base tb (the muxer may
// change it in WriteHeader).
func addStream(fc *astiav.FormatContext, par *astiav.CodecParameters, tb astiav.Rational) (*astiav.Stream, error) {
	st := fc.NewStream(nil)
	if st == nil {
		return nil, errors.New("creating a stream failed")
	}
	if err := par.Copy(st.CodecParameters()); err != nil {
		return nil, fmt.Errorf("stream parameters: %w", err)
	}
	st.CodecParameters().SetCodecTag(0)
	st.SetTimeBase(tb)
	return st, nil
}

// muxPacket writes p (encoder time base) to fc's video or audio stream;
// the muxer takes p's reference (the packet is left blank).
func muxPacket(fc *astiav.FormatContext, p streamPacket, params *encoderParams, vst, ast *astiav.Stream) error {
	st, tb := ast, params.audioTB
	if p.video {
		st, tb = vst, params.videoTB
	}
	p.pkt.RescaleTs(tb, st.TimeBase())
	p.pkt.SetStreamIndex(st.Index())
	p.pkt.SetPos(-1)
	return fc.WriteInterleavedFrame(p.pkt)
}

func (r *rtmpSink) write(p streamPacket) error {
	if err := muxPacket(r.fc, p, r.params, r.vst, r.ast); err != nil {
		return fmt.Errorf("compose: RTMP target %s: sending: %w", r.name, err)
	}
	return nil
}

func (r *rtmpSink) close(ok bool) error {
	var err error
	if ok && r.fc != nil && r.pb != nil {
		if e := r.fc.WriteTrailer(); e != nil {
			err = fmt.Errorf("compose: RTMP target %s: ending the stream: %w", r.name, e)
		}
	}
	if r.pb != nil {
		if e := r.pb.Close(); e != nil && err == nil && ok {
			err = fmt.Errorf("compose: RTMP target %s: closing: %w", r.name, e)
		}
		r.pb = nil
	}
	if r.fc != nil {
		r.fc.Free()
		r.fc = nil
	}
	if r.relay != nil {
		r.relay.close(ok && err == nil)
		r.relay = nil
	}
	return err
}
