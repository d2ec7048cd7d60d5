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

// composeDiskSize is the file system the composition is written to: far
// less than the output of TestComposeDiskFull's 8 s session.
const composeDiskSize = 128 << 10

// TestComposeDiskFull composes onto a full disk (ENOSPC): the error says
// so and names no success, and nothing is left under the final name (nor a
// partial file).
func TestComposeDiskFull(t *testing.T) {
	dir := netns.EnterTmpfs(t, composeDiskSize)
	if dir == "" {
		return
	}
	s, _, err := testmedia.Make(context.Background(), t.TempDir(), []testmedia.Participant{
		{Name: "A", Leave: 8 * time.Second},
		{Name: "B", Join: time.Second, Leave: 8 * time.Second},
	}, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mp4")
	err = compose.Session(context.Background(), s, out, testConfig)
	if err == nil {
		t.Fatalf("composed into a %d-byte file system without an error", composeDiskSize)
	}
	t.Logf("compose error: %v", err)
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
}
