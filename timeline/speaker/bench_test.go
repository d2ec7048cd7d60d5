package speaker_test

import (
	"testing"
	"time"

	"github.com/roomtape/roomtape/timeline/speaker"
)

// BenchmarkDetectHour is one detection over an hour of four participants
// taking 20 s turns (what a live composition reruns every 500 ms at the
// end of an hour-long call).
func BenchmarkDetectHour(b *testing.B) {
	end := time.Hour
	var tracks []speaker.Track
	for i, id := range []string{"a", "b", "c", "d"} {
		var spans []talk
		for at := time.Duration(i) * 20 * time.Second; at < end; at += 80 * time.Second {
			spans = append(spans, talk{at, at + 20*time.Second})
		}
		tracks = append(tracks, levels(id, end, true, spans...))
	}
	cfg := speaker.Config{Lookahead: 2 * time.Second}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := speaker.Detect(tracks, end, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
