package pionrec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/roomtape/roomtape/recorder"
)

// Errors returned by [Record]; test them with errors.Is.
var (
	// ErrUnsupportedCodec is returned for a track whose codec is not VP8,
	// VP9, H.264, AV1 or Opus.
	ErrUnsupportedCodec = errors.New("pionrec: unsupported codec")
)

// Defaults of [Config].
const (
	// DefaultMaxLatency bounds how long a frame waits for missing packets
	// (reordering, NACK retransmission): pion's NACK generator asks every
	// 100 ms, so 500 ms leaves time for a few attempts over a slow path.
	DefaultMaxLatency = 500 * time.Millisecond
	// DefaultPLIInterval is how often a PLI is repeated while a video
	// track waits for a keyframe.
	DefaultPLIInterval = 500 * time.Millisecond
	// endGrace is how long Record keeps reading after its context ends,
	// and after each packet read since: packets sent before the end (a
	// publisher's last ones before its WHIP DELETE) may still sit in
	// pion's buffers or the socket's, and reading them takes
	// microseconds, but pion returns nothing once the read deadline has
	// passed, buffered or not, so a reader stalled by a loaded machine
	// must not run out of it while a backlog remains.
	endGrace = 50 * time.Millisecond
	// maxEndDrain bounds that draining: a sender still sending after the
	// end has up to this much more recorded.
	maxEndDrain = 250 * time.Millisecond
	// maxFrameDuration bounds a video frame duration derived from the next
	// frame's timestamp (a paused camera would otherwise last long).
	maxFrameDuration = time.Second
)

// RTCPWriter sends RTCP feedback (PLI) to the sender; a
// *webrtc.PeerConnection is one.
type RTCPWriter interface {
	WriteRTCP(pkts []rtcp.Packet) error
}

// Config configures [Record]. The zero value works.
type Config struct {
	// Session is the session whose clock gives presentation times.
	// (optional) defaults to the participant's own session.
	Session *recorder.Session
	// Source (optional) defaults to recorder.Camera for video and
	// recorder.Microphone for audio.
	Source recorder.Source
	// MaxLatency (optional) defaults to DefaultMaxLatency.
	MaxLatency time.Duration
	// PLIInterval (optional) defaults to DefaultPLIInterval.
	PLIInterval time.Duration
	// Logger (optional) defaults to a logger that discards everything.
	Logger *slog.Logger
	// OnStats (optional) is called with the track's counters when Record
	// returns.
	OnStats func(Stats)
	// OnLevel (optional) receives the audio level of each audio frame
	// written whose packet carries the RFC 6464 audio-level header
	// extension ([AudioLevelURI], negotiated by [NewAPI]): the frame spans
	// [at, at+dur) on the session clock (its presentation time), dbov is
	// its level in -dBov (0 loudest, 127 silence). It is called on
	// Record's goroutine, in presentation order, with no lock held.
	OnLevel func(at, dur time.Duration, dbov uint8)
}

// Stats are the counters of one recorded track.
type Stats struct {
	// Packets is the number of RTP packets read.
	Packets int
	// LostPackets is the number of packets the reorder buffer gave up on
	// (never arrived, not even by retransmission, within MaxLatency).
	LostPackets int
	// UnusedPackets is the number of packets read but not used:
	// duplicates (a retransmission of a packet that had come), and
	// packets that came after their frame was written or given up (such a
	// packet is in LostPackets too). Every packet read is in a frame
	// written, dropped or unwritten, in a frame given up (with
	// LostPackets), or here.
	UnusedPackets int
	// Frames is the number of frames written.
	Frames int
	// DroppedFrames is the number of frames dropped: video frames while
	// waiting for a keyframe after a loss, and audio packets overlapped
	// by a step back of the clock (see the package documentation).
	DroppedFrames int
	// Unwritten is the number of frames received but not written because
	// the recorder track was stopped before them (a Leave or Stop from
	// elsewhere while frames waited for a Sender Report; see [Record]) or
	// refused them (its file failed: see recorder.ErrStorage).
	Unwritten int
	// PLIs is the number of Picture Loss Indications sent.
	PLIs int
	// SenderReports is the number of RTCP Sender Reports received.
	SenderReports int
	// FirstKeyframe is the time from the start of Record to the first
	// keyframe written (video only; 0 if none).
	FirstKeyframe time.Duration
}

// Record adds track to participant p and writes its frames until the track
// ends (the peer connection closes or the sender stops it), the
// participant's track is stopped by the recorder (e.g. the participant
// left), or ctx is cancelled. It returns nil in all those cases, and an
// error only if the track could not be started.
//
// Frames wait up to a second for the track's first Sender Report (see the
// package documentation) and are written when Record ends through the
// track or ctx; a Leave or Stop from elsewhere stops the track first and
// those frames are lost. To keep every frame received, end a participant
// by cancelling ctx, waiting for Record to return, then calling Leave (as
// the WHIP and LiveKit adapters do).
//
// Record reads RTCP from receiver (so a host must not read it too): that
// runs the interceptors and yields the Sender Reports used for A/V sync.
// rtcpw receives PLIs, on start and after losses until a keyframe arrives.
func Record(ctx context.Context, p *recorder.Participant, track *webrtc.TrackRemote,
	receiver *webrtc.RTPReceiver, rtcpw RTCPWriter, cfg Config,
) error {
	sess := cfg.Session
	if sess == nil {
		sess = p.Session()
	}
	w, err := newWriter(p, sess, track.ID(), track.Codec(), uint32(track.SSRC()), rtcpw, cfg)
	if err != nil {
		return err
	}
	if !w.video && cfg.OnLevel != nil {
		for _, h := range receiver.GetParameters().HeaderExtensions {
			if h.URI == AudioLevelURI && h.ID > 0 && h.ID < 256 {
				w.asm.levelID, w.onLevel = uint8(h.ID), cfg.OnLevel
			}
		}
	}
	defer releaseGroup(p)
	rtcpDone := make(chan struct{})
	go func() {
		defer close(rtcpDone)
		w.readRTCP(receiver)
	}()
	stop := context.AfterFunc(ctx, func() {
		// Packets that arrived before the end but were not read yet
		// (in pion's buffers or the socket's) are still read.
		_ = track.SetReadDeadline(time.Now().Add(endGrace))
	})
	defer stop()

	eof := false
	var endAt time.Time // the first read after ctx ended
	for !w.stopped {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			eof = !errors.Is(err, os.ErrDeadlineExceeded)
			if eof && !errors.Is(err, io.EOF) {
				w.log.Debug("read rtp", "err", err)
			}
			break
		}
		now := time.Now()
		w.push(pkt, now)
		if ctx.Err() != nil {
			// Draining after the end: more may be buffered.
			if endAt.IsZero() {
				endAt = now
			}
			deadline := now.Add(endGrace)
			if limit := endAt.Add(maxEndDrain); deadline.After(limit) {
				deadline = limit
			}
			_ = track.SetReadDeadline(deadline)
		}
	}
	w.finish()
	if eof {
		// The receiver is closed with the track: wait for the RTCP reader.
		select {
		case <-rtcpDone:
		case <-ctx.Done():
		}
	}
	if cfg.OnStats != nil {
		cfg.OnStats(w.snapshot())
	}
	return nil
}

// newWriter starts a recorder track for a negotiated codec and sends the
// first PLI; releaseGroup(p) must follow.
func newWriter(p *recorder.Participant, sess *recorder.Session, id string, params webrtc.RTPCodecParameters,
	ssrc uint32, rtcpw RTCPWriter, cfg Config,
) (*writer, error) {
	started := time.Now()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	codec, depack, err := codecFor(params.MimeType)
	if err != nil {
		return nil, fmt.Errorf("participant %q track %q: %w", p.ID(), id, err)
	}
	maxLatency := cfg.MaxLatency
	if maxLatency <= 0 {
		maxLatency = DefaultMaxLatency
	}
	pliInterval := cfg.PLIInterval
	if pliInterval <= 0 {
		pliInterval = DefaultPLIInterval
	}
	info := recorder.TrackInfo{ID: id, Codec: codec, Source: cfg.Source, ClockRate: params.ClockRate}
	if codec.Kind() == recorder.Audio {
		info.Channels = int(params.Channels)
		if info.Channels == 0 || info.Channels > 2 {
			info.Channels = 2
		}
	}
	rt, err := p.AddTrack(info)
	if err != nil {
		return nil, fmt.Errorf("pionrec: add track %q: %w", id, err)
	}
	rate := params.ClockRate
	if rate == 0 {
		rate = 90000
	}
	w := &writer{
		codec:   codec,
		video:   codec.Kind() == recorder.Video,
		track:   rt,
		asm:     newAssembler(depack, maxLatency),
		log:     log.With("participant", p.ID(), "track", id, "codec", codec),
		rtcpw:   rtcpw,
		ssrc:    ssrc,
		started: started,
		pliGap:  pliInterval,
		clock: &trackClock{
			rate:        int64(rate),
			audio:       codec.Kind() == recorder.Audio,
			sessionTime: sess.SessionTime,
			group:       acquireGroup(p),
		},
		waitKey: codec.Kind() == recorder.Video,
	}
	if w.video {
		w.requestKeyframe(started)
	}
	return w, nil
}

// push takes one RTP packet that arrived at now.
func (w *writer) push(pkt *rtp.Packet, now time.Time) {
	w.packets++
	w.mu.Lock()
	ext := w.unwrap.update(pkt.Timestamp)
	w.mu.Unlock()
	w.clock.arrival(ext, now)
	w.asm.push(pkt)
	w.drain(now, false)
	if !w.stopped && w.waitKey && now.Sub(w.lastPLI) >= w.pliGap {
		w.requestKeyframe(now)
	}
}

// finish writes what is left and stops the recorder track.
func (w *writer) finish() {
	// Every frame still waiting is written (or counted unwritten if the
	// track was stopped from elsewhere), and packets given up with no
	// frame after them to carry the count are counted lost.
	w.drain(time.Now(), true)
	w.flush()
	w.stats.LostPackets += w.asm.lost
	w.asm.lost = 0
	if err := w.track.Stop(); err != nil {
		w.log.Warn("stop track", "err", err)
	}
	st := w.snapshot()
	if st.Unwritten > 0 {
		w.log.Warn("frames lost: the track was stopped before they were written", "unwritten", st.Unwritten, "written", st.Frames)
	}
	w.log.Debug("track ended", "packets", st.Packets, "frames", st.Frames, "lost", st.LostPackets,
		"dropped", st.DroppedFrames, "unwritten", st.Unwritten, "plis", st.PLIs)
}

// snapshot returns the track's counters.
func (w *writer) snapshot() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.stats
	st.Packets = w.packets
	st.UnusedPackets = w.asm.unused
	return st
}

// writer turns samples of one track into recorder frames.
type writer struct {
	codec   recorder.Codec
	video   bool
	track   *recorder.Track
	asm     *assembler
	log     *slog.Logger
	rtcpw   RTCPWriter
	ssrc    uint32
	started time.Time
	pliGap  time.Duration
	clock   *trackClock
	unwrap  unwrapper
	onLevel func(at, dur time.Duration, dbov uint8) // Config.OnLevel, audio with the extension only

	packets  int
	lastTS   int64
	haveTS   bool
	frameDur time.Duration
	// reordered: video timestamps went back (B-frames in decode order).
	reordered bool
	waitKey   bool
	lastPLI   time.Time
	waitFrom  time.Time
	stopped   bool
	pending   []pendingFrame
	written   bool
	firstPTS  time.Duration
	lastPTS   time.Duration

	mu    sync.Mutex
	stats Stats
}

// drain writes every frame the assembler has ready; flush gives up on
// missing packets at once.
func (w *writer) drain(now time.Time, flush bool) {
	for {
		f, ok := w.asm.pop(now, flush)
		if !ok {
			return
		}
		if w.stopped {
			w.stats.LostPackets += f.lost
			w.stats.Unwritten++
			continue
		}
		w.frame(f, now)
	}
}

// frame writes one depacketised frame (through the settling buffer).
func (w *writer) frame(af assembledFrame, now time.Time) {
	w.mu.Lock()
	ext := w.unwrap.near(af.ts)
	w.mu.Unlock()
	if af.lost > 0 {
		w.stats.LostPackets += af.lost
		if w.video {
			if !w.waitKey {
				w.waitFrom = now
			}
			w.waitKey = true
			w.requestKeyframe(now)
		}
	}
	key := w.codec.IsKeyframe(af.data)
	if w.video && w.waitKey {
		if !key {
			w.stats.DroppedFrames++
			return
		}
		w.waitKey = false
		if w.stats.FirstKeyframe == 0 {
			w.stats.FirstKeyframe = now.Sub(w.started)
		} else {
			w.log.Debug("recovered after loss", "after", now.Sub(w.waitFrom))
		}
	}
	var dur time.Duration
	if w.video {
		// A frame lasts until the next one; estimate it from the
		// previous interval.
		// With B-frames (timestamps going back in decode order) the
		// intervals between frames in arrival order span several
		// frames: the smallest seen is the frame period.
		if w.haveTS {
			delta := ext - w.lastTS
			if delta < 0 {
				w.reordered = true
				delta = -delta
			}
			if d := w.clock.ticks(delta); d > 0 && d <= maxFrameDuration && (!w.reordered || w.frameDur == 0 || d < w.frameDur) {
				w.frameDur = d
			}
		}
		w.lastTS, w.haveTS = ext, true
		dur = w.frameDur
	} else {
		dur = opusDuration(af.data)
		if dur > 0 {
			w.clock.audioFrame = dur
		}
	}
	w.pending = append(w.pending, pendingFrame{ext: ext, f: recorder.Frame{Payload: af.data, Duration: dur, Keyframe: key}, level: af.level})
	if w.clock.hasReport() || w.clock.ticks(ext-w.pending[0].ext) >= settleWindow {
		w.flush()
	}
}

// pendingFrame is a frame waiting for the clock's anchor to settle.
type pendingFrame struct {
	ext   int64
	f     recorder.Frame
	level int // RFC 6464 level, -1 for none
}

// flush writes the pending frames with their presentation times.
func (w *writer) flush() {
	for i, pf := range w.pending {
		w.pending[i] = pendingFrame{}
		if w.stopped {
			w.stats.Unwritten++
			continue
		}
		pf.f.PTS = w.clock.pts(pf.ext)
		if w.written && (pf.f.PTS < w.lastPTS || (!w.video && pf.f.PTS == w.lastPTS)) && !w.reorderedFrame(pf.f.PTS) {
			// An audio clock stepped back: drop the packets it
			// overlaps; likewise a video timestamp going back, unless
			// it is a B-frame sent in decode order.
			w.stats.DroppedFrames++
			continue
		}
		err := w.track.WriteFrame(pf.f)
		switch {
		case errors.Is(err, recorder.ErrTrackStopped):
			w.stopped = true
			w.stats.Unwritten++
		case err != nil:
			w.stats.Unwritten++
			w.log.Debug("write frame", "err", err)
		default:
			w.stats.Frames++
			if w.video && w.track.KeyframeRequest() {
				// A segment is due (recorder.Config.SegmentDuration).
				w.requestKeyframe(time.Now())
			}
			if !w.written {
				w.firstPTS = pf.f.PTS
			}
			if !w.written || pf.f.PTS > w.lastPTS {
				w.lastPTS = pf.f.PTS
			}
			w.written = true
			if w.onLevel != nil && pf.level >= 0 {
				w.onLevel(pf.f.PTS, pf.f.Duration, uint8(pf.level))
			}
		}
	}
	w.pending = w.pending[:0]
}

// maxReorderBack bounds how far before the latest frame a reordered
// H.264 frame may be presented: 16 frames (H.264's most) at 30 fps.
// Anything further back is a broken timestamp, dropped.
const maxReorderBack = 16 * time.Second / 30

// reorderedFrame reports whether a video frame presented at pts, before the
// latest frame written, is a frame sent in decode order (H.264 B-frames)
// that the track takes: the stream reorders, and pts lies after the first
// frame and at most maxReorderBack before the latest.
func (w *writer) reorderedFrame(pts time.Duration) bool {
	return w.video && w.track.Reorder() > 0 && pts >= w.firstPTS && pts >= w.lastPTS-maxReorderBack
}

// requestKeyframe sends a PLI.
func (w *writer) requestKeyframe(now time.Time) {
	w.lastPLI = now
	if w.waitFrom.IsZero() {
		w.waitFrom = now
	}
	err := w.rtcpw.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: w.ssrc}})
	if err != nil {
		w.log.Debug("send pli", "err", err)
		return
	}
	w.stats.PLIs++
}

// readRTCP reads the receiver's RTCP until it closes, feeding Sender
// Reports of this track's SSRC to the clock.
func (w *writer) readRTCP(receiver *webrtc.RTPReceiver) {
	for {
		pkts, _, err := receiver.ReadRTCP()
		if err != nil {
			return
		}
		now := time.Now()
		for _, pkt := range pkts {
			if sr, ok := pkt.(*rtcp.SenderReport); ok && sr.SSRC == w.ssrc {
				w.senderReport(sr, now)
			}
		}
	}
}

// senderReport takes a Sender Report of the track that arrived at now.
func (w *writer) senderReport(sr *rtcp.SenderReport, now time.Time) {
	w.mu.Lock()
	ext := w.unwrap.near(sr.RTPTime)
	w.stats.SenderReports++
	n := w.stats.SenderReports
	w.mu.Unlock()
	ntp := ntpTime(sr.NTPTime)
	w.clock.senderReport(ext, ntp, now)
	if n <= 3 {
		off, _ := w.clock.group.get()
		w.log.Debug("sender report", "rtp", ext, "ntp", ntp, "delay", now.Sub(ntp), "offset", off)
	}
}
