package compose

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

	// Transport hints (after the call only; see readHints): hinted
	// participants get no meter.
	hintsRead bool
	hinted    map[string]bool
	levels    map[string][]speaker.Level // RFC 6464 levels on the output clock
	speech    []speaker.Track            // from active-speaker updates
	order     []string                   // participant keys, the session's order
	source    SpeakerSource
}

// SpeakerSource says where a composition's speaker turns come from.
type SpeakerSource int

// Speaker sources.
const (
	// SpeakersDecoded is every microphone file decoded and measured.
	SpeakersDecoded SpeakerSource = iota
	// SpeakersLevels is RFC 6464 level hints for some or all
	// participants, the others decoded.
	SpeakersLevels
	// SpeakersUpdates is a transport's active-speaker updates for every
	// participant, nothing decoded.
	SpeakersUpdates
)

// String returns "decoded", "levels" or "updates".
func (s SpeakerSource) String() string {
	switch s {
	case SpeakersDecoded:
		return "decoded"
	case SpeakersLevels:
		return "levels"
	case SpeakersUpdates:
		return "updates"
	}
	return fmt.Sprintf("SpeakerSource(%d)", int(s))
}

// readHints takes the transport hints of the hints file at path (empty:
// none) for the participants of m (the session as composed: its clock
// starts at offset on the session clock), as the package documentation
// (Layouts) orders them. A file that cannot be used is logged and
// ignored.
func (s *speakers) readHints(path string, m *manifest.Session, offset time.Duration, log *slog.Logger) {
	s.hinted = map[string]bool{}
	if path == "" {
		return
	}
	h, err := manifest.LoadHints(path)
	if err != nil {
		log.Warn("speaker hints unreadable: decoding the audio instead", "err", err)
		return
	}
	if h.Truncated {
		log.Warn("speaker hints truncated by their writer: decoding the audio instead", "file", path)
		return
	}
	keys := map[string]bool{}
	mics := map[string][]manifest.Track{}
	for _, p := range m.Participants {
		keys[p.Key()] = true
		s.order = append(s.order, p.Key())
		mics[p.Key()] = p.AudioTracks()
	}
	if len(h.Speakers) > 0 {
		ups := make([]speaker.Update, 0, len(h.Speakers))
		for _, u := range h.Speakers {
			// An update before the output's start holds from its start.
			up := speaker.Update{At: max(0, u.At-offset)}
			for _, id := range u.IDs {
				if keys[id] {
					up.IDs = append(up.IDs, id)
				}
			}
			ups = append(ups, up)
		}
		tracks, err := speaker.FromUpdates(ups, m.End())
		if err != nil {
			log.Warn("speaker hints unusable: decoding the audio instead", "file", path, "err", err)
			return
		}
		for k := range keys {
			s.hinted[k] = true
		}
		s.speech, s.source = tracks, SpeakersUpdates
		log.Info("speaker detection from the transport's active-speaker updates", "file", path, "updates", len(ups))
		return
	}
	s.levels = map[string][]speaker.Level{}
	for id, ls := range h.Levels {
		if !keys[id] || len(ls) == 0 {
			continue
		}
		out := make([]speaker.Level, 0, len(ls))
		for _, l := range ls {
			if at := l.At - offset; at >= 0 {
				out = append(out, speaker.Level{At: at, DBFS: -float64(l.DBov)})
			}
		}
		if t, ok := unhinted(mics[id], out, m.End()); ok {
			// Another client (a rejoin) sent no levels: decode.
			log.Info("speaker hints do not cover a microphone file: decoding the participant's audio", "participant", id, "file", t.Path)
			continue
		}
		s.levels[id], s.hinted[id] = out, true
		s.source = SpeakersLevels
	}
	if len(s.levels) > 0 {
		log.Info("speaker detection from RFC 6464 level hints", "file", path, "participants", len(s.levels), "of", len(keys))
	}
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
	if len(s.hinted) > 0 {
		in = s.withHints(in, end)
	}
	turns, err := speaker.Detect(in, max(end, 0), s.cfg)
	if err != nil {
		return fmt.Errorf("compose: speaker detection: %w", err)
	}
	s.turns, s.upTo = turns, end
	return nil
}

// unhinted returns a microphone track of tracks (ending at end when it has
// no end) in whose span levels has no level: a publication whose client
// sent no audio levels. Opus DTX still sends a packet every 400 ms, so a
// silent track has levels too.
func unhinted(tracks []manifest.Track, levels []speaker.Level, end time.Duration) (manifest.Track, bool) {
	for _, t := range tracks {
		from, to := t.Start(), end
		if e, ok := t.End(); ok {
			to = e
		}
		if to-from < minHintedTrack {
			continue
		}
		i, _ := slices.BinarySearchFunc(levels, from, func(l speaker.Level, at time.Duration) int { return cmp.Compare(l.At, at) })
		if i == len(levels) || levels[i].At >= to {
			return t, true
		}
	}
	return manifest.Track{}, false
}

// minHintedTrack is the shortest microphone track that must have level
// hints: shorter ones may hold no packet at all.
const minHintedTrack = time.Second

// withHints adds the hinted participants' tracks to the decoded ones in,
// all in the session's participant order (the detection's tie-break).
func (s *speakers) withHints(in []speaker.Track, end time.Duration) []speaker.Track {
	for id, ls := range s.levels {
		n, _ := slices.BinarySearchFunc(ls, end, func(l speaker.Level, t time.Duration) int { return cmp.Compare(l.At, t) })
		in = append(in, speaker.Track{ID: id, Levels: ls[:n]})
	}
	in = append(in, s.speech...)
	rank := make(map[string]int, len(s.order))
	for i, k := range s.order {
		rank[k] = i
	}
	slices.SortStableFunc(in, func(a, b speaker.Track) int { return cmp.Compare(rank[a.ID], rank[b.ID]) })
	return in
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

// SpeakerTurns runs the speaker detection of the Speaker and SingleSpeaker
// layouts over the recorded session m as [Session] does with cfg
// (cfg.Speaker, cfg.IgnoreHints, cfg.FullSpan) and returns the turns, on
// the output clock, and where they came from. It decodes only what the
// hints leave (see the package documentation, Layouts).
func SpeakerTurns(ctx context.Context, m *manifest.Session, cfg Config) ([]speaker.Interval, SpeakerSource, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, 0, err
	}
	if m == nil || len(m.Participants) == 0 {
		return nil, 0, ErrNoParticipants
	}
	sm, offset, err := cfg.span(splitScreens(m))
	if err != nil {
		return nil, 0, err
	}
	s := &speakers{cfg: cfg.Speaker, hintsRead: true}
	s.cfg.Lookahead = speaker.Unbounded
	defer s.close()
	if !cfg.IgnoreHints {
		s.readHints(m.Hints, sm, offset, cfg.Logger)
	}
	dopts := demux.Options{Logger: cfg.Logger, Threads: cfg.Threads}
	for _, p := range sm.Participants {
		if s.hinted[p.Key()] {
			continue
		}
		for _, t := range p.AudioTracks() {
			if err := checkFile(p.Name, t.Kind, t.Path); err != nil {
				return nil, 0, err
			}
			s.add(p.Key(), newTrackFile(t, true), dopts)
		}
	}
	if err := s.wait(ctx); err != nil {
		return nil, 0, err
	}
	if err := s.detectAll(sm.End()); err != nil {
		return nil, 0, err
	}
	return s.turns, s.source, nil
}
