package speaker

import (
	"fmt"
	"math"
	"time"
)

// Defaults of [Config].
const (
	DefaultBlock     = 20 * time.Millisecond
	DefaultSmoothing = 60 * time.Millisecond
	// DefaultFloorRise lets the noise floor climb 1 dB per second of
	// louder input: slow enough that a minute of talk without pauses
	// stays speech, fast enough to follow a fan switched on.
	DefaultFloorRise = 1.0
	DefaultOnAbove   = 12.0
	DefaultOffAbove  = 6.0
	// DefaultMinLevel keeps a quiet room's breathing or keyboard, however
	// far above a digital-silence floor, from counting as speech.
	DefaultMinLevel = -50.0
	DefaultHangover = 400 * time.Millisecond
	DefaultMinSpeak = time.Second
	DefaultMinHold  = 3 * time.Second
)

// Unbounded is a Lookahead without limit, for offline composition.
const Unbounded = time.Duration(math.MaxInt64)

// Config tunes [Activity] and [Detect]. The zero value gives the defaults
// below; fields are (optional) unless said otherwise.
type Config struct {
	// Block is the length of one level block; defaults to DefaultBlock
	// (20 ms). Levels are taken on this grid: a level covers the block
	// its At falls in (the loudest one when several do).
	Block time.Duration
	// Smoothing is the time constant of the exponential smoothing of the
	// level (in dB); defaults to DefaultSmoothing (60 ms); negative
	// disables it.
	Smoothing time.Duration
	// FloorRise is how fast, in dB per second, the noise floor follows a
	// louder input; it follows a quieter one at once. Defaults to
	// DefaultFloorRise (1 dB/s).
	FloorRise float64
	// OnAbove is how far above the noise floor, in dB, the smoothed level
	// must be to start speech; defaults to DefaultOnAbove (12 dB).
	OnAbove float64
	// OffAbove is how far above the floor it must stay to go on: below it
	// for Hangover, speech ends (hysteresis); defaults to DefaultOffAbove
	// (6 dB). It must not exceed OnAbove.
	OffAbove float64
	// MinLevel is the smoothed level, in dBFS, below which nothing is
	// speech whatever the floor; defaults to DefaultMinLevel (-50 dBFS).
	MinLevel float64
	// Hangover is how long the level may stay below the off threshold
	// inside speech (pauses between words); defaults to DefaultHangover
	// (400 ms), negative disables it.
	Hangover time.Duration
	// MinSpeak is how long a participant must speak while the current
	// speaker is silent before taking the main area; defaults to
	// DefaultMinSpeak (1 s), negative makes it immediate.
	MinSpeak time.Duration
	// MinHold is how long a speaker keeps the main area at least once it
	// has it; defaults to DefaultMinHold (3 s), negative disables it.
	MinHold time.Duration
	// Lookahead is how far past a decision Detect may use levels: a switch
	// decided at time d is placed as early as d - Lookahead (at the
	// previous speaker's end or the new speaker's onset), so that the main
	// area changes when the turn changes instead of MinSpeak later.
	// Defaults to 0 (causal). A live composer uses at most its fixed delay;
	// offline composition uses [Unbounded].
	Lookahead time.Duration
}

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	dur := func(d *time.Duration, def time.Duration) {
		switch {
		case *d == 0:
			*d = def
		case *d < 0:
			*d = 0
		}
	}
	if c.Block == 0 {
		c.Block = DefaultBlock
	}
	if c.Block < time.Millisecond || c.Block > time.Second {
		return c, fmt.Errorf("%w: Block %v: must be 1ms to 1s", ErrConfig, c.Block)
	}
	dur(&c.Smoothing, DefaultSmoothing)
	dur(&c.Hangover, DefaultHangover)
	dur(&c.MinSpeak, DefaultMinSpeak)
	dur(&c.MinHold, DefaultMinHold)
	if c.Lookahead < 0 {
		return c, fmt.Errorf("%w: Lookahead %v: must not be negative", ErrConfig, c.Lookahead)
	}
	for _, f := range []struct {
		name string
		v    *float64
		def  float64
		lo   float64
		hi   float64
	}{
		{"FloorRise", &c.FloorRise, DefaultFloorRise, 0, 100},
		{"OnAbove", &c.OnAbove, DefaultOnAbove, 0, 100},
		{"OffAbove", &c.OffAbove, DefaultOffAbove, 0, 100},
		{"MinLevel", &c.MinLevel, DefaultMinLevel, Silence, 0},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
		if math.IsNaN(*f.v) || *f.v < f.lo || *f.v > f.hi {
			return c, fmt.Errorf("%w: %s %g: must be %g to %g", ErrConfig, f.name, *f.v, f.lo, f.hi)
		}
	}
	if c.OffAbove > c.OnAbove {
		return c, fmt.Errorf("%w: OffAbove %g above OnAbove %g", ErrConfig, c.OffAbove, c.OnAbove)
	}
	return c, nil
}
