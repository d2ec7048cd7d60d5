package compose_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/internal/testmedia"
)

// TestComposeDiskFull composes onto a full disk (ENOSPC), in two places:
// while encoding (the file system holds far less than the output) and
// while finalising (it holds the progressive file but not the final copy
// beside it). Either way the error says the disk is full, and nothing is
// left under the final name, nor a partial file.
func TestComposeDiskFull(t *testing.T) {
	s, _, err := testmedia.Make(context.Background(), t.TempDir(), []testmedia.Participant{
		{Name: "A", Leave: 8 * time.Second},
		{Name: "B", Join: time.Second, Leave: 8 * time.Second},
	}, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The output's size on a disk with room.
	ref := filepath.Join(t.TempDir(), "ref.mp4")
	if err := compose.Session(context.Background(), s, ref, testConfig); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		size int64
	}{
		{"encoding", fi.Size() / 4},
		// Room for the progressive file and half of the final one: a
		// tmpfs needs a page or two per file beyond its bytes.
		{"finalising", fi.Size() * 3 / 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := netns.EnterTmpfs(t, c.size)
			if dir == "" {
				return
			}
			out := filepath.Join(dir, "out.mp4")
			err := compose.Session(context.Background(), s, out, testConfig)
			if err == nil {
				t.Fatalf("composed %d bytes into a %d-byte file system without an error", fi.Size(), c.size)
			}
			t.Logf("output %d bytes, file system %d: %v", fi.Size(), c.size, err)
			if !strings.Contains(strings.ToLower(err.Error()), "no space left on device") {
				t.Errorf("error %q does not say the disk is full", err)
			}
			if _, serr := os.Stat(out); !os.IsNotExist(serr) {
				t.Errorf("%s exists after a failed composition (stat: %v)", out, serr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("files left behind on the full disk: %v", names)
			}
		})
	}
}
