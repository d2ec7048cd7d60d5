package browser

import "time"

// Presentation times without Sender Reports.
//
// A browser exposes, per encoded frame, its RTP timestamp, its SSRC and
// the instant its last packet arrived (RTCEncodedFrameMetadata
// receiveTime), and with the abs-capture-time header extension the
// sender's capture instant mapped onto the local clock (captureTime).
// It exposes no RTCP Sender Report, so the recorder cannot map RTP time to
// the sender's wall clock as pionrec does. trackClock instead maps each
// frame to
//
//	pts = media time + offset
//
// where media time is the frame's RTP timestamp (unwrapped, in seconds
// from the track's first frame) and offset is the least transit delay
// seen: the smallest (arrival - media time) over the frames so far. A
// frame that arrives late through jitter (or a large keyframe sent over
// several packets) is thus put back where its RTP timestamp says, and
// the track sits on the session clock where its fastest frames arrived.
// Audio and video of one sender cross the same path, so their least
// delays differ by the packetization of the smallest video frame: on a
// LAN or one machine a few milliseconds, under the 40 ms A/V budget.
//
// The offset follows the estimate down at once (a faster frame proves a
// smaller delay) and up by at most maxSlewUp per slewWindow when the
// least delay of a whole window is larger than it (sender and receiver
// clocks drift by tens of ppm, a route may lengthen): a lasting change
// is followed within seconds without letting jitter move the picture.
// An SSRC change or a jump of more than resetJump between media and
// arrival time (the sender restarted its track) restarts the mapping at
// the frame's arrival. So do smaller cuts of the RTP timeline, which an
// SFU makes when it switches a subscriber to another simulcast layer and
// rewrites the timestamps (livekit-server estimates the new layer's
// offset from its own clock): once the clock has settled, a frame that
// arrives more than stepThreshold earlier than the least delay allows, or
// frames that all arrive more than stepThreshold later for stepHold, mean
// the timeline moved, not the network; the frame's arrival is then the
// best estimate of its time.
//
// PTS never go backwards: a lowered offset that would put a frame before
// the previous one is clamped to just after it.
type trackClock struct {
	rate    float64 // RTP clock rate, Hz
	started bool
	ssrc    uint32
	lastRTP uint32
	ext     int64         // unwrapped RTP time since the base, in ticks
	offset  time.Duration // applied: pts = media + offset
	winMin  time.Duration // least delay in the current window
	winEnd  time.Duration // arrival that closes the window
	lastPTS time.Duration
	frames  int           // since the last restart
	lateAt  time.Duration // arrival of the first of a run of late frames; -1 if none
	// Restarts counts the mapping's restarts after the first frame (for
	// logs and tests).
	Restarts int
}

// Tuning of trackClock.
const (
	// slewWindow is the span over which the least delay is taken to move
	// the offset up.
	slewWindow = 5 * time.Second
	// maxSlewUp is the most the offset rises per window: 0.4 ms/s, ten
	// times the drift of two 40 ppm clocks, far below what a viewer
	// notices.
	maxSlewUp = 2 * time.Millisecond
	// resetJump is the largest believable change of transit delay; more
	// means the RTP timeline was cut.
	resetJump = 2 * time.Second
	// minStep separates two PTS clamped after a lowered offset.
	minStep = time.Millisecond
	// stepThreshold is the least change of transit delay taken as a cut
	// of the RTP timeline once settled: larger than the jitter of a LAN
	// or one machine's frames relative to their fastest, smaller than the
	// ~100 ms steps of an SFU's layer switch.
	stepThreshold = 60 * time.Millisecond
	// stepHold is how long every frame must arrive stepThreshold late
	// before the timeline counts as cut backwards.
	stepHold = time.Second
	// settleFrames is how many frames the least delay needs before steps
	// count (the first frames of a track are often queued).
	settleFrames = 50
)

// newTrackClock returns a clock for RTP timestamps at rate Hz.
func newTrackClock(rate uint32) *trackClock {
	if rate == 0 {
		rate = 90000
	}
	return &trackClock{rate: float64(rate)}
}

// pts maps a frame with RTP timestamp rtp of source ssrc, arrived at
// session time arrival, to its presentation time.
func (c *trackClock) pts(rtp, ssrc uint32, arrival time.Duration) time.Duration {
	if c.started && ssrc == c.ssrc {
		c.ext += int64(int32(rtp - c.lastRTP))
		c.lastRTP = rtp
		media := c.media()
		d := arrival - media
		switch {
		case d-c.offset > resetJump || c.offset-d > resetJump:
			c.restart(rtp, ssrc, arrival)
		case c.frames >= settleFrames && c.offset-d > stepThreshold:
			c.restart(rtp, ssrc, arrival) // the timeline jumped forward
		case c.frames >= settleFrames && d-c.offset > stepThreshold:
			if c.lateAt < 0 {
				c.lateAt = arrival
			}
			if arrival-c.lateAt >= stepHold {
				c.restart(rtp, ssrc, arrival) // the timeline jumped back
			} else {
				c.observe(d, arrival)
			}
		default:
			c.lateAt = -1
			c.observe(d, arrival)
		}
	} else {
		c.restart(rtp, ssrc, arrival)
	}
	c.frames++
	p := c.media() + c.offset
	if c.started && p <= c.lastPTS {
		p = c.lastPTS + minStep
	}
	c.lastPTS = p
	c.started = true
	return p
}

// media is the current frame's media time.
func (c *trackClock) media() time.Duration {
	return time.Duration(float64(c.ext) / c.rate * float64(time.Second))
}

// restart rebases the mapping on a frame that arrived at arrival.
func (c *trackClock) restart(rtp, ssrc uint32, arrival time.Duration) {
	if c.started {
		c.Restarts++
	}
	c.frames, c.lateAt = 0, -1
	c.ssrc, c.lastRTP, c.ext = ssrc, rtp, 0
	c.offset = arrival
	c.winMin = 0
	c.winEnd = arrival + slewWindow
}

// observe takes a frame's delay d (arrival - media time) into the offset.
func (c *trackClock) observe(d, arrival time.Duration) {
	if d < c.offset {
		c.offset = d
	}
	rel := d - c.offset // >= 0
	if c.winMin == 0 || rel < c.winMin {
		c.winMin = max(rel, 1) // 0 means unset
	}
	if arrival >= c.winEnd {
		c.offset += min(c.winMin, maxSlewUp)
		c.winMin = 0
		c.winEnd = arrival + slewWindow
	}
}
