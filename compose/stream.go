package compose

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/internal/redact"
)

// Defaults of [Streams].
const (
	// DefaultStreamBuffer is how much media a stream output may hold
	// queued before it drops the oldest.
	DefaultStreamBuffer = 4 * time.Second
	// DefaultHLSSegment is the target HLS segment length.
	DefaultHLSSegment = 2 * time.Second
	// DefaultHLSListSize is how many segments the live playlist lists.
	DefaultHLSListSize = 6
	// StreamKeyInterval is the longest stretch between two keyframes of a
	// composition with streams: a player joining, a reconnected RTMP
	// target and an HLS segment start at a keyframe.
	StreamKeyInterval = 2 * time.Second
)

// Timings of the stream outputs' reconnection.
const (
	// streamBackoffMin and streamBackoffMax bound the wait before a
	// failed RTMP target is dialled again (doubling from min).
	streamBackoffMin = 500 * time.Millisecond
	streamBackoffMax = 10 * time.Second
	// streamStall is how long one write to a stream target may block (a
	// server that stopped reading) before the connection is given up.
	streamStall = 5 * time.Second
	// streamDrain bounds how long the end of a composition waits for a
	// stream output to send what it has queued.
	streamDrain = 5 * time.Second
)

// Streams are the live outputs of a composition besides the MP4. They
// take the MP4's encoded packets (one encode feeds every output; with
// streams the encoder puts a keyframe at least every StreamKeyInterval).
// Each output runs in a goroutine of its own behind a bounded queue: a
// slow or failing output drops its oldest packets (counted) and never
// holds up the encoder or the MP4. At the end of the composition each
// output gets up to 5 s to send what it has queued (RTMP) or to write its
// last segment and the VOD playlist (HLS) before the MP4 is finalised.
// Only [Live] takes streams.
type Streams struct {
	// RTMP are rtmp:// or rtmps:// URLs (rtmp://host[:port]/app/key) the
	// composed call is pushed to as FLV (H.264 + AAC). RTMPS (default
	// port 443) runs FFmpeg's RTMP client through a loopback relay whose
	// TLS leg is Go's crypto/tls (this FFmpeg has no TLS library), with the
	// server's name verified. A target that refuses or
	// drops the connection, or stalls for 5 s, is dialled again with
	// backoff (0.5 s doubling to 10 s); keys and queries are redacted in
	// every log and error.
	RTMP []string
	// TLS (optional) configures RTMPS connections (RootCAs for a private
	// CA); defaults to the system's roots, the server name from the URL.
	TLS *tls.Config
	// HLS (optional) is a directory the composed call is written into as
	// HLS: MPEG-TS segments (seg00000.ts, ...), a live playlist over the
	// last HLSListSize segments (live.m3u8, its media sequence advancing)
	// rewritten as each segment closes, and at the end a VOD playlist of
	// every segment (vod.m3u8). Files are written under a temporary name
	// and renamed, so a reader never sees half a file.
	HLS string
	// HLSSegment (optional) is the target segment length; defaults to
	// DefaultHLSSegment. Segments start at keyframes.
	HLSSegment time.Duration
	// HLSListSize (optional) defaults to DefaultHLSListSize.
	HLSListSize int
	// Buffer (optional) is how much media each output may queue; defaults
	// to DefaultStreamBuffer.
	Buffer time.Duration
	// OnEvent (optional) is told of connections, failures and closed HLS
	// files. It runs on the output's goroutine: it must return quickly.
	OnEvent func(StreamEvent)
}

// StreamEventKind says what happened to a stream output.
type StreamEventKind int

// Stream event kinds.
const (
	// StreamConnected: an RTMP target accepted the stream (again).
	StreamConnected StreamEventKind = iota + 1
	// StreamFailed: connecting or writing failed; Err says why, Retry
	// when the next attempt is (0: the output gave up).
	StreamFailed
	// StreamFileClosed: an HLS segment or playlist is complete at Path.
	StreamFileClosed
)

// StreamEvent is one event of a stream output.
type StreamEvent struct {
	Kind StreamEventKind
	// Target is the output: a redacted RTMP URL or "hls".
	Target string
	// Err (StreamFailed) names the target redacted.
	Err error
	// Retry (StreamFailed) is the wait before the next attempt.
	Retry time.Duration
	// Path (StreamFileClosed) is the file, Playlist says it is one.
	Path     string
	Playlist bool
}

// StreamStatus is a stream output's state, in [Progress].
type StreamStatus struct {
	// Target is a redacted RTMP URL or "hls".
	Target string
	// Connected says the output is writing.
	Connected bool
	// Packets is how many packets were written, Dropped how many were
	// dropped (queue full, or skipped to the next keyframe after a gap or
	// a reconnection).
	Packets, Dropped int64
	// Failures counts failed connections and writes.
	Failures int64
}

// Validate checks s as [Live] does; the error wraps [ErrConfig] and shows
// RTMP URLs redacted.
func (s Streams) Validate() error {
	_, err := s.withDefaults()
	return err
}

func (s Streams) enabled() bool { return len(s.RTMP) > 0 || s.HLS != "" }

// withDefaults validates s and fills in defaults.
func (s Streams) withDefaults() (Streams, error) {
	for _, u := range s.RTMP {
		if err := checkRTMP(u); err != nil {
			return s, err
		}
	}
	if s.HLSSegment == 0 {
		s.HLSSegment = DefaultHLSSegment
	}
	if s.HLSSegment < 500*time.Millisecond || s.HLSSegment > time.Minute {
		return s, fmt.Errorf("%w: HLS segment %v: must be 0.5 s to 1 m", ErrConfig, s.HLSSegment)
	}
	if s.HLSListSize == 0 {
		s.HLSListSize = DefaultHLSListSize
	}
	if s.HLSListSize < 2 {
		return s, fmt.Errorf("%w: HLS list size %d: must be at least 2", ErrConfig, s.HLSListSize)
	}
	if s.Buffer == 0 {
		s.Buffer = DefaultStreamBuffer
	}
	if s.Buffer < 100*time.Millisecond || s.Buffer > time.Minute {
		return s, fmt.Errorf("%w: stream buffer %v: must be 0.1 s to 1 m", ErrConfig, s.Buffer)
	}
	return s, nil
}

// checkRTMP validates an RTMP target; the error shows it redacted.
func checkRTMP(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: RTMP target %s: want rtmp://host[:port]/app/key", ErrConfig, redact.StreamTarget(raw))
	}
	switch strings.ToLower(u.Scheme) {
	case "rtmp", "rtmps":
	default:
		return fmt.Errorf("%w: RTMP target %s: scheme must be rtmp or rtmps", ErrConfig, redact.StreamTarget(raw))
	}
	if app, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/"); app == "" {
		return fmt.Errorf("%w: RTMP target %s: no application in the path", ErrConfig, redact.StreamTarget(raw))
	}
	return nil
}

// streamPacket is one encoded packet queued for a stream output, in the
// encoder's time base.
type streamPacket struct {
	pkt   *astiav.Packet
	video bool
}

// sink is a stream output's muxer. Its methods run on the output's
// goroutine only.
type sink interface {
	// open connects (or creates the files) and writes the header.
	open(ii *astiav.IOInterrupter) error
	// write muxes p (encoder time base); p stays the caller's.
	write(p streamPacket) error
	// close ends the stream (trailer, last files) when ok, or drops the
	// connection; it frees the muxer either way.
	close(ok bool) error
	// retries says whether a failed sink is opened again.
	retries() bool
}

// encoderParams are what each sink's streams copy: the encoders' codec
// parameters and time bases. Immutable once built; shared read-only.
type encoderParams struct {
	video, audio     *astiav.CodecParameters
	videoTB, audioTB astiav.Rational
	fps              int
}

// fanout hands the encoder's packets to every stream output. send runs
// on the encoder goroutine and never blocks; each output's goroutine owns
// its sink. status is safe for concurrent use.
type fanout struct {
	params encoderParams
	outs   []*streamOut
	wg     sync.WaitGroup
}

// streamOut is one output: the queue the encoder fills, and the counters
// its goroutine keeps (atomics, read by status).
type streamOut struct {
	name      string
	s         sink
	q         *dropQueue[streamPacket]
	onEvent   func(StreamEvent)
	stop      chan struct{} // closed by abort: give up now
	ii        atomic.Pointer[astiav.IOInterrupter]
	connected atomic.Bool
	packets   atomic.Int64
	skipped   atomic.Int64
	failures  atomic.Int64
}

// newFanout starts an output goroutine per target of s. venc and aenc
// are open encoders.
func newFanout(s Streams, fps int, venc, aenc *astiav.CodecContext, log *slog.Logger) (*fanout, error) {
	f, err := newEncoderFanout(fps, venc, aenc)
	if err != nil {
		return nil, err
	}
	onEvent := func(e StreamEvent) {
		switch e.Kind {
		case StreamFailed:
			log.Warn("stream output failed; the recording goes on", "target", e.Target, "error", e.Err, "retry_in", e.Retry)
		case StreamConnected:
			log.Info("stream output connected", "target", e.Target)
		}
		if s.OnEvent != nil {
			s.OnEvent(e)
		}
	}
	var outs []*streamOut
	for _, u := range s.RTMP {
		name := redact.StreamTarget(u)
		outs = append(outs, &streamOut{name: name, s: &rtmpSink{url: u, name: name, tls: s.TLS, params: &f.params}})
	}
	if s.HLS != "" {
		outs = append(outs, &streamOut{name: "hls", s: newHLSSink(s, &f.params, onEvent)})
	}
	// Video at fps plus AAC at 48000/1024 packets a second.
	f.start(int(s.Buffer.Seconds()*(float64(fps)+float64(SampleRate)/1024)), onEvent, outs)
	return f, nil
}

// newEncoderFanout is a fanout without outputs yet, with the encoders'
// parameters.
func newEncoderFanout(fps int, venc, aenc *astiav.CodecContext) (*fanout, error) {
	f := &fanout{params: encoderParams{
		video: astiav.AllocCodecParameters(), audio: astiav.AllocCodecParameters(),
		videoTB: venc.TimeBase(), audioTB: aenc.TimeBase(), fps: fps,
	}}
	if err := f.params.video.FromCodecContext(venc); err != nil {
		f.free()
		return nil, fmt.Errorf("compose: stream video parameters: %w", err)
	}
	if err := f.params.audio.FromCodecContext(aenc); err != nil {
		f.free()
		return nil, fmt.Errorf("compose: stream audio parameters: %w", err)
	}
	return f, nil
}

// start runs outs, each behind a queue of capacity packets.
func (f *fanout) start(capacity int, onEvent func(StreamEvent), outs []*streamOut) {
	for _, o := range outs {
		o.q = newDropQueue[streamPacket](capacity)
		o.onEvent = onEvent
		o.stop = make(chan struct{})
		f.outs = append(f.outs, o)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			o.run()
		}()
	}
}

// send queues a reference to pkt (encoder time base) for every output.
func (f *fanout) send(pkt *astiav.Packet, video bool) {
	for _, o := range f.outs {
		c := pkt.Clone()
		if c == nil {
			o.skipped.Add(1)
			continue
		}
		if old, dropped := o.q.push(streamPacket{c, video}); dropped {
			old.pkt.Free()
		}
	}
}

// finish ends every output after it sent what is queued, waiting at most
// streamDrain, then gives up on the rest.
func (f *fanout) finish() {
	for _, o := range f.outs {
		o.q.close()
	}
	done := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(streamDrain)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		f.abort()
	}
	f.free()
}

// abort stops every output now and waits for them.
func (f *fanout) abort() {
	for _, o := range f.outs {
		o.q.close()
		select {
		case <-o.stop:
		default:
			close(o.stop)
		}
		if ii := o.ii.Load(); ii != nil {
			ii.Interrupt()
		}
	}
	f.wg.Wait()
}

func (f *fanout) free() {
	f.wg.Wait()
	f.params.video.Free()
	f.params.audio.Free()
}

// status returns each output's state.
func (f *fanout) status() []StreamStatus {
	if f == nil {
		return nil
	}
	st := make([]StreamStatus, len(f.outs))
	for i, o := range f.outs {
		st[i] = StreamStatus{
			Target: o.name, Connected: o.connected.Load(),
			Packets: o.packets.Load(), Dropped: o.q.drops() + o.skipped.Load(), Failures: o.failures.Load(),
		}
	}
	return st
}

// run is the output's goroutine: connect, write what comes, reconnect on
// failure with backoff, until the queue is closed and drained (or stop).
func (o *streamOut) run() {
	defer o.discard()
	backoff := streamBackoffMin
	for attempt := 0; ; attempt++ {
		ii := astiav.NewIOInterrupter()
		o.ii.Store(ii)
		select {
		case <-o.stop:
			ii.Interrupt()
		default:
		}
		err := o.s.open(ii)
		if err == nil {
			o.connected.Store(true)
			o.onEvent(StreamEvent{Kind: StreamConnected, Target: o.name})
			// Whatever waited while disconnected is stale: start again
			// at the next keyframe. (The first connection sends from
			// the start.)
			if attempt > 0 {
				o.discardQueued()
			}
			var up time.Time
			up, err = time.Now(), o.pump(ii, attempt > 0)
			o.connected.Store(false)
			if err == nil {
				err = o.s.close(true)
			} else {
				_ = o.s.close(false)
			}
			if time.Since(up) > streamBackoffMax {
				backoff = streamBackoffMin
			}
			if err == nil {
				o.ii.Store(nil)
				ii.Free()
				return
			}
		}
		o.ii.Store(nil)
		ii.Free()
		o.failures.Add(1)
		retry := backoff
		if !o.s.retries() {
			retry = 0
		}
		select {
		case <-o.stop:
			retry = 0
		default:
		}
		o.onEvent(StreamEvent{Kind: StreamFailed, Target: o.name, Err: err, Retry: retry})
		if retry == 0 {
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-o.stop:
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, streamBackoffMax)
	}
}

// errStreamStopped ends a pump on abort.
var errStreamStopped = errors.New("compose: stream output stopped")

// pump writes queued packets until the queue is closed and empty (nil) or
// a write fails. A write blocking longer than streamStall is interrupted.
// After a gap (drops), and from the start of a reconnection (needKey),
// video waits for a keyframe, and audio with it.
func (o *streamOut) pump(ii *astiav.IOInterrupter, needKey bool) error {
	watchdog := time.AfterFunc(time.Hour, ii.Interrupt)
	defer watchdog.Stop()
	for {
		p, gap, ok, closed := o.q.pop()
		if closed {
			return nil
		}
		if !ok {
			select {
			case <-o.q.ready:
				continue
			case <-o.stop:
				return errStreamStopped
			}
		}
		err := func() error {
			defer p.pkt.Free()
			if gap {
				needKey = true
			}
			if needKey {
				if !p.video || !p.pkt.Flags().Has(astiav.PacketFlagKey) {
					o.skipped.Add(1)
					return nil
				}
				needKey = false
			}
			watchdog.Reset(streamStall)
			err := o.s.write(p)
			watchdog.Stop()
			if err != nil {
				if ii.Interrupted() {
					select {
					case <-o.stop:
						return errStreamStopped
					default:
					}
					return fmt.Errorf("compose: stream %s stalled: no progress writing for %v", o.name, streamStall)
				}
				return err
			}
			o.packets.Add(1)
			return nil
		}()
		if err != nil {
			return err
		}
	}
}

// discardQueued frees what waits in the queue.
func (o *streamOut) discardQueued() {
	for {
		p, _, ok, _ := o.q.pop()
		if !ok {
			return
		}
		o.skipped.Add(1)
		p.pkt.Free()
	}
}

// discard frees what is left when the goroutine ends; the queue is closed
// then or will be, so later pushes are refused.
func (o *streamOut) discard() {
	o.q.close()
	o.discardQueued()
}
