package compose

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/internal/testmedia"
)

// BenchmarkMeter measures one minute of a participant's Opus microphone
// file (Matroska, as recorded) the way the speaker layouts do: the CPU
// cost of their extra decode, reported as CPU-ms per minute of audio.
func BenchmarkMeter(b *testing.B) {
	dir := b.TempDir()
	s, _, err := testmedia.Make(context.Background(), dir, []testmedia.Participant{
		{
			Name: "A", Leave: time.Minute, Video: testmedia.NoVideo, Audio: testmedia.OpusMKV,
			Talk: []testmedia.Span{{From: 5 * time.Second, To: 40 * time.Second}},
		},
	}, testmedia.Options{})
	if err != nil {
		b.Fatal(err)
	}
	tr := s.Participants[0].AudioTracks()[0]
	opts := demux.Options{Logger: slog.New(slog.DiscardHandler), Threads: 1}
	b.ResetTimer()
	for b.Loop() {
		m := newMeter("A", newTrackFile(tr, true), opts)
		<-m.st.exited
		if len(m.levels) < 2900 {
			b.Fatalf("%d levels for a minute", len(m.levels))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/min-audio")
}
