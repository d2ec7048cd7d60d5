package compose

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// BenchmarkSpeakerHints finds the speaker turns of one minute of four
// people taking turns (Opus in Matroska, as recorded) from their decoded
// audio and from RFC 6464 level hints of the same plan, side by side in
// one run: what the hints save. Reported as cpu-ms per minute of session
// (the process's user+system CPU, the decoders run in goroutines of their
// own) with the turns found.
//
//	go test -run XXX -bench BenchmarkSpeakerHints -benchtime 3x ./compose
func BenchmarkSpeakerHints(b *testing.B) {
	const length = time.Minute
	dir := b.TempDir()
	var parts []testmedia.Participant
	for i, name := range []string{"A", "B", "C", "D"} {
		parts = append(parts, testmedia.Participant{
			Name: name, Leave: length, Video: testmedia.NoVideo, Audio: testmedia.OpusMKV,
			Talk: []testmedia.Span{{From: time.Duration(1+15*i) * time.Second, To: time.Duration(13+15*i) * time.Second}},
		})
	}
	s, _, err := testmedia.Make(context.Background(), dir, parts, testmedia.Options{})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, manifest.HintsName)
	w, err := manifest.CreateHints(path)
	if err != nil {
		b.Fatal(err)
	}
	for i, p := range parts {
		for at := time.Duration(0); at < length; at += manifest.HintsStep {
			dbov := uint8(90)
			if at >= p.Talk[0].From && at < p.Talk[0].To {
				dbov = 20
			}
			w.Level(s.Participants[i].Key(), at, manifest.HintsStep, dbov)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	hinted := s.Clone()
	hinted.Hints = path
	for _, c := range []struct {
		name string
		m    *manifest.Session
		src  SpeakerSource
	}{
		{"decoded", s, SpeakersDecoded},
		{"hints", hinted, SpeakersLevels},
	} {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := processCPU()
			var n int
			for b.Loop() {
				turns, src, err := SpeakerTurns(b.Context(), c.m, Config{})
				if err != nil {
					b.Fatal(err)
				}
				if src != c.src || len(turns) != 4 {
					b.Fatalf("turns %v from %v, want 4 from %v", turns, src, c.src)
				}
				n++
			}
			b.ReportMetric(float64((processCPU()-cpu0).Milliseconds())/float64(n), "cpu-ms/min")
		})
	}
}
