package compose

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
	"github.com/roomtape/roomtape/timeline/speaker"
)

// ScreenSuffix marks a participant ID that is a screen share
// ([manifest.ScreenSuffix]): it takes the main area while present.
const ScreenSuffix = manifest.ScreenSuffix

// liveLevelMargin is how much of Config.Delay a live composition keeps for
// the recorder's audio to reach its files: the speaker detection looks
// ahead Delay minus this.
const liveLevelMargin = time.Second

// meterRate is the sample rate levels are measured at (Opus decodes at
// 48 kHz natively: no resampling).
const meterRate = 48000

// meter measures one microphone file's levels, RMS dBFS per
// speaker.DefaultBlock, in a goroutine of its own that follows the file
// while it is recorded. mu guards levels, pos, done and err; the owner
// goroutine reads them through snapshot.
type meter struct {
	key  string
	file *trackFile
	st   inputState

	mu     sync.Mutex
	levels []speaker.Level
	pos    time.Duration // session time up to which the file is measured
	done   bool
}

func newMeter(key string, tf *trackFile, opts demux.Options) *meter {
	m := &meter{key: key, file: tf, st: newInputState(), pos: tf.start}
	go m.run(opts)
	return m
}

func (m *meter) run(opts demux.Options) {
	defer close(m.st.exited)
	err := m.measure(opts)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errStopped) {
		// As the mix does: a damaged file counts as far as it decodes.
		opts.Logger.Warn("speaker detection: audio file measured up to an error", "participant", m.key, "file", m.file.path, "err", err)
	}
	m.mu.Lock()
	m.done = true
	m.mu.Unlock()
}

func (m *meter) measure(opts demux.Options) error {
	if !m.file.complete.Load() {
		tr, err := openTail(m.file, m.st.stop, &m.st.starved)
		if err != nil {
			return fmt.Errorf("%w: participant %q: audio file: %w", ErrInput, m.key, err)
		}
		defer func() { _ = tr.Close() }()
		opts.Reader = tr
	}
	opts.Logger = opts.Logger.With("meter", m.file.path)
	r, err := demux.OpenAudio(m.file.path, meterRate, 1, opts)
	if err != nil {
		return fmt.Errorf("%w: participant %q: audio file %s: %w", ErrInput, m.key, m.file.path, err)
	}
	defer r.Close()
	block := int64(speaker.DefaultBlock) * meterRate / int64(time.Second)
	cur, sum, count := int64(-1), 0.0, int64(0)
	var batch []speaker.Level
	flush := func() {
		if count > 0 {
			db := 10 * math.Log10(sum/float64(count))
			batch = append(batch, speaker.Level{At: m.file.start + time.Duration(cur)*speaker.DefaultBlock, DBFS: max(db, speaker.Silence)})
		}
		sum, count = 0, 0
	}
	for {
		start, s, err := r.Next()
		if err != nil {
			flush()
			m.publish(batch, -1)
			return err
		}
		for i, v := range s {
			if b := (start + int64(i)) / block; b != cur {
				flush()
				cur = b
			}
			sum += float64(v) * float64(v)
			count++
		}
		end := start + int64(len(s))
		m.publish(batch, end)
		batch = batch[:0]
	}
}

// publish adds measured levels; end (sample frames on the file clock,
// -1 for unchanged) is how far the file is measured.
func (m *meter) publish(ls []speaker.Level, end int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.levels = append(m.levels, ls...)
	if end >= 0 {
		m.pos = m.file.start + time.Duration(end)*time.Second/meterRate
	}
}

// known is the session time up to which m's levels are final, given the
// live edge (on the output clock): all of them once done, up to the edge
// less liveLevelMargin while the file is not growing (nothing was said),
// else up to what is measured.
func (m *meter) known(edge time.Duration) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.done:
		return math.MaxInt64
	case m.st.starved.Load():
		return max(m.pos, edge-liveLevelMargin)
	}
	return m.pos
}

func (m *meter) close() {
	close(m.st.stop)
	<-m.st.exited
}

// speakers is a composition's speaker detection: a meter per microphone
// file, and the turns found from them. The owner goroutine owns it.
type speakers struct {
	cfg    speaker.Config
	meters []*meter
	turns  []speaker.Interval
	upTo   time.Duration // turns are final before upTo
	at     time.Time     // wall time of the last detection

	// Live: the levels handed to det so far, per participant, and how
	// many of each meter's levels they include.
	det    *speaker.Detector
	tracks []speaker.Track
	index  map[string]int // participant key → tracks index
	used   []int          // per meter
	ran    time.Duration  // det has run up to here
}

// detectEvery is how often a live composition runs the speaker detection
// on the levels measured since.
const detectEvery = 500 * time.Millisecond

// add starts a meter for a new microphone file of participant key.
func (s *speakers) add(key string, tf *trackFile, opts demux.Options) {
	s.meters = append(s.meters, newMeter(key, tf, opts))
	s.used = append(s.used, 0)
}

// wait blocks until every meter is done (offline: the pre-pass).
func (s *speakers) wait(ctx context.Context) error {
	for _, m := range s.meters {
		select {
		case <-m.st.exited:
		case <-ctx.Done():
			return fmt.Errorf("compose: %w", ctx.Err())
		}
	}
	return nil
}

// detect runs the detection with the levels known at the live edge edge
// (output clock) when detectEvery has passed, incrementally (a
// speaker.Detector fed the new levels); once final, over everything.
func (s *speakers) detect(end, edge time.Duration, final bool) error {
	if final {
		return s.detectAll(end)
	}
	if time.Since(s.at) < detectEvery && s.at != (time.Time{}) {
		return nil
	}
	s.at = time.Now()
	known := max(0, edge)
	for _, m := range s.meters {
		known = min(known, m.known(edge))
	}
	if s.det == nil {
		d, err := speaker.NewDetector(s.cfg)
		if err != nil {
			return fmt.Errorf("compose: speaker detection: %w", err)
		}
		s.det, s.index = d, map[string]int{}
	}
	upTo := max(s.ran, known)
	for i, m := range s.meters {
		k, ok := s.index[m.key]
		if !ok {
			k = len(s.tracks)
			s.index[m.key] = k
			s.tracks = append(s.tracks, speaker.Track{ID: m.key})
		}
		t := &s.tracks[k]
		m.mu.Lock()
		for ; s.used[i] < len(m.levels) && m.levels[s.used[i]].At < upTo; s.used[i]++ {
			l := m.levels[s.used[i]]
			// A participant's files follow each other; a level of one
			// overlapping the next (it should not) is left out.
			if n := len(t.Levels); l.At >= 0 && (n == 0 || l.At >= t.Levels[n-1].At) {
				t.Levels = append(t.Levels, l)
			}
		}
		m.mu.Unlock()
	}
	turns, err := s.det.Advance(s.tracks, upTo)
	if err != nil {
		return fmt.Errorf("compose: speaker detection: %w", err)
	}
	s.turns, s.ran = turns, upTo
	s.upTo = known - min(known, s.cfg.Lookahead)
	return nil
}

// detectAll runs the detection over every level measured, once the
// session has ended (after the call: the pre-pass).
func (s *speakers) detectAll(end time.Duration) error {
	byKey := map[string]*speaker.Track{}
	var tracks []*speaker.Track
	for _, m := range s.meters {
		t := byKey[m.key]
		if t == nil {
			t = &speaker.Track{ID: m.key}
			byKey[m.key] = t
			tracks = append(tracks, t)
		}
		m.mu.Lock()
		for _, l := range m.levels {
			if l.At >= 0 && l.At < end {
				t.Levels = append(t.Levels, l)
			}
		}
		m.mu.Unlock()
	}
	in := make([]speaker.Track, len(tracks))
	for i, t := range tracks {
		slices.SortStableFunc(t.Levels, func(a, b speaker.Level) int { return cmp.Compare(a.At, b.At) })
		in[i] = *t
	}
	turns, err := speaker.Detect(in, max(end, 0), s.cfg)
	if err != nil {
		return fmt.Errorf("compose: speaker detection: %w", err)
	}
	s.turns, s.upTo = turns, end
	return nil
}

func (s *speakers) close() {
	for _, m := range s.meters {
		m.close()
	}
}

// screens are the participants of m that are screen shares.
func screens(m *manifest.Session) []string {
	var out []string
	for _, p := range m.Participants {
		if strings.HasSuffix(p.Key(), ScreenSuffix) {
			out = append(out, p.Key())
		}
	}
	return out
}

// aspects are the picture aspects of m's participants for the Auto
// layout: their first camera track's size as recorded, or else as sizes
// (the complete files probed, by path) says.
func aspects(m *manifest.Session, sizes map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, p := range m.Participants {
		for _, t := range p.VideoTracks() {
			if t.Width > 0 && t.Height > 0 {
				out[p.Key()] = float64(t.Width) / float64(t.Height)
				break
			}
			if a := sizes[t.Path]; a > 0 {
				out[p.Key()] = a
				break
			}
		}
	}
	return out
}

// probeAspects opens the first complete camera file of each participant
// whose track has no recorded size (prototype manifests) and adds its
// picture aspect to sizes; a file that does not open is left out (the
// composition reports it).
func probeAspects(m *manifest.Session, final bool, sizes map[string]float64, opts demux.Options) {
	for _, p := range m.Participants {
		ts := p.VideoTracks()
		if len(ts) == 0 || ts[0].Width > 0 || (!final && !ts[0].Complete) {
			continue
		}
		if _, seen := sizes[ts[0].Path]; seen {
			continue
		}
		sizes[ts[0].Path] = 0
		d, err := demux.Open(ts[0].Path, demux.Video, opts)
		if err != nil {
			continue
		}
		if cc := d.CodecContext(); cc.Width() > 0 && cc.Height() > 0 {
			sizes[ts[0].Path] = float64(cc.Width()) / float64(cc.Height())
		}
		d.Close()
	}
}

// usesSpeakers says whether the layout needs the speaker detection.
func usesSpeakers(k timeline.LayoutKind) bool {
	return k == timeline.Speaker || k == timeline.SingleSpeaker
}

// ScreenNameSuffix is added to the name of a participant's screen share
// when compose shows a WHIP publisher's screen track as a participant of
// its own ([manifest.ScreenNameSuffix]).
const ScreenNameSuffix = manifest.ScreenNameSuffix

// splitScreens returns m with each participant's screen-share tracks
// (Source "screen" and "screen_audio", as recorder/whip records a track
// announced with a=content:slides) moved to a participant of their own,
// ID "<key>#screen" and name "<name> (screen)", present while the screen
// video track records (until the participant's last leave when it has no
// end yet), as recorder/livekit records a LiveKit share. m itself is not
// changed; it is returned as is when it has no screen track.
func splitScreens(m *manifest.Session) *manifest.Session {
	if m == nil {
		return m
	}
	has := false
	for _, p := range m.Participants {
		for _, t := range p.Tracks {
			has = has || t.Source == manifest.SourceScreen
		}
	}
	if !has {
		return m
	}
	out := m.Clone()
	for _, p := range m.Participants {
		var screen []manifest.Track
		var spans []manifest.Interval
		for _, t := range p.Tracks {
			switch t.Source {
			case manifest.SourceScreen:
				end := p.LeaveTimeS
				if t.EndS != nil {
					end = *t.EndS
				}
				if iv := (manifest.Interval{JoinS: max(t.StartS, p.JoinTimeS), LeaveS: min(end, p.LeaveTimeS)}); iv.LeaveS > iv.JoinS {
					spans = append(spans, iv)
				}
				t.Source = manifest.SourceCamera
			case manifest.SourceScreenAudio:
				t.Source = manifest.SourceMicrophone
			default:
				continue
			}
			screen = append(screen, t)
		}
		if len(spans) == 0 {
			continue
		}
		slices.SortFunc(spans, func(a, b manifest.Interval) int { return cmp.Compare(a.JoinS, b.JoinS) })
		merged := spans[:1]
		for _, iv := range spans[1:] {
			if last := &merged[len(merged)-1]; iv.JoinS <= last.LeaveS {
				last.LeaveS = max(last.LeaveS, iv.LeaveS)
				continue
			}
			merged = append(merged, iv)
		}
		sp := manifest.Participant{ID: p.Key() + ScreenSuffix, Name: p.Name + ScreenNameSuffix, Tracks: screen}
		sp.SetPresence(merged)
		out.Participants = append(out.Participants, sp)
	}
	return out
}
