package recorder_test

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/internal/avtest"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Segment bounds of the tests, each with its reason.
const (
	// testSegment is the segment duration: short, so that a few seconds
	// of media make several segments.
	testSegment = recorder.MinSegmentDuration
	// testFPS is the video frame rate the tests feed (25 fps beside 50
	// Opus packets a second).
	testFPS   = 25
	testFrame = time.Second / testFPS
	// answeredCutSlack bounds how far before the bound a video segment
	// of a sender that answers keyframe requests on its next frame is
	// cut: the first requests come KeyframeLead early; later ones the
	// answer time (a frame) plus the recorder's margin (100 ms), at
	// least its 200 ms floor.
	answeredCutSlack = recorder.KeyframeLead + testFrame
)

// openFiles collects what Config.OnFile is given.
type openFiles struct {
	mu    sync.Mutex
	paths []string
}

func (o *openFiles) add(p string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.paths = append(o.paths, p)
}

func (o *openFiles) media() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, p := range o.paths {
		if filepath.Ext(p) == ".mkv" {
			out = append(out, p)
		}
	}
	return out
}

func (o *openFiles) count(p string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, q := range o.paths {
		if q == p {
			n++
		}
	}
	return n
}

// feedAV feeds a camera and a microphone d of media at 25 fps and 50
// packets a second from offset; answer makes the video encoder honour
// keyframe requests. It returns the PTS fed per track.
func feedAV(t *testing.T, cam, mic *recorder.Track, venc, aenc *avtest.Encoder, d, offset time.Duration, answer bool) (video, audio []time.Duration) {
	t.Helper()
	for k := 0; time.Duration(k)*avtest.OpusFrameDuration < d; k++ {
		apkts, err := aenc.Next()
		require.NoError(t, err)
		for _, pk := range apkts {
			pts := offset + pk.PTS
			require.NoError(t, mic.WriteFrame(recorder.Frame{Payload: pk.Data, PTS: pts}))
			audio = append(audio, pts)
		}
		if k%2 != 0 {
			continue
		}
		if answer && cam.KeyframeRequest() {
			venc.ForceKeyframe()
		}
		vpkts, err := venc.Next()
		require.NoError(t, err)
		for _, pk := range vpkts {
			pts := offset + pk.PTS
			require.NoError(t, cam.WriteFrame(recorder.Frame{Payload: pk.Data, PTS: pts, Keyframe: pk.Key}))
			video = append(video, pts)
		}
	}
	return video, audio
}

// trackOf returns the participant's only track of a kind.
func trackOf(t *testing.T, p manifest.Participant, kind string) manifest.Track {
	t.Helper()
	var out []manifest.Track
	for _, tr := range p.Tracks {
		if tr.Kind == kind {
			out = append(out, tr)
		}
	}
	require.Len(t, out, 1, "%s tracks", kind)
	return out[0]
}

// checkSegments checks a segmented track against the PTS fed: segments
// follow each other without a hole, every file decodes on its own, and
// together they hold every frame once, at its time.
func checkSegments(t *testing.T, tr manifest.Track, fed []time.Duration) []time.Duration {
	t.Helper()
	require.NotEmpty(t, tr.Segments, tr.Path)
	require.Equal(t, tr.Segments[0].Path, tr.Path, "path is the first segment's")
	require.Equal(t, tr.StartS, tr.Segments[0].StartS)
	var got, lengths []time.Duration
	for k, sg := range tr.Segments {
		end, ok := sg.End()
		require.True(t, ok, "segment %d has an end", k)
		require.True(t, sg.Complete, "segment %d complete", k)
		require.Positive(t, sg.Bytes, "segment %d size", k)
		if k > 0 {
			require.Equal(t, *tr.Segments[k-1].EndS, sg.StartS, "segment %d starts where %d ends", k, k-1)
		}
		r, err := avtest.Probe(sg.Path)
		require.NoError(t, err, sg.Path)
		require.Zero(t, r.DecodeErrors, "segment %d decodes on its own", k)
		require.NotEmpty(t, r.PacketPTS, sg.Path)
		require.Equal(t, r.Frames, len(r.PacketPTS), "segment %d: every packet decodes", k)
		for _, p := range r.PacketPTS {
			got = append(got, sg.Start()+p)
		}
		lengths = append(lengths, end-sg.Start())
	}
	require.Len(t, got, len(fed), "no frame lost or duplicated at the cuts")
	for i := range fed {
		require.InDelta(t, float64(fed[i]), float64(got[i]), float64(ptsTolerance), "frame %d on the session clock", i)
	}
	return lengths
}

func TestSegments(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec recorder.Codec
		enc   string
	}{
		{"vp8", recorder.VP8, avtest.LibVPX},
		{"h264", recorder.H264, avtest.LibX264},
		// B-frames: frames come in decode order, cut at an IDR.
		{"h264_bframes", recorder.H264, avtest.LibX264BFrames},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var files openFiles
			s, err := recorder.NewSession(recorder.Config{
				ID: "seg", Dir: t.TempDir(), SegmentDuration: testSegment, CheckpointInterval: -1, OnFile: files.add,
			})
			require.NoError(t, err)
			p, err := s.Join("ann", "Ann")
			require.NoError(t, err)
			cam, err := p.AddTrack(recorder.TrackInfo{Codec: tc.codec})
			require.NoError(t, err)
			mic, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
			require.NoError(t, err)
			// A GOP longer than the test: every cut needs a request.
			venc, err := avtest.NewVideo(tc.enc, 160, 120, testFPS, 1000, 0)
			require.NoError(t, err)
			defer venc.Close()
			aenc, err := avtest.NewOpus(2, 1000)
			require.NoError(t, err)
			defer aenc.Close()
			const length = 4500 * time.Millisecond
			vfed, afed := feedAV(t, cam, mic, venc, aenc, length, 200*time.Millisecond, true)
			require.NoError(t, s.Close(t.Context()))

			m := loadManifest(t, s)
			require.Equal(t, manifest.FormatSegments, m.Format)
			mp := m.Participants[0]
			vt, at := trackOf(t, mp, manifest.KindVideo), trackOf(t, mp, manifest.KindAudio)
			vlen := checkSegments(t, vt, vfed)
			alen := checkSegments(t, at, afed)
			t.Logf("video segments %v, audio segments %v", vlen, alen)
			require.GreaterOrEqual(t, len(vlen), int(length/testSegment), "video segments")
			for k, l := range vlen[:len(vlen)-1] {
				require.LessOrEqual(t, l, testSegment, "video segment %d within the bound (the sender answers)", k)
				require.Greater(t, l, testSegment-answeredCutSlack, "video segment %d cut near the bound", k)
			}
			for k, l := range alen[:len(alen)-1] {
				require.InDelta(t, float64(testSegment), float64(l), float64(time.Microsecond), "audio segment %d cut at the bound", k)
			}
			st := cam.Stats()
			require.Equal(t, uint64(len(vt.Segments)), st.Segments)
			require.Zero(t, st.SegmentOverruns)
			require.GreaterOrEqual(t, st.KeyframeRequests, uint64(len(vt.Segments)-1))
			require.Equal(t, uint64(len(at.Segments)), mic.Stats().Segments)

			// Every segment reached OnFile once, each track's in order,
			// and so did the final session.json.
			var want []string
			for _, tr := range []manifest.Track{vt, at} {
				for _, sg := range tr.Segments {
					want = append(want, sg.Path)
				}
			}
			got := files.media()
			require.ElementsMatch(t, want, got)
			for _, tr := range []manifest.Track{vt, at} {
				var order []string
				for _, g := range got {
					if slices.ContainsFunc(tr.Segments, func(sg manifest.Segment) bool { return sg.Path == g }) {
						order = append(order, g)
					}
				}
				for k, sg := range tr.Segments {
					require.Equal(t, sg.Path, order[k], "OnFile order")
				}
			}
			require.Positive(t, files.count(s.ManifestPath()))
		})
	}
}

// TestSegmentOverrun feeds a sender that ignores keyframe requests: the
// segment runs to its next keyframe, counted, and is never cut between.
func TestSegmentOverrun(t *testing.T) {
	s, err := recorder.NewSession(recorder.Config{Dir: t.TempDir(), SegmentDuration: testSegment, CheckpointInterval: -1})
	require.NoError(t, err)
	p, err := s.Join("bo", "Bo")
	require.NoError(t, err)
	cam, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.VP8})
	require.NoError(t, err)
	mic, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	require.NoError(t, err)
	const gop = 40 // 1.6 s at 25 fps: past the 1 s bound
	venc, err := avtest.NewVideo(avtest.LibVPX, 160, 120, testFPS, gop, 0)
	require.NoError(t, err)
	defer venc.Close()
	aenc, err := avtest.NewOpus(2, 1000)
	require.NoError(t, err)
	defer aenc.Close()
	vfed, _ := feedAV(t, cam, mic, venc, aenc, 5*time.Second, 0, false)
	require.NoError(t, s.Close(t.Context()))
	m := loadManifest(t, s)
	vt := trackOf(t, m.Participants[0], manifest.KindVideo)
	lengths := checkSegments(t, vt, vfed)
	t.Logf("segments %v, stats %+v", lengths, cam.Stats())
	for k, l := range lengths[:len(lengths)-1] {
		require.InDelta(t, float64(gop*testFrame), float64(l), float64(testFrame), "segment %d cut at the next keyframe", k)
	}
	require.Positive(t, cam.Stats().SegmentOverruns)
}

// TestSegmentConfig checks the bounds of SegmentDuration.
func TestSegmentConfig(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, recorder.MinSegmentDuration - 1} {
		_, err := recorder.NewSession(recorder.Config{Dir: t.TempDir(), SegmentDuration: d})
		require.ErrorIs(t, err, recorder.ErrBadConfig, "%v", d)
	}
}

// TestContinue records a part, then continues it in a second session as
// a process taking over would: one session.json with both parts, the
// participant's presence in two intervals around the gap, new files under
// new names and the earlier files kept.
func TestContinue(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }

	s1, err := recorder.NewSession(recorder.Config{ID: "call", Dir: dir, SegmentDuration: testSegment, CheckpointInterval: -1, Now: clock})
	require.NoError(t, err)
	p, err := s1.Join("ann", "Ann")
	require.NoError(t, err)
	mic, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	require.NoError(t, err)
	aenc, err := avtest.NewOpus(2, 1000)
	require.NoError(t, err)
	defer aenc.Close()
	fed1 := feed(t, mic, aenc, 150, 0) // 3 s
	advance(3 * time.Second)
	// The first process stops without closing (as if killed): its last
	// session.json lists ann as present, her track open.
	require.NoError(t, p.Leave())
	first := loadManifest(t, s1)
	require.NoError(t, s1.Close(t.Context()))

	advance(5 * time.Second) // the takeover
	s2, err := recorder.NewSession(recorder.Config{Dir: dir, SegmentDuration: testSegment, CheckpointInterval: -1, Now: clock, Continue: first})
	require.NoError(t, err)
	require.Equal(t, "call", s2.ID())
	require.Equal(t, 8*time.Second, s2.Elapsed(), "the clock goes on")
	p2, err := s2.Join("ann", "Ann")
	require.NoError(t, err)
	mic2, err := p2.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	require.NoError(t, err)
	require.NotEqual(t, filepath.Base(mic.Path()), filepath.Base(mic2.Path()), "a new name")
	aenc2, err := avtest.NewOpus(2, 1000)
	require.NoError(t, err)
	defer aenc2.Close()
	fed2 := feed(t, mic2, aenc2, 100, 8*time.Second)
	advance(2 * time.Second)
	require.NoError(t, s2.Close(t.Context()))

	m := loadManifest(t, s2)
	require.Len(t, m.Participants, 1)
	ann := m.Participants[0]
	require.Len(t, ann.Intervals(), 2, "one entry, two presences")
	require.Equal(t, 3*time.Second, ann.Intervals()[0].Leave())
	require.Equal(t, 8*time.Second, ann.Intervals()[1].Join(), "the gap")
	require.Len(t, ann.Tracks, 2)
	checkSegments(t, ann.Tracks[0], fed1)
	checkSegments(t, ann.Tracks[1], fed2)
	require.Equal(t, 10*time.Second, m.End())
}
