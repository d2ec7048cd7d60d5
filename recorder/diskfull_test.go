package recorder_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/internal/avtest"
	"github.com/roomtape/roomtape/recorder/internal/mkv"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// diskFullSize is the file system the disk-full test records into: a few
// seconds of its two participants' media.
const diskFullSize = 512 << 10

// diskFullMaxMedia bounds the media the test writes looking for ENOSPC
// (about 3 s fill the file system).
const diskFullMaxMedia = 60 * time.Second

// diskFullLoss is how much media before the failure a file may lack: the
// muxer keeps the open cluster in memory (at most mkv.ClusterTime) and
// the packet that failed; a frame interval of slack for where the cut
// falls.
const diskFullLoss = mkv.ClusterTime + 100*time.Millisecond

// diskFullWrites is how many frames per track the test writes after the
// failure to check that nothing more reaches the disk.
const diskFullWrites = 50

// diskTrack is one track of the disk-full test and what it saw.
type diskTrack struct {
	tr      *recorder.Track
	enc     *avtest.Encoder
	pending []avtest.Packet
	lastOK  time.Duration // PTS of the last frame written without error
	err     error         // the first write error
}

// TestDiskFull records two participants into a 512 KiB file system until it
// is full (ENOSPC): every track reports the failure once (an event, the
// error of WriteFrame, Session.Err and Close), stops writing its file,
// which stays playable up to about the failure, and session.json stays a
// valid manifest naming every file.
func TestDiskFull(t *testing.T) {
	dir := netns.EnterTmpfs(t, diskFullSize)
	if dir == "" {
		return
	}
	l := &eventLog{}
	s, err := recorder.NewSession(recorder.Config{ID: "full", Dir: dir, Sinks: []recorder.Sink{l}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	var tracks []*diskTrack
	for i, id := range []string{"a", "b"} {
		p, err := s.Join(id, id)
		require.NoError(t, err)
		venc, err := avtest.NewVideo(avtest.LibVPX, 320, 240, 25, 50, 600_000)
		require.NoError(t, err)
		t.Cleanup(venc.Close)
		aenc, err := avtest.NewOpus(2, 500+float64(300*i))
		require.NoError(t, err)
		t.Cleanup(aenc.Close)
		vt, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.VP8})
		require.NoError(t, err)
		at, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
		require.NoError(t, err)
		tracks = append(tracks, &diskTrack{tr: vt, enc: venc}, &diskTrack{tr: at, enc: aenc})
	}
	// next returns the track's next packet.
	next := func(d *diskTrack) avtest.Packet {
		for len(d.pending) == 0 {
			pkts, err := d.enc.Next()
			require.NoError(t, err)
			d.pending = pkts
		}
		p := d.pending[0]
		d.pending = d.pending[1:]
		return p
	}
	// Interleave the tracks in PTS order until all have failed.
	failed := 0
	for media := time.Duration(0); failed < len(tracks); media += 10 * time.Millisecond {
		require.Less(t, media, diskFullMaxMedia, "no ENOSPC after %v of media", media)
		for _, d := range tracks {
			for d.err == nil && (len(d.pending) > 0 || d.lastOK <= media) {
				p := next(d)
				err := d.tr.WriteFrame(recorder.Frame{Payload: p.Data, PTS: p.PTS, Keyframe: p.Key})
				if err != nil {
					d.err = err
					failed++
					break
				}
				d.lastOK = p.PTS
				if p.PTS >= media {
					break
				}
			}
		}
	}
	for _, d := range tracks {
		name := d.tr.Participant().ID() + "/" + d.tr.Info().ID
		require.ErrorIs(t, d.err, recorder.ErrStorage, name)
		require.ErrorIs(t, d.err, syscall.ENOSPC, name)
		require.Contains(t, d.err.Error(), d.tr.Path(), "%s: the error names the file", name)
		t.Logf("%s: failed after %v: %v", name, d.lastOK, d.err)
	}
	require.ErrorIs(t, s.Err(), syscall.ENOSPC)

	// Nothing more reaches the disk; sinks still get the frames.
	sizes := map[string]int64{}
	for _, d := range tracks {
		fi, err := os.Stat(d.tr.Path())
		require.NoError(t, err)
		sizes[d.tr.Path()] = fi.Size()
	}
	framesBefore := l.frameCount()
	for _, d := range tracks {
		for range diskFullWrites {
			p := next(d)
			err := d.tr.WriteFrame(recorder.Frame{Payload: p.Data, PTS: p.PTS, Keyframe: p.Key})
			require.ErrorIs(t, err, syscall.ENOSPC)
		}
	}
	assert.Equal(t, framesBefore+len(tracks)*diskFullWrites, l.frameCount(), "sinks get every frame")
	for _, d := range tracks {
		fi, err := os.Stat(d.tr.Path())
		require.NoError(t, err)
		assert.Equal(t, sizes[d.tr.Path()], fi.Size(), "%s grew after the failure", d.tr.Path())
	}

	// One StorageFailed event per track, naming it.
	perTrack := map[string]int{}
	for _, e := range l.snapshot() {
		if e.Kind != recorder.StorageFailed {
			continue
		}
		require.ErrorIs(t, e.Err, syscall.ENOSPC)
		if e.Track != nil {
			perTrack[e.ParticipantID+"/"+e.Track.ID]++
		}
	}
	for _, d := range tracks {
		assert.Equal(t, 1, perTrack[d.tr.Participant().ID()+"/"+d.tr.Info().ID], "StorageFailed events of %s", d.tr.Path())
	}

	closeErr := s.Close(context.Background())
	require.ErrorIs(t, closeErr, recorder.ErrStorage, "Close reports the incomplete recording")
	require.ErrorIs(t, closeErr, syscall.ENOSPC)

	// session.json is its last good version: valid, naming every file.
	m, err := manifest.Load(s.ManifestPath())
	require.NoError(t, err, "session.json after the disk filled")
	paths := map[string]bool{}
	for _, p := range m.Participants {
		for _, tr := range p.Tracks {
			paths[tr.Path] = true
		}
	}
	// Every file plays up to about the failure.
	for _, d := range tracks {
		require.True(t, paths[d.tr.Path()], "session.json names %s", d.tr.Path())
		rep, err := avtest.Probe(d.tr.Path())
		require.NoError(t, err, "probe %s", d.tr.Path())
		assert.Zero(t, rep.DecodeErrors, "%s: undecodable packets", d.tr.Path())
		require.NotEmpty(t, rep.PacketPTS, d.tr.Path())
		lacks := d.lastOK - rep.Last() // the encoders start at PTS 0
		t.Logf("%s: %d bytes, %d frames up to %v, last written %v: lacks %v", d.tr.Path(), sizes[d.tr.Path()], rep.Frames, rep.Last(), d.lastOK, lacks)
		assert.LessOrEqual(t, lacks, diskFullLoss, "%s lacks too much media before the failure", d.tr.Path())
	}
}

// frameCount is the number of frames the sink got.
func (l *eventLog) frameCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.frames {
		n += c
	}
	return n
}

// snapshot returns the events so far.
func (l *eventLog) snapshot() []recorder.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]recorder.Event(nil), l.events...)
}
