package speaker

import (
	"fmt"
	"math"
	"time"
)

// maxGapBlocks is how many blocks without a level a track may have before
// it counts as silent: levels stamped from packet times jitter around the
// block grid, so two may fall in one block and none in the next.
const maxGapBlocks = 2

// meter is one track's speech state, stepped block by block.
type meter struct {
	cfg    Config
	alpha  float64
	rise   float64 // dB per block
	levels []Level
	next   int // first level not yet taken

	smooth, floor float64
	started       bool // smooth holds a value
	floorSet      bool
	lastData      int64
	last          float64 // last block's level, reused over a short gap

	on         bool
	onset      time.Duration // start of the current speech run
	below      bool          // under the off threshold inside speech
	belowSince time.Duration
	lastEnd    time.Duration // end of the last finished run of at least MinSpeak/2
	out        []Interval    // finished runs, when collect is set
	collect    bool
	id         string

	speech []Interval // Track.Speech: used instead of levels when set
	si     int        // first speech interval not ended
}

func newMeter(cfg Config, t Track, collect bool) *meter {
	alpha := 1.0
	if cfg.Smoothing > 0 {
		alpha = 1 - math.Exp(-float64(cfg.Block)/float64(cfg.Smoothing))
	}
	return &meter{
		cfg: cfg, alpha: alpha, rise: cfg.FloorRise * cfg.Block.Seconds(),
		levels: t.Levels, id: t.ID, collect: collect, lastData: math.MinInt64 / 2,
		speech: t.Speech,
	}
}

// take returns the loudest level of block k, if any.
func (m *meter) take(k int64) (float64, bool) {
	end := time.Duration(k+1) * m.cfg.Block
	db, has := Silence, false
	for m.next < len(m.levels) && m.levels[m.next].At < end {
		if v := m.levels[m.next].DBFS; v > db {
			db = v
		}
		has = true
		m.next++
	}
	return db, has
}

// nextBlock is the block of the next level not taken (the next speech
// interval's start), or -1.
func (m *meter) nextBlock() int64 {
	if len(m.speech) > 0 {
		if m.si >= len(m.speech) {
			return -1
		}
		return int64(m.speech[m.si].Start / m.cfg.Block)
	}
	if m.next >= len(m.levels) {
		return -1
	}
	return int64(m.levels[m.next].At / m.cfg.Block)
}

// step runs block k (starting at t).
func (m *meter) step(k int64, t time.Duration) {
	if len(m.speech) > 0 {
		m.stepSpeech(k, t)
		return
	}
	db, has := m.take(k)
	db = max(db, Silence)
	if has {
		m.lastData, m.last = k, db
	} else if k-m.lastData <= maxGapBlocks {
		db, has = m.last, true
	}
	if !has {
		// No audio: speech ends where the data did, the smoothing starts
		// afresh; the floor is kept.
		if m.on {
			m.end(min(t, time.Duration(m.lastData+1)*m.cfg.Block))
		}
		m.started = false
		return
	}
	if !m.started {
		m.smooth = db
		if !m.floorSet {
			m.floor, m.floorSet = db, true
		}
		m.started = true
	} else {
		m.smooth += m.alpha * (db - m.smooth)
	}
	if m.smooth < m.floor {
		m.floor = m.smooth
	} else {
		m.floor = min(m.smooth, m.floor+m.rise)
	}
	c := m.cfg
	onT := max(m.floor+c.OnAbove, c.MinLevel)
	offT := max(m.floor+c.OffAbove, c.MinLevel-(c.OnAbove-c.OffAbove))
	switch {
	case !m.on && m.smooth >= onT:
		m.on, m.onset, m.below = true, t, false
	case m.on && m.smooth < offT:
		if !m.below {
			m.below, m.belowSince = true, t
		}
		if t+c.Block-m.belowSince > c.Hangover {
			m.end(m.belowSince)
		}
	case m.on:
		m.below = false
	}
}

// stepSpeech runs block k (starting at t) of a track given as speech
// intervals: speech is on while t is inside one, from its start to its
// end.
func (m *meter) stepSpeech(k int64, t time.Duration) {
	for m.si < len(m.speech) && m.speech[m.si].End <= t {
		if m.on {
			m.end(m.speech[m.si].End)
		}
		m.si++
	}
	if m.si < len(m.speech) && m.speech[m.si].Start <= t {
		if !m.on {
			m.on, m.onset, m.below = true, m.speech[m.si].Start, false
		}
		m.lastData = k
	}
}

func (m *meter) end(at time.Duration) {
	at = max(at, m.onset)
	if m.collect && at > m.onset {
		m.out = append(m.out, Interval{Start: m.onset, End: at, ID: m.id})
	}
	if at-m.onset >= m.cfg.MinSpeak/2 {
		m.lastEnd = at
	}
	m.on, m.below = false, false
}

// validate checks a track's levels.
func validate(i int, t Track, seen map[string]bool) error {
	if t.ID == "" {
		return fmt.Errorf("%w: track %d: empty ID", ErrLevels, i)
	}
	if seen != nil {
		if seen[t.ID] {
			return fmt.Errorf("%w: track %d: duplicate ID %q", ErrLevels, i, t.ID)
		}
		seen[t.ID] = true
	}
	var prev time.Duration
	for k, l := range t.Levels {
		switch {
		case l.At < 0:
			return fmt.Errorf("%w: track %q level %d: negative time %v", ErrLevels, t.ID, k, l.At)
		case l.At < prev:
			return fmt.Errorf("%w: track %q level %d: time %v before the previous level's %v", ErrLevels, t.ID, k, l.At, prev)
		case math.IsNaN(l.DBFS) || math.IsInf(l.DBFS, 1):
			return fmt.Errorf("%w: track %q level %d: level %g", ErrLevels, t.ID, k, l.DBFS)
		}
		prev = l.At
	}
	var end time.Duration
	for k, iv := range t.Speech {
		if iv.Start < end || iv.End <= iv.Start {
			return fmt.Errorf("%w: track %q speech %d: [%v, %v) empty, or before the previous interval's end %v", ErrLevels, t.ID, k, iv.Start, iv.End, end)
		}
		end = iv.End
	}
	return nil
}

// Activity returns the speech intervals of t in [0, end), in time order,
// with t.ID: where its level, smoothed over Config.Smoothing, rises above
// max(floor + OnAbove, MinLevel) until it has stayed below
// max(floor + OffAbove, MinLevel - (OnAbove - OffAbove)) for longer than
// Hangover. The noise floor starts at the first level and follows the
// smoothed level down at once and up by FloorRise dB per second (so speech
// from the very first block counts from its first pause on). A gap of more than two blocks without levels
// is silence: speech ends where the levels stop. Levels at or after end are
// ignored; speech still on at end ends there.
func Activity(t Track, end time.Duration, cfg Config) ([]Interval, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if end < 0 {
		return nil, fmt.Errorf("%w: end %v", ErrLevels, end)
	}
	if t.ID == "" {
		t.ID = "-"
	}
	if err := validate(0, t, nil); err != nil {
		return nil, err
	}
	m := newMeter(cfg, t, true)
	run([]*meter{m}, end, nil)
	if m.on {
		m.end(end)
	}
	return m.out, nil
}

// run steps the meters over [0, end) block by block, calling decide (if
// not nil) after each block with the block's end. Spans in which no meter
// is speaking and none has a level are skipped.
func run(ms []*meter, end time.Duration, decide func(d time.Duration)) {
	block := ms[0].cfg.Block
	step(ms, 0, int64((end+block-1)/block), end, decide)
}

// step runs blocks [k, last) of the meters (see run) and returns the next
// block to run.
func step(ms []*meter, k, last int64, end time.Duration, decide func(d time.Duration)) int64 {
	if len(ms) == 0 {
		return max(k, last)
	}
	block := ms[0].cfg.Block
	for k < last {
		t := time.Duration(k) * block
		for _, m := range ms {
			m.step(k, min(t, end))
		}
		if decide != nil {
			decide(min(t+block, end))
		}
		k++
		busy := false
		nextK := int64(-1)
		for _, m := range ms {
			if m.on || k-m.lastData <= maxGapBlocks {
				busy = true
				break
			}
			if b := m.nextBlock(); b >= 0 && (nextK < 0 || b < nextK) {
				nextK = b
			}
		}
		if !busy {
			if nextK < 0 {
				return last
			}
			k = max(k, nextK)
		}
	}
	return k
}

// Detect returns the turns of tracks in [0, end): contiguous intervals,
// in time order, each naming the participant who holds the main area. It
// is empty until someone has spoken; from the first turn on, someone always
// holds it (silence keeps the last speaker), up to end.
//
// Stability rules, with speech as [Activity] finds it:
//   - a participant takes the main area after speaking for MinSpeak while
//     the current speaker is silent (counted from the later of their onset
//     and the end of the current speaker's last speech of at least
//     MinSpeak/2: a cough or a word does not restart the count, though it
//     holds the switch while it lasts) and while their level is above the
//     off threshold (not in a hangover): cross-talk never makes it flip,
//     and neither do interjections shorter than MinSpeak;
//   - the current speaker keeps it for at least MinHold, and for as long as
//     they speak;
//   - when several could take it, the one speaking alone the longest does
//     (then the first in tracks);
//   - the switch is decided MinSpeak after the new turn starts, and placed
//     as early as Lookahead allows: at the later of the new speaker's
//     onset, the previous speaker's end and the previous turn's start plus
//     MinHold, but no earlier than the decision minus Lookahead.
//
// Every turn but the last is at least MinHold long, and adjacent turns name
// different participants. With a finite Lookahead, the turns before
// T - Lookahead are the same whether or not levels after T exist (and
// whatever end is, beyond T): a live composer that knows every track's
// levels up to T may draw up to T - Lookahead.
func Detect(tracks []Track, end time.Duration, cfg Config) ([]Interval, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if end < 0 {
		return nil, fmt.Errorf("%w: end %v", ErrLevels, end)
	}
	seen := make(map[string]bool, len(tracks))
	for i, t := range tracks {
		if err := validate(i, t, seen); err != nil {
			return nil, err
		}
	}
	if len(tracks) == 0 || end == 0 {
		return nil, nil
	}
	d := &Detector{cfg: cfg, cur: -1}
	for _, t := range tracks {
		d.ms = append(d.ms, newMeter(cfg, t, false))
	}
	run(d.ms, end, d.decide)
	return d.turns(end), nil
}

// Detector is [Detect] run incrementally, for a live composer that learns
// levels as they are recorded: each [Detector.Advance] runs only the blocks
// it has not run yet. It is not safe for concurrent use.
type Detector struct {
	cfg Config
	ms  []*meter
	ids map[string]int
	k   int64 // next block to run

	cur      int // index in ms, -1 before anyone spoke
	curStart time.Duration
	out      []Interval
}

// NewDetector returns a Detector; cfg is as for Detect.
func NewDetector(cfg Config) (*Detector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Detector{cfg: cfg, cur: -1, ids: map[string]int{}}, nil
}

// Advance takes tracks' levels known up to upTo and returns the turns in
// [0, upTo), as Detect(tracks, upTo) does when upTo is a multiple of
// Config.Block (else up to the last whole block before it, the last turn
// running on to upTo). Each call gives every track's levels so far: the
// levels of the previous call with more after them; tracks may be added
// (by ID). Levels in blocks run by an earlier call are not looked at
// again (a new track's levels before them are ignored), so a call costs
// only the new blocks and levels.
func (d *Detector) Advance(tracks []Track, upTo time.Duration) ([]Interval, error) {
	if upTo < 0 {
		return nil, fmt.Errorf("%w: end %v", ErrLevels, upTo)
	}
	given := make(map[string]bool, len(tracks))
	for i, t := range tracks {
		if given[t.ID] {
			return nil, fmt.Errorf("%w: track %d: duplicate ID %q", ErrLevels, i, t.ID)
		}
		given[t.ID] = true
		j, seen := d.ids[t.ID]
		if !seen {
			if err := validate(i, t, nil); err != nil {
				return nil, err
			}
			j = len(d.ms)
			d.ids[t.ID] = j
			m := newMeter(d.cfg, t, false)
			for m.next < len(m.levels) && m.levels[m.next].At < time.Duration(d.k)*d.cfg.Block {
				m.next++
			}
			d.ms = append(d.ms, m)
			continue
		}
		m := d.ms[j]
		if len(t.Levels) < len(m.levels) {
			return nil, fmt.Errorf("%w: track %q: %d levels, fewer than the %d given before", ErrLevels, t.ID, len(t.Levels), len(m.levels))
		}
		from := max(0, len(m.levels)-1)
		if err := validate(i, Track{ID: t.ID, Levels: t.Levels[from:], Speech: t.Speech}, nil); err != nil {
			return nil, err
		}
		if len(t.Speech) < len(m.speech) {
			return nil, fmt.Errorf("%w: track %q: %d speech intervals, fewer than the %d given before", ErrLevels, t.ID, len(t.Speech), len(m.speech))
		}
		m.levels, m.speech = t.Levels, t.Speech
	}
	last := int64(upTo / d.cfg.Block)
	d.k = step(d.ms, d.k, last, upTo, d.decide)
	return d.turns(upTo), nil
}

// decide is the turn rule of Detect after the block ending at t.
func (d *Detector) decide(t time.Duration) {
	cfg, ms := d.cfg, d.ms
	if d.cur >= 0 && (ms[d.cur].on || t < d.curStart+cfg.MinHold) {
		return
	}
	best := -1
	var bestSince time.Duration
	for i, m := range ms {
		if i == d.cur || !m.on || m.below {
			continue
		}
		since := m.onset
		if d.cur >= 0 {
			since = max(since, ms[d.cur].lastEnd)
		}
		if t-since >= cfg.MinSpeak && (best < 0 || since < bestSince) {
			best, bestSince = i, since
		}
	}
	if best < 0 {
		return
	}
	s := bestSince
	if cfg.Lookahead < t {
		s = max(s, t-cfg.Lookahead)
	}
	if d.cur >= 0 {
		s = max(s, d.curStart+cfg.MinHold)
		if s > d.curStart {
			d.out = append(d.out, Interval{Start: d.curStart, End: s, ID: ms[d.cur].id})
		}
	}
	d.cur, d.curStart = best, s
}

// turns is the finished turns and the current one up to end.
func (d *Detector) turns(end time.Duration) []Interval {
	out := append([]Interval(nil), d.out...)
	if d.cur >= 0 && d.curStart < end {
		out = append(out, Interval{Start: d.curStart, End: end, ID: d.ms[d.cur].id})
	}
	return merge(out)
}

// merge joins adjacent turns of the same participant (a turn dropped
// because its successor took its whole span can leave two).
func merge(in []Interval) []Interval {
	out := in[:0]
	for _, iv := range in {
		if n := len(out); n > 0 && out[n-1].ID == iv.ID && out[n-1].End == iv.Start {
			out[n-1].End = iv.End
			continue
		}
		out = append(out, iv)
	}
	return out
}
