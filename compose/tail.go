package compose

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/roomtape/roomtape/timeline/manifest"
)

// tailPoll is how often a reader at the end of a file still being recorded
// looks for more bytes. The recorder writes a cluster at least once a
// second (recorder/internal/mkv.ClusterTime); a live composition runs
// seconds behind, so 20 ms adds nothing to its delay and costs ~50 wake-ups
// a second per open track.
const tailPoll = 20 * time.Millisecond

// errStopped is returned by reads after the composition stopped them.
var errStopped = errors.New("compose: input stopped")

// trackFile is one media file of a participant on the session clock. The
// composer's owner goroutine creates it and sets complete; the input's
// decoding goroutine reads it.
type trackFile struct {
	path  string
	start time.Duration // session (output) time of the file's timestamp 0
	// complete: the recorder finished the file, nothing more will be
	// appended (always true offline).
	complete atomic.Bool
}

func newTrackFile(t manifest.Track, complete bool) *trackFile {
	f := &trackFile{path: t.Path, start: t.Start()}
	f.complete.Store(complete)
	return f
}

// tailReader reads a trackFile from the start. At the end of a file that
// is not complete it waits for more bytes, polling every tailPoll, with
// starved set while it waits: everything written before it reached the end
// has been handed to the decoder. It returns io.EOF at the end of a
// complete file and errStopped once stop is closed.
type tailReader struct {
	f       *os.File
	tf      *trackFile
	stop    <-chan struct{}
	starved *atomic.Bool
	timer   *time.Timer
}

func openTail(tf *trackFile, stop <-chan struct{}, starved *atomic.Bool) (*tailReader, error) {
	f, err := os.Open(tf.path)
	if err != nil {
		return nil, err
	}
	return &tailReader{f: f, tf: tf, stop: stop, starved: starved}, nil
}

func (r *tailReader) Read(b []byte) (int, error) {
	for {
		// Check completeness before reading: a file marked complete has all
		// its bytes written, so a read after the check that finds nothing
		// is the true end.
		complete := r.tf.complete.Load()
		n, err := r.f.Read(b)
		if n > 0 {
			r.starved.Store(false)
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("compose: reading %s: %w", r.tf.path, err)
		}
		if complete {
			return 0, io.EOF
		}
		r.starved.Store(true)
		if r.timer == nil {
			r.timer = time.NewTimer(tailPoll)
		} else {
			r.timer.Reset(tailPoll)
		}
		select {
		case <-r.stop:
			r.timer.Stop()
			return 0, errStopped
		case <-r.timer.C:
		}
	}
}

func (r *tailReader) Close() error {
	if r.timer != nil {
		r.timer.Stop()
	}
	return r.f.Close()
}
