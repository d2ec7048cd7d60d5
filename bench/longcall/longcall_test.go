package main

import (
	"testing"
	"time"
)

// Bounds of the long-call test.
const (
	// longCall is the suite's long call: 20 minutes, recorded through the
	// recorder's API faster than real time (see the package doc) and
	// composed small (320x180 at 15 fps, ultrafast) to keep the suite's
	// CPU modest; bench/longcall runs the 2-hour one.
	longCall = 20 * time.Minute
	// maxRecordGrowth bounds the RSS growth while recording from a quarter
	// of the call on: the recorder holds no per-frame state, so memory is
	// flat up to allocator noise.
	maxRecordGrowth = 16 << 20
	// maxComposeGrowth bounds the RSS growth while composing from a
	// quarter of the output on: decoders, filter graph and encoder are
	// allocated once per window; a leak per frame (36,000 frames here)
	// or per second would exceed it.
	maxComposeGrowth = 48 << 20
)

// TestLongCall records a 20-minute call of three participants (four
// layout windows), composes it and checks the output in every window
// (tint, motion, flash/beep pairs for all but one of the markers sent,
// markers where they were sent: no drift), with memory flat in both
// phases.
func TestLongCall(t *testing.T) {
	if testing.Short() {
		t.Skip("records, composes and decodes a 20-minute call (about a minute of CPU)")
	}
	cfg := Config{
		Duration: longCall, Dir: t.TempDir(),
		Width: 320, Height: 180, FPS: 30,
		OutWidth: 320, OutHeight: 180, OutFPS: 15, Preset: "ultrafast",
		Sample: time.Minute,
	}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("record %v (CPU %v), files %.1f MB; compose %v (CPU %v), output %.1f MB",
		res.Record, res.RecordCPU, float64(res.FileBytes)/1e6, res.Compose, res.ComposeCPU, float64(res.OutputBytes)/1e6)
	if got := res.Manifest.End(); got != longCall {
		t.Errorf("session ends at %v, want %v", got, longCall)
	}
	for _, c := range []struct {
		phase string
		max   int64
	}{{"record", maxRecordGrowth}, {"compose", maxComposeGrowth}} {
		lo, hi := res.MaxRSS(c.phase, longCall/4)
		t.Logf("%s RSS from %v on: %d..%d MB", c.phase, longCall/4, lo>>20, hi>>20)
		if lo <= 0 {
			t.Errorf("%s: no memory sample", c.phase)
		} else if hi-lo > c.max {
			t.Errorf("%s: RSS grew from %d to %d MB (bound %d MB)", c.phase, lo>>20, hi>>20, c.max>>20)
		}
	}
	cr, err := Check(res.Manifest, res.Output, cfg.OutWidth, cfg.OutHeight, cfg.OutFPS)
	if cr != nil {
		t.Logf("%d windows, %d flash/beep pairs of %d markers sent, max |A/V| %v, max marker drift %v", cr.Windows, cr.Pairs, cr.Sent, cr.MaxAV, cr.MaxDrift)
	}
	if err != nil {
		t.Fatal(err)
	}
}
