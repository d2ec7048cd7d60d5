package pionrec

import (
	"sync"
	"time"

	"github.com/roomtape/roomtape/recorder"
)

// maxSlew is the largest correction applied to video per unit of media
// time when its clock moves to Sender Report time on its own (a
// participant without audio), or follows the audio by less than
// videoFollow: 5 % keeps presentation times monotonic and absorbs a
// typical difference of a few tens of milliseconds within a second.
const maxSlew = 0.05

// videoFollow is how far video may be from the position the audio gives
// it before it steps there at once instead of slewing. Audio moves in
// steps (see audioResync), on the first Sender Report and whenever the
// participant's clock offset is revised; had video slewed after such a
// step, at 5 % it would lag the audio by up to the whole step for
// seconds (a 100 ms revision took 2 s, and a marker falling in between
// was 40 ms or more out of sync). Stepping with the audio keeps the two
// within a few milliseconds; a step back squeezes the frames it overlaps
// (see minVideoGap) as audio drops its packets.
const videoFollow = 5 * time.Millisecond

// minVideoGap separates video frames whose presentation time a step back
// would put at or before the previous frame's: they stay (dropping them
// would break decoding up to the next keyframe) but last this long, the
// resolution of the recorded files' timestamps.
const minVideoGap = time.Millisecond

// audioResync is the audio error beyond which the audio clock is corrected
// by a step (a gap forward, or dropped packets backward) rather than left
// alone: readers of the recorded files place audio by sample count from
// the first packet and only honour gaps of 20 ms or more, so smaller steps
// would not take effect anyway. Video follows the audio's remaining error,
// so the two stay in sync.
const audioResync = 30 * time.Millisecond

// settleWindow is how much media a track buffers before its first frame is
// written, unless a Sender Report comes first: long enough for a report
// (browsers send the first within about a second, and so does pion) to
// place the first frame exactly, and otherwise for the least delayed of
// the first packets to fix the arrival-time anchor, instead of trusting
// the first packet, which is often late. It only delays the start of a
// track, never its steady state.
const settleWindow = time.Second

// ntpEpochOffset is the number of seconds from 1900-01-01 (NTP) to
// 1970-01-01 (Unix).
const ntpEpochOffset = 2208988800

// ntpTime converts a 64-bit NTP timestamp to a time.Time.
func ntpTime(ntp uint64) time.Time {
	secs := int64(ntp>>32) - ntpEpochOffset
	frac := (ntp & 0xffffffff) * uint64(time.Second) >> 32
	return time.Unix(secs, int64(frac))
}

// unwrapper extends 32-bit RTP timestamps to 64 bits.
type unwrapper struct {
	last int64
	init bool
}

// update unwraps ts relative to the last value and remembers the result;
// a reordered (older) timestamp unwraps to a smaller value.
func (u *unwrapper) update(ts uint32) int64 {
	if !u.init {
		u.init = true
		u.last = int64(ts)
		return u.last
	}
	u.last += int64(int32(ts - uint32(u.last)))
	return u.last
}

// near unwraps ts relative to the last value without remembering it.
func (u *unwrapper) near(ts uint32) int64 {
	if !u.init {
		return int64(ts)
	}
	return u.last + int64(int32(ts-uint32(u.last)))
}

// clockGroup holds what the tracks of one participant share: the offset
// from the sender's NTP clock to the local wall clock, and the audio's
// remaining error against Sender Report time, which video follows.
type clockGroup struct {
	mu       sync.Mutex
	offset   time.Duration
	have     bool
	residual time.Duration
	// audio says whether an audio track has placed itself against Sender
	// Report time (residual is meaningful): video then follows it.
	audio bool
	refs  int
	// recent are the delays (arrival minus NTP time) of the reports of
	// the last offsetWindow, oldest first, at most maxRecentReports.
	recent []reportDelay
}

// reportDelay is a Sender Report's arrival time and its delay against
// the sender's NTP clock.
type reportDelay struct {
	at time.Time
	d  time.Duration
}

// offsetWindow is how long every report must have come more delayed than
// the offset says, by offsetRevision or more, before the offset follows
// them up. A sender clock running slow makes each report look more delayed
// than the last (by 1 ms a second at 0.1 %): without this the offset,
// revised only downward, would stay at the first report's and the
// participant's media would drift early against the session, by 3.6 s an
// hour at 0.1 %. The offset lags such a clock by about the drift over the
// window (5 ms at 0.1 %) plus offsetRevision. A path that gets slower for
// good (a queue that stays full) is followed likewise.
const offsetWindow = 5 * time.Second

// maxRecentReports bounds the reports kept for offsetWindow (a sender
// sends about one a second per track).
const maxRecentReports = 64

// observe takes a Sender Report with NTP time ntp that arrived at local
// time arrival. The first report gives the offset; a later one replaces it
// when it was less delayed by offsetRevision or more, and the least delay
// of the last offsetWindow replaces it when that is larger by
// offsetRevision or more.
func (g *clockGroup) observe(arrival, ntp time.Time) {
	d := arrival.Sub(ntp)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.recent) == maxRecentReports {
		g.recent = append(g.recent[:0], g.recent[1:]...)
	}
	g.recent = append(g.recent, reportDelay{at: arrival, d: d})
	full := false // the reports cover the whole window
	for len(g.recent) > 1 && arrival.Sub(g.recent[0].at) > offsetWindow {
		g.recent, full = g.recent[1:], true
	}
	switch {
	case !g.have || d <= g.offset-offsetRevision:
		g.offset, g.have = d, true
	case full:
		least := d
		for _, r := range g.recent {
			least = min(least, r.d)
		}
		if least >= g.offset+offsetRevision {
			g.offset = least
		}
	}
}

// offsetRevision is the least improvement that revises a participant's
// sender-to-local clock offset. Every revision moves its tracks on the
// session clock, which audio can follow only in whole packets, costing up
// to half a packet of A/V sync; small revisions (report delays jitter by
// a few milliseconds, tens under load) are not worth that, large ones
// (a first report delayed by a stall) are.
const offsetRevision = 50 * time.Millisecond

// get returns the offset and whether one is known.
func (g *clockGroup) get() (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.offset, g.have
}

// setResidual records the audio's error against Sender Report time.
func (g *clockGroup) setResidual(r time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.residual, g.audio = r, true
}

// getResidual returns the audio's error against Sender Report time and
// whether an audio track has set it.
func (g *clockGroup) getResidual() (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.residual, g.audio
}

// groups maps participants to their clock groups while they have tracks
// being recorded.
var groups = struct {
	mu sync.Mutex
	m  map[*recorder.Participant]*clockGroup
}{m: map[*recorder.Participant]*clockGroup{}}

// acquireGroup returns p's clock group; releaseGroup must follow.
func acquireGroup(p *recorder.Participant) *clockGroup {
	groups.mu.Lock()
	defer groups.mu.Unlock()
	g := groups.m[p]
	if g == nil {
		g = &clockGroup{}
		groups.m[p] = g
	}
	g.refs++
	return g
}

// releaseGroup drops a reference taken by acquireGroup.
func releaseGroup(p *recorder.Participant) {
	groups.mu.Lock()
	defer groups.mu.Unlock()
	if g := groups.m[p]; g != nil {
		g.refs--
		if g.refs <= 0 {
			delete(groups.m, p)
		}
	}
}

// trackClock maps a track's unwrapped RTP timestamps onto the session
// clock (see the package documentation): anchored at the least delayed of
// its first packets, then following Sender Reports, by slewing for video
// and by rare steps for audio.
type trackClock struct {
	rate        int64
	audio       bool
	sessionTime func(time.Time) time.Duration
	group       *clockGroup

	anchored  bool
	fixed     bool
	anchorExt int64
	anchorPTS time.Duration

	corr     time.Duration
	lastExt  int64
	haveLast bool
	// lastPTS is the latest presentation time returned (video only).
	lastPTS time.Duration
	// audioFrame is the duration of the latest audio packet.
	audioFrame time.Duration

	srMu  sync.Mutex
	srSet bool
	srExt int64
	srNTP time.Time
}

// ticks converts a number of RTP clock ticks to a duration.
func (c *trackClock) ticks(n int64) time.Duration {
	return time.Duration(n * int64(time.Second) / c.rate)
}

// arrival takes a packet with timestamp ext that arrived at local time at:
// until the anchor is fixed, the least delayed packet sets it.
func (c *trackClock) arrival(ext int64, at time.Time) {
	if c.fixed {
		return
	}
	if !c.anchored {
		c.anchored = true
		c.anchorExt = ext
		c.anchorPTS = c.sessionTime(at)
		return
	}
	if cand := c.sessionTime(at) - c.ticks(ext-c.anchorExt); cand < c.anchorPTS {
		c.anchorPTS = cand
	}
}

// hasReport reports whether a Sender Report and the group's offset are
// known.
func (c *trackClock) hasReport() bool {
	c.srMu.Lock()
	set := c.srSet
	c.srMu.Unlock()
	_, ok := c.group.get()
	return set && ok
}

// senderReport records an RTP↔NTP pair of this track's SSRC (ext already
// unwrapped) received at local time at.
func (c *trackClock) senderReport(ext int64, ntp, at time.Time) {
	c.group.observe(at, ntp)
	c.srMu.Lock()
	defer c.srMu.Unlock()
	c.srSet, c.srExt, c.srNTP = true, ext, ntp
}

// target returns the correction that maps ext onto Sender Report time, or
// false before a report is known.
func (c *trackClock) target(ext int64, base time.Duration) (time.Duration, bool) {
	c.srMu.Lock()
	set, srExt, srNTP := c.srSet, c.srExt, c.srNTP
	c.srMu.Unlock()
	if !set {
		return 0, false
	}
	off, ok := c.group.get()
	if !ok {
		return 0, false
	}
	wall := srNTP.Add(c.ticks(ext - srExt)).Add(off)
	return c.sessionTime(wall) - base, true
}

// pts returns the session time of the frame with unwrapped timestamp ext.
// Calls come from one goroutine, in timestamp order for audio and in
// decode order for video (timestamps go back for B-frames).
func (c *trackClock) pts(ext int64) time.Duration {
	c.fixed = true
	base := c.anchorPTS + c.ticks(ext-c.anchorExt)
	if tgt, ok := c.target(ext, base); ok {
		if c.audio {
			c.stepAudio(tgt)
		} else {
			residual, withAudio := c.group.getResidual()
			c.slewVideo(ext, tgt+residual, withAudio)
		}
	}
	pts := base + c.corr
	if !c.audio && c.haveLast && ext > c.lastExt && pts < c.lastPTS+minVideoGap {
		// A step back: squeeze this frame after the previous one. A
		// frame whose timestamp is older than the latest (H.264
		// B-frames, sent in decode order) is presented before it and
		// keeps its time.
		pts = c.lastPTS + minVideoGap
	}
	if !c.haveLast || ext > c.lastExt {
		c.lastExt, c.haveLast = ext, true
		c.lastPTS = pts
	}
	return pts
}

// stepAudio moves the audio correction to tgt when the error exceeds
// audioResync (or before the first frame) and publishes what remains. A
// step forward leaves a gap, which readers honour exactly; a step back
// can only drop whole packets (the writer drops those the step overlaps),
// so it is rounded to whole packets and the rest stays as the residual.
func (c *trackClock) stepAudio(tgt time.Duration) {
	d := tgt - c.corr
	switch {
	case !c.haveLast || d > audioResync:
		c.corr = tgt
	case d < -audioResync:
		frame := c.audioFrame
		if frame <= 0 {
			frame = defaultAudioFrame
		}
		n := (-d + frame/2) / frame
		c.corr -= n * frame
	}
	c.group.setResidual(c.corr - tgt)
}

// defaultAudioFrame is the audio packet duration assumed before one is
// known: WebRTC's Opus default.
const defaultAudioFrame = 20 * time.Millisecond

// slewVideo moves the video correction toward tgt by at most maxSlew of
// the media time since the previous frame; at once before the first
// frame, and, when tgt follows an audio track (withAudio), whenever it is
// more than videoFollow away, so that video steps when the audio does.
func (c *trackClock) slewVideo(ext int64, tgt time.Duration, withAudio bool) {
	if !c.haveLast || (withAudio && (tgt-c.corr > videoFollow || c.corr-tgt > videoFollow)) {
		c.corr = tgt
		return
	}
	elapsed := c.ticks(ext - c.lastExt)
	if elapsed <= 0 {
		return
	}
	step := time.Duration(float64(elapsed) * maxSlew)
	switch {
	case tgt > c.corr+step:
		c.corr += step
	case tgt < c.corr-step:
		c.corr -= step
	default:
		c.corr = tgt
	}
}
