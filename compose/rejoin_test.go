package compose_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// TestRejoinFiles composes a participant who left and rejoined and whose
// recorder therefore wrote a second camera and microphone file (as
// recorder does: one file per track start). Both files must be used: the
// second one's picture in the tile after the rejoin and its beeps in the
// mix at its own start.
func TestRejoinFiles(t *testing.T) {
	dir := t.TempDir()
	// B's second visit is generated as a participant of its own (index 2,
	// so its tint and tone differ from its first file's) and then folded
	// into B.
	parts := []testmedia.Participant{
		{Name: "A", Leave: 12 * time.Second, Audio: testmedia.NoAudio},
		{Name: "B", Join: 2 * time.Second, Leave: 5 * time.Second, Video: testmedia.VP8MKV, Audio: testmedia.OpusMKV},
		{Name: "B2", Join: 8 * time.Second, Leave: 12 * time.Second, Video: testmedia.VP8MKV, Audio: testmedia.OpusMKV},
	}
	s, _, err := testmedia.Make(context.Background(), dir, parts, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, b2 := &s.Participants[1], s.Participants[2]
	b.Tracks = append(b.Tracks, b2.Tracks...)
	b.Presence = []manifest.Interval{{JoinS: 2, LeaveS: 5}, {JoinS: 8, LeaveS: 12}}
	b.LeaveTimeS = 12
	s.Participants = s.Participants[:2]
	if got := len(b.VideoTracks()); got != 2 {
		t.Fatalf("B has %d camera tracks, want 2", got)
	}

	out := filepath.Join(dir, "out.mp4")
	if err := compose.Session(context.Background(), s, out, testConfig); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("output mode = %v (%v), want -rw-r--r-- like the recorder's files", st.Mode(), err)
	}
	// Two tiles side by side while B is present; B is the right one.
	right := timeline.Tiles(timeline.Columns, 2, testWidth, testHeight)[1]
	pic, _ := timeline.Place(right, 320, 180, timeline.Letterbox)
	rep, err := mediacheck.Analyze(out, mediacheck.Options{
		Regions: []timeline.Rect{shrink(pic, edgeMargin)},
		Freqs:   []float64{testmedia.Freqs[1], testmedia.Freqs[2]},
	})
	if err != nil {
		t.Fatal(err)
	}
	pal := testmedia.Palette()
	for _, c := range []struct {
		at   time.Duration
		tint int
	}{{3500 * time.Millisecond, 1}, {10500 * time.Millisecond, 2}} {
		m, _ := rep.MeanAt(0, c.at)
		if k, sim := mediacheck.Nearest(m, pal); k != c.tint || sim < minTintSimilarity {
			t.Errorf("%v: B's tile shows tint %d (similarity %.2f), want the tint of file %d", c.at, k, sim, c.tint)
		}
	}
	// The second file's beeps sit at its own start + 2k s on the session
	// clock.
	checkTimes(t, "second file's beeps", rep.BeepOnsets(testmedia.Freqs[2]), testmedia.FlashTimes(parts[2], 0, 12*time.Second))
	checkTimes(t, "first file's beeps", rep.BeepOnsets(testmedia.Freqs[1]), testmedia.FlashTimes(parts[1], 0, 12*time.Second))
}
