package compose_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
)

// TestLayoutFrames writes one composition per layout into the directory
// named by ROOMTAPE_DOCS_FRAMES, from which scripts take the README's
// pictures (docs/layouts): five people, two on portrait phones and one
// without a camera, B talking, and A sharing a screen in the last one.
func TestLayoutFrames(t *testing.T) {
	dir := os.Getenv("ROOMTAPE_DOCS_FRAMES")
	if dir == "" {
		t.Skip("ROOMTAPE_DOCS_FRAMES is not set: it names the directory for the README's layout frames")
	}
	end := 8 * time.Second
	people := []testmedia.Participant{
		{Name: "Ann", Leave: end},
		{Name: "Bo", Leave: end, Talk: []testmedia.Span{{From: time.Second, To: 7 * time.Second}}},
		{Name: "Pia (phone)", Leave: end, Width: 180, Height: 320},
		{Name: "Dev (audio)", Leave: end, Video: testmedia.NoVideo},
		{Name: "Raj (phone)", Leave: end, Width: 180, Height: 320},
	}
	share := append(append([]testmedia.Participant(nil), people...),
		testmedia.Participant{Name: "Ann#screen", Leave: end, Width: 320, Height: 200, Audio: testmedia.NoAudio})
	for _, sc := range []struct {
		name   string
		layout timeline.LayoutKind
		parts  []testmedia.Participant
	}{
		{"columns", timeline.Columns, people},
		{"grid", timeline.Grid, people},
		{"auto", timeline.Auto, people},
		{"speaker", timeline.Speaker, people},
		{"single-speaker", timeline.SingleSpeaker, people},
		{"screen-share", timeline.Speaker, share},
	} {
		src := filepath.Join(t.TempDir(), sc.name)
		s, _, err := testmedia.Make(context.Background(), src, sc.parts, testmedia.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig
		cfg.Layout, cfg.Labels = sc.layout, true
		if err := compose.Session(context.Background(), s, filepath.Join(dir, sc.name+".mp4"), cfg); err != nil {
			t.Fatal(err)
		}
	}
}
