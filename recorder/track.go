package recorder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomtape/roomtape/recorder/internal/codec/av1"
	"github.com/roomtape/roomtape/recorder/internal/codec/h264"
	"github.com/roomtape/roomtape/recorder/internal/codec/vp8"
	"github.com/roomtape/roomtape/recorder/internal/codec/vp9"
)

// Track is one started track of a participant. WriteFrame, Stop, Stats
// and the accessors are safe for concurrent use.
//
// Ownership: mu guards the writing state (the open file, the segment
// being written, sizes); s.mu guards rec, ended and what session.json
// says; lock order t.mu, then s.mu. wantKey is set under mu and taken
// without a lock by KeyframeRequest. Config.OnFile is called with
// neither lock held.
type Track struct {
	p    *Participant
	s    *Session
	info TrackInfo
	name string // file name in the session dir (the first segment's)
	path string
	base string // file name without extension and segment number
	// segDur is Config.SegmentDuration; 0: one file.
	segDur time.Duration

	mu       sync.Mutex // serialises writes, flushes and closing
	closed   bool
	w        fileWriter
	fileErr  error
	started  bool
	startPTS time.Duration
	lastPTS  time.Duration
	width    int
	height   int
	vp9      vp9.Sizer // follows VP9 sizes across inter frames
	// reorder is how many frames an H.264 frame may be presented after
	// (B-frames), from the first keyframe's SPS: frames then come in
	// decode order and their PTS may go back, by up to that many frames.
	reorder int
	// Segmenting (segDur > 0): the current segment's number (from 1),
	// file and first frame's PTS; the codec header of the latest keyframe
	// that had one (H.264, AV1); when a keyframe was last asked for
	// (asked: for this segment); overrun: this segment passed segDur.
	seg      int
	segPath  string
	segStart time.Duration
	extra    []byte
	askedAt  time.Duration
	asked    bool
	overrun  bool
	wantKey  atomic.Bool
	// keyDelay is how long (media time) the sender last took from a
	// request to the keyframe (haveDelay: it answered one).
	keyDelay  time.Duration
	haveDelay bool

	// Guarded by s.mu.
	ended bool
	rec   *trackRecord

	frames, bytes, droppedOrder, droppedKey, sinkErrs atomic.Uint64
	segments, overruns, keyRequests                   atomic.Uint64
}

// trackRecord is what session.json says about a track's file.
type trackRecord struct {
	start, end    time.Duration // end < 0 while recording
	width, height int
	changes       []resolutionChange
	// complete: the file is closed (or was never created); set by
	// closeFile under s.mu, after the file's last byte is written.
	complete bool
	// segments of a segmented track, in order; the last one's end is the
	// track's.
	segments []segmentRecord
}

// segmentRecord is what session.json says about one segment.
type segmentRecord struct {
	name       string
	start, end time.Duration // end < 0 while written
	bytes      int64
	complete   bool
}

type resolutionChange struct {
	at            time.Duration
	width, height int
}

// TrackStats counts a track's frames.
type TrackStats struct {
	// Frames and Bytes count the frames written (to the file and sinks).
	Frames, Bytes uint64
	// DroppedOutOfOrder counts frames older than one already written.
	DroppedOutOfOrder uint64
	// DroppedBeforeKeyframe counts video frames received before the first
	// keyframe (for H.264, before the first keyframe with SPS and PPS).
	DroppedBeforeKeyframe uint64
	// SinkErrors counts errors returned by sinks' WriteFrame.
	SinkErrors uint64
	// Segments counts the files started (Config.SegmentDuration: one per
	// segment; else 1 once the first frame is written).
	Segments uint64
	// SegmentOverruns counts video segments that ran past
	// Config.SegmentDuration because no keyframe came in time.
	SegmentOverruns uint64
	// KeyframeRequests counts the keyframes the track asked for to cut
	// segments (see KeyframeRequest).
	KeyframeRequests uint64
}

// Info returns the track's normalised info.
func (t *Track) Info() TrackInfo { return t.info }

// Participant returns the participant the track belongs to.
func (t *Track) Participant() *Participant { return t.p }

// Path returns the track's file path (with Config.SegmentDuration, its
// first segment's); the file exists once the first frame has been written
// (unless files are disabled).
func (t *Track) Path() string { return t.path }

// Reorder returns how many frames a frame of the track may be presented
// after, in decode order: for H.264, the max_num_reorder_frames of the
// first keyframe's SPS (16 when the SPS does not say and its profile has
// B-frames); 0 for other codecs and before the first keyframe. With
// reordering, WriteFrame takes frames whose PTS goes back.
func (t *Track) Reorder() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reorder
}

// Stats returns the track's counters.
func (t *Track) Stats() TrackStats {
	return TrackStats{
		Frames:                t.frames.Load(),
		Bytes:                 t.bytes.Load(),
		DroppedOutOfOrder:     t.droppedOrder.Load(),
		DroppedBeforeKeyframe: t.droppedKey.Load(),
		SinkErrors:            t.sinkErrs.Load(),
		Segments:              t.segments.Load(),
		SegmentOverruns:       t.overruns.Load(),
		KeyframeRequests:      t.keyRequests.Load(),
	}
}

// Segmenting timing.
const (
	// KeyframeLead is the longest a video track asks for a keyframe
	// before a segment is due (see Config.SegmentDuration), and how early
	// a keyframe may cut it: a PLI's round trip and the encoder's answer
	// (its next frame) take well under this on the paths WebRTC is used
	// on. Once the sender answered a request, the lead is its answer time
	// plus a margin (at least 200 ms), so cuts land just before the bound.
	KeyframeLead = 500 * time.Millisecond
	// keyframeRetry is how often an overdue segment asks again (a lost
	// PLI, an encoder that was busy).
	keyframeRetry = time.Second
	// keyframeMargin is added to the time the sender took to answer the
	// last request: jitter of the path and of the encoder (a frame or
	// two at 30 fps and a paced keyframe).
	keyframeMargin = 100 * time.Millisecond
	// minKeyframeLead bounds the lead from below, however fast a sender
	// answered once (a keyframe of its own that came just after asking).
	minKeyframeLead = 200 * time.Millisecond
)

// keyLeadLocked is how long before a segment is due the track asks for a
// keyframe (and may cut at one): the sender's last answer time plus
// keyframeMargin, between minKeyframeLead and KeyframeLead; KeyframeLead
// until it answered once. t.mu must be held.
func (t *Track) keyLeadLocked() time.Duration {
	if !t.haveDelay {
		return KeyframeLead
	}
	return min(max(t.keyDelay+keyframeMargin, minKeyframeLead), KeyframeLead)
}

// KeyframeRequest reports whether the track wants a keyframe now, to cut
// a segment (Config.SegmentDuration); it returns true once per request
// (at most once every keyframeRetry of media). An adapter that can ask
// the sender (a PLI or FIR, as pionrec does) should do so when it is
// true; one that cannot leaves segments to the sender's own keyframes.
// It is safe to call from any goroutine, e.g. after each WriteFrame.
func (t *Track) KeyframeRequest() bool { return t.wantKey.Swap(false) }

// WriteFrame records one frame. Frames must come in PTS order: a frame
// older than the last written one is dropped and counted (not an error).
// H.264 with B-frames (an SPS whose profile allows them) comes in decode
// order instead: PTS may then go back, but not before the first frame's.
// Video is written from the first keyframe on; earlier frames are dropped
// and counted. A picture size that differs from the previous one (given in
// f, parsed from a VP8 or H.264 keyframe, from any VP9 frame or from an
// AV1 sequence header) emits ResolutionChanged.
//
// It returns ErrEmptyFrame for a frame without payload, ErrTrackStopped
// after Stop or Leave, and file errors (which do not stop the sinks).
func (t *Track) WriteFrame(f Frame) error {
	if len(f.Payload) == 0 {
		return fmt.Errorf("participant %q track %q: %w", t.p.id, t.info.ID, ErrEmptyFrame)
	}
	t.mu.Lock()
	changed, closed, err := t.writeLocked(f)
	t.mu.Unlock()
	if changed {
		err = errors.Join(err, t.s.afterChange())
	}
	// After the session.json that lists it as finished: an uploader
	// that stores the segment, then the latest session.json, never
	// stores one that lists it as open after it.
	t.s.notifyFile(closed)
	return err
}

// fileStartLocked is the PTS of the open file's timestamp zero: the
// segment's first frame, or the track's.
func (t *Track) fileStartLocked() time.Duration {
	if t.segDur > 0 {
		return t.segStart
	}
	return t.startPTS
}

// segmentDueLocked says whether a frame at pts (a keyframe or not) starts
// a new segment, and asks for a keyframe or counts an overrun on the way.
// t.mu must be held.
func (t *Track) segmentDueLocked(pts time.Duration, key bool) bool {
	elapsed := pts - t.segStart
	if t.info.Kind != Video {
		return elapsed >= t.segDur
	}
	if elapsed < t.segDur-t.keyLeadLocked() {
		return false
	}
	if key {
		if t.asked {
			t.keyDelay, t.haveDelay = pts-t.askedAt, true
		}
		return true
	}
	if !t.asked || pts-t.askedAt >= keyframeRetry {
		t.asked, t.askedAt = true, pts
		t.wantKey.Store(true)
		t.keyRequests.Add(1)
	}
	if elapsed > t.segDur && !t.overrun {
		t.overrun = true
		t.overruns.Add(1)
		t.s.log.Warn("no keyframe: the segment runs past its bound until the next one",
			"participant", t.p.id, "track", t.info.ID, "segment", t.seg, "bound", t.segDur)
	}
	return false
}

// cutLocked closes the open segment and starts the next one with frame f,
// a keyframe for video. It returns the closed segment's path; on a
// failure the track's file stops as after a write failure. t.mu must be
// held.
func (t *Track) cutLocked(f Frame) (closed string, err error) {
	if t.info.Kind == Video {
		switch t.info.Codec {
		case H264:
			if ps := h264.ParamSets(f.Payload); ps != nil {
				t.extra = ps
			}
		case AV1:
			if sh := av1.SequenceHeader(f.Payload); sh != nil {
				t.extra = sh
			}
		}
	}
	closed = t.segPath
	cerr := t.w.Close()
	t.w = nil
	var size int64
	if st, serr := os.Stat(closed); serr == nil {
		size = st.Size()
	}
	next := segmentName(t.base, t.seg+1)
	nextPath := filepath.Join(t.s.dir, next)
	var fw fileWriter
	if cerr == nil {
		w, h := t.width, t.height
		if f.Width > 0 {
			w, h = f.Width, f.Height
		}
		fw, cerr = newFileWriter(nextPath, t.info, w, h, t.reorder, t.extra)
	}
	s := t.s
	s.mu.Lock()
	if t.rec != nil && len(t.rec.segments) > 0 {
		last := &t.rec.segments[len(t.rec.segments)-1]
		last.end, last.bytes, last.complete = f.PTS, size, true
		if cerr == nil {
			t.rec.segments = append(t.rec.segments, segmentRecord{name: next, start: f.PTS, end: -1})
		} else {
			t.rec.complete = true
		}
	}
	if cerr != nil {
		t.fileErr = fmt.Errorf("%w: participant %q track %q: segment %d: %w", ErrStorage, t.p.id, t.info.ID, t.seg+1, cerr)
		ti := t.info
		s.failLocked(t.p, &ti, t.fileErr)
	}
	s.mu.Unlock()
	if cerr != nil {
		s.log.Error("cannot cut the track's segment; no more media is written to it", "participant", t.p.id, "track", t.info.ID, "file", nextPath, "err", cerr)
		return closed, t.fileErr
	}
	t.w = fw
	t.seg++
	t.segPath = nextPath
	t.segStart = f.PTS
	t.asked, t.overrun = false, false
	t.segments.Add(1)
	s.log.Debug("segment cut", "participant", t.p.id, "track", t.info.ID, "segment", t.seg, "at", f.PTS, "closed", closed, "bytes", size)
	return closed, nil
}

// segmentName is the file name of segment k (from 1) of a track whose
// files are named base.
func segmentName(base string, k int) string {
	return fmt.Sprintf("%s-s%04d.mkv", base, k)
}

// writeLocked implements WriteFrame; changed says whether the manifest or
// events changed, closed is a file finished (a segment cut, a file given
// up) for Config.OnFile.
func (t *Track) writeLocked(f Frame) (changed bool, closed string, err error) {
	if t.closed {
		return false, "", fmt.Errorf("participant %q track %q: %w", t.p.id, t.info.ID, ErrTrackStopped)
	}
	if t.started && f.PTS < t.lastPTS && (t.reorder == 0 || f.PTS < t.fileStartLocked()) {
		t.droppedOrder.Add(1)
		t.s.log.Debug("frame out of order dropped", "participant", t.p.id, "track", t.info.ID, "pts", f.PTS, "last", t.lastPTS)
		return false, "", nil
	}
	video := t.info.Kind == Video
	// Every Opus packet decodes on its own: Matroska flags audio blocks as
	// keyframes.
	key := f.Keyframe || !video || t.info.Codec.IsKeyframe(f.Payload)
	f.Keyframe = key
	if !video || f.Width <= 0 || f.Height <= 0 || f.Width > maxDimension || f.Height > maxDimension {
		f.Width, f.Height = 0, 0
		if video {
			f.Width, f.Height = t.pictureSizeLocked(f.Payload, key)
		}
	}
	if !t.started && video && f.Width == 0 && t.info.Width > 0 && t.info.Height > 0 {
		// No size in the bitstream we can parse: trust the caller.
		f.Width, f.Height = t.info.Width, t.info.Height
	}
	if !t.started {
		ok, err := t.startLocked(f)
		if !ok {
			return false, "", err
		}
		changed = true
	} else if t.segDur > 0 && t.w != nil && t.segmentDueLocked(f.PTS, key) {
		// On a failure the frame still reaches the sinks, as after a
		// write failure.
		closed, err = t.cutLocked(f)
		changed = true
	}
	if f.Width > 0 && (f.Width != t.width || f.Height != t.height) {
		t.resizeLocked(f.PTS, f.Width, f.Height)
		changed = true
	}
	t.lastPTS = max(t.lastPTS, f.PTS)
	if t.w != nil {
		if werr := t.w.WritePacket(f.Payload, f.PTS-t.fileStartLocked(), f.Duration, key); werr != nil {
			err = t.failLocked(werr)
			closed = t.segPath
			changed = true
		}
	} else if t.fileErr != nil {
		err = t.fileErr
	}
	for _, sk := range t.s.sinks {
		if serr := sk.WriteFrame(t.p.id, t.info, f); serr != nil {
			t.sinkErrs.Add(1)
			t.s.log.Debug("sink write failed", "participant", t.p.id, "track", t.info.ID, "err", serr)
		}
	}
	t.frames.Add(1)
	t.bytes.Add(uint64(len(f.Payload)))
	return changed, closed, err
}

// startLocked handles the first writable frame: it creates the file and
// registers the track in the manifest. ok is false if the frame must be
// dropped.
func (t *Track) startLocked(f Frame) (ok bool, err error) {
	var extradata []byte
	if t.info.Kind == Video {
		switch t.info.Codec {
		case H264:
			extradata = h264.ParamSets(f.Payload)
		case AV1:
			extradata = av1.SequenceHeader(f.Payload)
		}
		needExtra := t.info.Codec == H264 || t.info.Codec == AV1
		if !f.Keyframe || (needExtra && extradata == nil) {
			t.droppedKey.Add(1)
			return false, nil
		}
		if t.info.Codec == H264 {
			n, ok := h264.Reorder(f.Payload)
			if !ok {
				// The SPS does not say and the profile has B-frames:
				// allow the most H.264 can reorder.
				n = maxReorder
			}
			t.reorder = n
		}
	}
	t.started = true
	t.startPTS = f.PTS
	t.lastPTS = f.PTS
	t.seg, t.segPath, t.segStart, t.extra = 1, t.path, f.PTS, extradata
	t.segments.Add(1)
	if t.s.files {
		fw, err := newFileWriter(t.path, t.info, f.Width, f.Height, t.reorder, extradata)
		if err != nil {
			t.fileErr = fmt.Errorf("%w: participant %q track %q: %w", ErrStorage, t.p.id, t.info.ID, err)
			s := t.s
			s.mu.Lock()
			ti := t.info
			s.failLocked(t.p, &ti, t.fileErr)
			s.mu.Unlock()
			s.log.Error("cannot create track file", "participant", t.p.id, "file", t.path, "err", err)
			return true, t.fileErr
		}
		t.w = fw
	}
	s := t.s
	s.mu.Lock()
	t.rec = &trackRecord{start: f.PTS, end: -1}
	if t.segDur > 0 {
		t.rec.segments = []segmentRecord{{name: t.name, start: f.PTS, end: -1}}
	}
	if t.ended {
		t.rec.end = f.PTS
	}
	t.p.tracks = append(t.p.tracks, t)
	s.mu.Unlock()
	return true, nil
}

// resizeLocked records a new picture size at session time at.
func (t *Track) resizeLocked(at time.Duration, w, h int) {
	s := t.s
	s.mu.Lock()
	if t.rec != nil {
		if t.rec.width == 0 {
			t.rec.width, t.rec.height = w, h
		} else {
			t.rec.changes = append(t.rec.changes, resolutionChange{at: at, width: w, height: h})
		}
	}
	ti := t.info
	s.emitLocked(Event{Kind: ResolutionChanged, At: at, ParticipantID: t.p.id, Name: t.p.name, Track: &ti, Width: w, Height: h})
	s.mu.Unlock()
	t.width, t.height = w, h
	if t.w != nil {
		t.w.Resize(w, h)
	}
	s.log.Debug("resolution changed", "participant", t.p.id, "track", t.info.ID, "width", w, "height", h)
}

// Stop ends the track and finishes its file. It is idempotent.
func (t *Track) Stop() error {
	s := t.s
	s.mu.Lock()
	if t.ended {
		s.mu.Unlock()
		return nil
	}
	p := t.p
	for i, a := range p.active {
		if a == t {
			p.active = append(p.active[:i:i], p.active[i+1:]...)
			break
		}
	}
	t.endLocked(s.Elapsed())
	s.mu.Unlock()
	closed, err := t.closeFile()
	err = errors.Join(err, s.afterChange())
	s.notifyFile(closed)
	return err
}

// endLocked marks the track ended at session time at; s.mu must be held.
func (t *Track) endLocked(at time.Duration) {
	t.ended = true
	if t.rec != nil {
		t.rec.end = max(at, t.rec.start)
	}
	ti := t.info
	t.s.emitLocked(Event{Kind: TrackStopped, At: at, ParticipantID: t.p.id, Name: t.p.name, Track: &ti})
}

// closeFile finishes the file (the last segment); later writes fail with
// ErrTrackStopped. closed is the path of the file it closed, "" if none
// was open: the caller tells Config.OnFile once session.json says so.
func (t *Track) closeFile() (closed string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.w != nil {
		err = t.w.Close()
		t.w = nil
		closed = t.segPath
	}
	if err != nil {
		err = fmt.Errorf("%w: participant %q track %q: close %s: %w", ErrStorage, t.p.id, t.info.ID, t.segPath, err)
	}
	var size int64
	if closed != "" {
		if st, serr := os.Stat(closed); serr == nil {
			size = st.Size()
		}
	}
	// Lock order t.mu, then s.mu (as in startLocked).
	t.s.mu.Lock()
	if t.rec != nil {
		t.rec.complete = true
		if n := len(t.rec.segments); n > 0 && !t.rec.segments[n-1].complete {
			t.rec.segments[n-1].bytes, t.rec.segments[n-1].complete = size, true
		}
	}
	if err != nil {
		ti := t.info
		t.s.failLocked(t.p, &ti, err)
	}
	t.s.mu.Unlock()
	return closed, err
}

// flush writes out what the file buffers.
func (t *Track) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w == nil {
		return
	}
	if err := t.w.Flush(); err != nil {
		_ = t.failLocked(err)
	}
}

// failLocked gives up the track's file after writing to it failed (a full
// disk): the file is closed as it is, playable up to the failure like a
// file cut by a crash, nothing more is written to it, later frames still
// reach the sinks, and the session records the failure (an event, a log,
// Session.Err). It returns the error WriteFrame returns from now on.
// t.mu must be held.
func (t *Track) failLocked(cause error) error {
	t.w.Abort()
	t.w = nil
	t.fileErr = fmt.Errorf("%w: participant %q track %q: %s: %w", ErrStorage, t.p.id, t.info.ID, t.path, cause)
	s := t.s
	// Lock order t.mu, then s.mu.
	s.mu.Lock()
	if t.rec != nil {
		// The file will not grow again.
		t.rec.complete = true
		if n := len(t.rec.segments); n > 0 {
			t.rec.segments[n-1].complete = true
		}
	}
	ti := t.info
	s.failLocked(t.p, &ti, t.fileErr)
	s.mu.Unlock()
	s.log.Error("track file failed; no more media is written to it", "participant", t.p.id, "track", t.info.ID, "file", t.path, "err", cause)
	return t.fileErr
}

// IsKeyframe reports whether payload, one access unit of codec c (a VP8 or
// VP9 frame, an Annex-B H.264 access unit, an Opus packet), decodes on its
// own: a VP8/VP9 key frame, an H.264 access unit with an IDR slice, an AV1
// temporal unit with a sequence header and a key frame, every non-empty
// Opus packet. It is false for unknown codecs.
func (c Codec) IsKeyframe(payload []byte) bool {
	switch c {
	case VP8:
		return vp8.IsKeyframe(payload)
	case VP9:
		return vp9.IsKeyframe(payload)
	case H264:
		return h264.IsKeyframe(payload)
	case AV1:
		return av1.IsKeyframe(payload)
	case Opus:
		return len(payload) > 0
	default:
		return false
	}
}

// pictureSizeLocked parses the picture size of a frame, 0x0 if unknown:
// VP9 frames carry it, or take a reference frame's, on inter frames too
// (spatial layers, dynamic resizing), and AV1 temporal units with a
// sequence header announce it whether key or not; the other codecs' sizes
// are read from keyframes. t.mu must be held.
func (t *Track) pictureSizeLocked(payload []byte, key bool) (w, h int) {
	switch t.info.Codec {
	case VP9:
		w, h, ok := t.vp9.Next(payload)
		if !ok || w > maxDimension || h > maxDimension {
			return 0, 0
		}
		return w, h
	case AV1:
		return pictureSize(AV1, payload)
	}
	if !key {
		return 0, 0
	}
	return pictureSize(t.info.Codec, payload)
}

// pictureSize parses the picture size of a keyframe (or of an AV1 temporal
// unit with a sequence header), 0x0 if unknown.
func pictureSize(c Codec, payload []byte) (w, h int) {
	var ok bool
	switch c {
	case VP8:
		w, h, ok = vp8.Size(payload)
	case VP9:
		w, h, ok = vp9.Size(payload)
	case H264:
		w, h, ok = h264.Size(payload)
	case AV1:
		w, h, ok = av1.Size(payload)
	}
	if !ok || w > maxDimension || h > maxDimension {
		return 0, 0
	}
	return w, h
}
