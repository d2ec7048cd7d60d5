package recorder_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/internal/avtest"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// ptsTolerance is how far a recorded packet's timestamp may be from the
// fed one: Matroska stores milliseconds, so rounding moves it by <= 0.5 ms.
const ptsTolerance = time.Millisecond

// manifestTolerance is how far session.json times may be from the session
// times the test chose: they are rounded to the microsecond.
const manifestTolerance = time.Microsecond

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		os.Exit(crashChild())
	}
	avtest.Quiet()
	goleak.VerifyTestMain(m)
}

// clock is a settable session clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 18, 13, 24, 16, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to session time d (the clock starts at 0).
func (c *clock) Set(start time.Time, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = start.Add(d)
}

// eventLog is a Sink that records events and counts frames.
type eventLog struct {
	mu     sync.Mutex
	events []recorder.Event
	frames map[string]int
	closed int
}

func (l *eventLog) OnEvent(e recorder.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) WriteFrame(pid string, ti recorder.TrackInfo, f recorder.Frame) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.frames == nil {
		l.frames = map[string]int{}
	}
	l.frames[pid+"/"+ti.ID]++
	return nil
}

func (l *eventLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed++
	return nil
}

func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		s := e.Kind.String() + " " + e.ParticipantID
		if e.Kind == recorder.ResolutionChanged {
			s += fmt.Sprintf(" %dx%d", e.Width, e.Height)
		}
		out = append(out, s)
	}
	return out
}

type fixture struct {
	s     *recorder.Session
	clock *clock
	log   *eventLog
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := newClock()
	start := c.Now()
	l := &eventLog{}
	s, err := recorder.NewSession(recorder.Config{ID: "s1", Dir: t.TempDir(), Sinks: []recorder.Sink{l}, Now: c.Now})
	require.NoError(t, err)
	f := &fixture{s: s, clock: c, log: l}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	_ = start
	return f
}

// at sets the session clock to d.
func (f *fixture) at(d time.Duration) { f.clock.Set(f.s.StartedAt(), d) }

// feed encodes n frames with enc and writes them with PTS offset+pts,
// returning the PTS written.
func feed(t *testing.T, tr *recorder.Track, enc *avtest.Encoder, n int, offset time.Duration) []time.Duration {
	t.Helper()
	var fed []time.Duration
	for range n {
		pkts, err := enc.Next()
		require.NoError(t, err)
		for _, p := range pkts {
			pts := offset + p.PTS
			require.NoError(t, tr.WriteFrame(recorder.Frame{Payload: p.Data, PTS: pts, Keyframe: p.Key}))
			fed = append(fed, pts)
		}
	}
	return fed
}

func loadManifest(t *testing.T, s *recorder.Session) *manifest.Session {
	t.Helper()
	m, err := manifest.Load(s.ManifestPath())
	require.NoError(t, err)
	return m
}

// requirePTS checks that a file holds packets at want minus start.
func requirePTS(t *testing.T, r *avtest.Report, want []time.Duration, start time.Duration) {
	t.Helper()
	require.Len(t, r.PacketPTS, len(want))
	for i, w := range want {
		require.InDelta(t, float64(w-start), float64(r.PacketPTS[i]), float64(ptsTolerance), "packet %d", i)
	}
}

func TestRecordCodecs(t *testing.T) {
	const (
		width, height, fps = 160, 120, 15
		frames             = 45 // 3 s
	)
	cases := []struct {
		name     string
		codec    recorder.Codec
		encoder  string
		channels int
		ffName   string
	}{
		{"vp8", recorder.VP8, avtest.LibVPX, 0, "vp8"},
		{"vp9", recorder.VP9, avtest.LibVPXVP9, 0, "vp9"},
		{"h264", recorder.H264, avtest.LibX264, 0, "h264"},
		{"opus_stereo", recorder.Opus, "", 2, "opus"},
		{"opus_mono", recorder.Opus, "", 1, "opus"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.at(500 * time.Millisecond)
			p, err := f.s.Join("alice", "Alice")
			require.NoError(t, err)
			var enc *avtest.Encoder
			if tc.codec == recorder.Opus {
				enc, err = avtest.NewOpus(tc.channels, 500)
			} else {
				enc, err = avtest.NewVideo(tc.encoder, width, height, fps, fps, 0)
			}
			require.NoError(t, err)
			defer enc.Close()
			tr, err := p.AddTrack(recorder.TrackInfo{Codec: tc.codec, Channels: tc.channels})
			require.NoError(t, err)
			offset := 700 * time.Millisecond
			n := frames
			if tc.codec == recorder.Opus {
				n = 150
			}
			fed := feed(t, tr, enc, n, offset)
			require.NotEmpty(t, fed)
			f.at(4 * time.Second)
			require.NoError(t, p.Leave())
			require.NoError(t, f.s.Close(context.Background()))

			r, err := avtest.Probe(tr.Path())
			require.NoError(t, err)
			assert.Equal(t, tc.ffName, r.Codec)
			assert.Zero(t, r.DecodeErrors)
			requirePTS(t, r, fed, fed[0])
			assert.GreaterOrEqual(t, r.Duration, r.Last(), "a closed file has its duration")
			if tc.codec == recorder.Opus {
				assert.Equal(t, len(fed)*avtest.OpusFrameSamples, r.Samples)
				assert.Equal(t, len(fed), r.Keyframes, "audio blocks are keyframes")
			} else {
				assert.Equal(t, len(fed), r.Frames)
				assert.Equal(t, []avtest.Size{{W: width, H: height}}, r.Sizes)
			}

			m := loadManifest(t, f.s)
			require.Len(t, m.Participants, 1)
			mp := m.Participants[0]
			assert.Equal(t, "Alice", mp.Name)
			assert.Equal(t, "alice", mp.ID)
			assert.InDelta(t, 0.5, mp.JoinTimeS, manifestTolerance.Seconds())
			assert.InDelta(t, 4.0, mp.LeaveTimeS, manifestTolerance.Seconds())
			require.Len(t, mp.Tracks, 1)
			mt := mp.Tracks[0]
			assert.Equal(t, string(tc.codec), mt.Codec)
			assert.Equal(t, tr.Path(), mt.Path)
			assert.InDelta(t, fed[0].Seconds(), mt.StartS, manifestTolerance.Seconds())
			require.NotNil(t, mt.EndS)
			assert.InDelta(t, 4.0, *mt.EndS, manifestTolerance.Seconds())
			var main manifest.Track
			var ok bool
			if tc.codec == recorder.Opus {
				main, ok = mp.AudioTrack()
				assert.Equal(t, tr.Path(), mp.AudioPath)
			} else {
				main, ok = mp.VideoTrack()
				assert.Equal(t, tr.Path(), mp.VideoPath)
				assert.Equal(t, width, mt.Width)
				assert.Equal(t, height, mt.Height)
			}
			require.True(t, ok)
			assert.Equal(t, tr.Path(), main.Path)
			require.NotNil(t, m.EndTimeS)
			assert.Equal(t, 1, f.log.closed)
		})
	}
}

func TestResolutionChange(t *testing.T) {
	const fps = 10
	sizes := []avtest.Size{{W: 160, H: 120}, {W: 120, H: 160}, {W: 320, H: 240}}
	for _, tc := range []struct {
		name    string
		codec   recorder.Codec
		encoder string
	}{
		{"vp8", recorder.VP8, avtest.LibVPX},
		{"h264", recorder.H264, avtest.LibX264},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			p, err := f.s.Join("phone", "iPhone")
			require.NoError(t, err)
			tr, err := p.AddTrack(recorder.TrackInfo{Codec: tc.codec})
			require.NoError(t, err)
			var fed []time.Duration
			for i, sz := range sizes {
				// A new encoder per size, as a sender restarting at a new
				// resolution; its first frame is a keyframe.
				enc, err := avtest.NewVideo(tc.encoder, sz.W, sz.H, fps, 100, 0)
				require.NoError(t, err)
				fed = append(fed, feed(t, tr, enc, fps, time.Duration(i)*time.Second)...)
				enc.Close()
			}
			require.NoError(t, f.s.Close(context.Background()))

			r, err := avtest.Probe(tr.Path())
			require.NoError(t, err)
			assert.Zero(t, r.DecodeErrors)
			assert.Equal(t, sizes, r.Sizes)
			assert.Equal(t, len(fed), r.Frames)
			requirePTS(t, r, fed, 0)

			assert.Equal(t, []string{
				"participant_joined phone", "track_started phone",
				"resolution_changed phone 160x120", "resolution_changed phone 120x160", "resolution_changed phone 320x240",
				"track_stopped phone", "participant_left phone", "session_ended ",
			}, f.log.kinds())
			mt := loadManifest(t, f.s).Participants[0].Tracks[0]
			assert.Equal(t, 160, mt.Width)
			assert.Equal(t, 120, mt.Height)
			assert.Equal(t, []manifest.Resolution{{AtS: 1, Width: 120, Height: 160}, {AtS: 2, Width: 320, Height: 240}}, mt.Resolutions)
		})
	}
}

func TestRejoin(t *testing.T) {
	f := newFixture(t)
	var paths []string
	for i, iv := range [][2]time.Duration{{time.Second, 3 * time.Second}, {5 * time.Second, 7 * time.Second}} {
		f.at(iv[0])
		p, err := f.s.Join("bob", fmt.Sprintf("Bob %d", i+1))
		require.NoError(t, err)
		tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus, Channels: 1})
		require.NoError(t, err)
		enc, err := avtest.NewOpus(1, 800)
		require.NoError(t, err)
		feed(t, tr, enc, 10, iv[0])
		enc.Close()
		paths = append(paths, tr.Path())
		f.at(iv[1])
		require.NoError(t, p.Leave())
		require.NoError(t, p.Leave(), "Leave is idempotent")
		assert.ErrorIs(t, tr.WriteFrame(recorder.Frame{Payload: []byte{1}, PTS: iv[1]}), recorder.ErrTrackStopped)
	}
	assert.NotEqual(t, paths[0], paths[1])
	assert.True(t, strings.HasSuffix(paths[0], "_microphone_1.mkv"), paths[0])
	assert.True(t, strings.HasSuffix(paths[1], "_microphone_2.mkv"), paths[1])
	assert.Equal(t, 0, f.s.Present())

	m := loadManifest(t, f.s)
	mp := m.Participants[0]
	assert.Equal(t, "Bob 2", mp.Name)
	assert.Equal(t, []manifest.Interval{{JoinS: 1, LeaveS: 3}, {JoinS: 5, LeaveS: 7}}, mp.Presence)
	assert.Equal(t, 1.0, mp.JoinTimeS)
	assert.Equal(t, 7.0, mp.LeaveTimeS)
	require.Len(t, mp.Tracks, 2)
	assert.Equal(t, 1.0, mp.Tracks[0].StartS)
	assert.Equal(t, 5.0, mp.Tracks[1].StartS)
	assert.Equal(t, paths[0], mp.AudioPath, "audio_path is the first microphone file")

	want := []timeline.Event{
		{Kind: timeline.Join, At: time.Second, ParticipantID: "bob", Name: "Bob 1"},
		{Kind: timeline.Leave, At: 3 * time.Second, ParticipantID: "bob"},
		{Kind: timeline.Join, At: 5 * time.Second, ParticipantID: "bob", Name: "Bob 2"},
		{Kind: timeline.Leave, At: 7 * time.Second, ParticipantID: "bob"},
	}
	assert.Equal(t, want, f.s.TimelineEvents())
	// session.json keeps one name per participant: the latest.
	fromFile, err := m.Events()
	require.NoError(t, err)
	want[0].Name = "Bob 2"
	assert.Equal(t, want, fromFile)

	for _, path := range paths {
		r, err := avtest.Probe(path)
		require.NoError(t, err)
		assert.Equal(t, 10, len(r.PacketPTS))
	}
}

func TestManifestWhilePresent(t *testing.T) {
	f := newFixture(t)
	f.at(time.Second)
	_, err := f.s.Join("a", "A")
	require.NoError(t, err)
	f.at(2500 * time.Millisecond)
	_, err = f.s.Join("b", "B")
	require.NoError(t, err)
	// Written at b's join: a is present, so its leave is "now".
	m := loadManifest(t, f.s)
	require.Len(t, m.Participants, 2)
	assert.Equal(t, 2.5, m.Participants[0].LeaveTimeS)
	assert.Nil(t, m.EndTimeS)
	assert.Equal(t, 2, f.s.Present())
}

func TestFileNames(t *testing.T) {
	f := newFixture(t)
	ids := []string{"../../etc", "a/b", "a_b", "aditya-1", "aditya-2", "Zoë 🎉", ".", "..", `C:\x`, strings.Repeat("x", 300), "a\x00b"}
	seen := map[string]string{}
	for i, id := range ids {
		p, err := f.s.Join(id, "Aditya")
		require.NoError(t, err, id)
		tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
		require.NoError(t, err)
		require.NoError(t, tr.WriteFrame(recorder.Frame{Payload: []byte{0xf8, 0xff, 0xfe}, PTS: time.Duration(i) * time.Millisecond}))
		path := tr.Path()
		assert.Equal(t, f.s.Dir(), filepath.Dir(path), "%q must stay in the session dir", id)
		base := filepath.Base(path)
		assert.NotContains(t, base, "..")
		assert.Less(t, len(base), 100)
		for _, r := range base {
			assert.True(t, r < 128 && r > ' ', "%q: file name %q has %q", id, base, r)
		}
		prev, dup := seen[base]
		assert.False(t, dup, "%q and %q share %s", id, prev, base)
		seen[base] = id
		_, err = os.Stat(path)
		assert.NoError(t, err)
	}
	require.NoError(t, f.s.Close(context.Background()))
	entries, err := os.ReadDir(f.s.Dir())
	require.NoError(t, err)
	assert.Len(t, entries, len(ids)+1, "one file per track and session.json")
	m := loadManifest(t, f.s)
	assert.Len(t, m.Participants, len(ids))
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	_, err := f.s.Join("", "x")
	assert.ErrorIs(t, err, recorder.ErrInvalidID)
	_, err = f.s.Join("\xff", "x")
	assert.ErrorIs(t, err, recorder.ErrInvalidID)
	p, err := f.s.Join("a", "A")
	require.NoError(t, err)
	_, err = f.s.Join("a", "A again")
	assert.ErrorIs(t, err, recorder.ErrAlreadyPresent)

	for _, info := range []recorder.TrackInfo{
		{Codec: "h265"},
		{},
	} {
		_, err = p.AddTrack(info)
		assert.ErrorIs(t, err, recorder.ErrUnknownCodec, "%+v", info)
	}
	for _, info := range []recorder.TrackInfo{
		{Codec: recorder.VP8, Kind: recorder.Audio},
		{Codec: recorder.Opus, Source: recorder.Camera},
		{Codec: recorder.VP8, Source: recorder.Microphone},
		{Codec: recorder.VP8, Source: "tv"},
		{Codec: recorder.Opus, Channels: 6},
		{Codec: recorder.VP8, Width: -1},
	} {
		_, err = p.AddTrack(info)
		assert.ErrorIs(t, err, recorder.ErrInvalidTrack, "%+v", info)
	}
	tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.VP8})
	require.NoError(t, err)
	_, err = p.AddTrack(recorder.TrackInfo{Codec: recorder.VP9})
	assert.ErrorIs(t, err, recorder.ErrInvalidTrack, "second active track with ID camera")
	assert.ErrorIs(t, tr.WriteFrame(recorder.Frame{}), recorder.ErrEmptyFrame)
	// Garbage before a keyframe is dropped, not an error.
	require.NoError(t, tr.WriteFrame(recorder.Frame{Payload: []byte{1, 2, 3}}))
	assert.Equal(t, uint64(1), tr.Stats().DroppedBeforeKeyframe)
	require.NoError(t, tr.Stop())
	require.NoError(t, tr.Stop())
	assert.ErrorIs(t, tr.WriteFrame(recorder.Frame{Payload: []byte{1}}), recorder.ErrTrackStopped)

	require.NoError(t, p.Leave())
	_, err = p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	assert.ErrorIs(t, err, recorder.ErrNotPresent)

	require.NoError(t, f.s.Close(context.Background()))
	require.NoError(t, f.s.Close(context.Background()))
	_, err = f.s.Join("b", "B")
	assert.ErrorIs(t, err, recorder.ErrSessionClosed)

	for _, id := range []string{"a/b", "..", "."} {
		_, err = recorder.NewSession(recorder.Config{ID: id, Dir: t.TempDir()})
		assert.ErrorIs(t, err, recorder.ErrBadConfig, id)
	}
	_, err = recorder.NewSession(recorder.Config{ID: "s1", Dir: filepath.Dir(f.s.Dir())})
	assert.ErrorIs(t, err, recorder.ErrBadConfig, "a used session dir is not overwritten")
}

func TestKeyframeGateAndOrder(t *testing.T) {
	f := newFixture(t)
	p, err := f.s.Join("a", "A")
	require.NoError(t, err)
	tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.VP8})
	require.NoError(t, err)
	enc, err := avtest.NewVideo(avtest.LibVPX, 64, 48, 10, 5, 0)
	require.NoError(t, err)
	defer enc.Close()
	var pkts []avtest.Packet
	for range 10 {
		ps, err := enc.Next()
		require.NoError(t, err)
		pkts = append(pkts, ps...)
	}
	require.True(t, pkts[0].Key)
	require.True(t, pkts[5].Key)
	require.False(t, pkts[1].Key)
	var fed []time.Duration
	// Frames 1-4 come before any keyframe; frame 7 comes late.
	for _, i := range []int{1, 2, 3, 4, 5, 6, 8, 7, 9} {
		pk := pkts[i]
		// The keyframe flag is left to the recorder to find.
		require.NoError(t, tr.WriteFrame(recorder.Frame{Payload: pk.Data, PTS: pk.PTS}))
		if i >= 5 && i != 7 {
			fed = append(fed, pk.PTS)
		}
	}
	st := tr.Stats()
	assert.Equal(t, uint64(4), st.DroppedBeforeKeyframe)
	assert.Equal(t, uint64(1), st.DroppedOutOfOrder)
	assert.Equal(t, uint64(len(fed)), st.Frames)
	require.NoError(t, f.s.Close(context.Background()))
	r, err := avtest.Probe(tr.Path())
	require.NoError(t, err)
	requirePTS(t, r, fed, fed[0])
	assert.Equal(t, 1, r.Keyframes)
	assert.Equal(t, 500*time.Millisecond, time.Duration(loadManifest(t, f.s).Participants[0].Tracks[0].StartS*float64(time.Second)))
}

// TestConcurrent records many participants from many goroutines while
// others join, leave and close; run it with -race.
func TestConcurrent(t *testing.T) {
	const participants, frames = 8, 100
	log := &eventLog{}
	s, err := recorder.NewSession(recorder.Config{Dir: t.TempDir(), Sinks: []recorder.Sink{log}, CheckpointInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	enc, err := avtest.NewOpus(2, 1100)
	require.NoError(t, err)
	var pkts []avtest.Packet
	for range frames {
		ps, err := enc.Next()
		require.NoError(t, err)
		pkts = append(pkts, ps...)
	}
	enc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	empty := make(chan error, 1)
	go func() { empty <- s.WaitEmpty(ctx) }()

	var wg sync.WaitGroup
	for i := range participants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("p%d", i)
			p, err := s.Join(id, "Same Name")
			if !assert.NoError(t, err) {
				return
			}
			tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
			if !assert.NoError(t, err) {
				return
			}
			for k, pk := range pkts {
				assert.NoError(t, tr.WriteFrame(recorder.Frame{Payload: pk.Data, PTS: pk.PTS}))
				if k == frames/2 {
					_ = s.Manifest()
					_ = s.Present()
				}
			}
			assert.NoError(t, p.Leave())
		}()
	}
	wg.Wait()
	require.NoError(t, <-empty)
	require.NoError(t, s.Close(ctx))
	m := loadManifest(t, s)
	require.Len(t, m.Participants, participants)
	for _, mp := range m.Participants {
		r, err := avtest.Probe(mp.AudioPath)
		require.NoError(t, err)
		assert.Len(t, r.PacketPTS, len(pkts))
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	assert.Len(t, log.events, participants*4+1)
	for k, n := range log.frames {
		assert.Equal(t, len(pkts), n, k)
	}
}

func TestWaitEmptyContext(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, f.s.WaitEmpty(ctx), context.DeadlineExceeded, "nobody joined yet")
	_, err := f.s.Join("a", "A")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- f.s.WaitEmpty(context.Background()) }()
	require.NoError(t, f.s.Close(context.Background()))
	require.NoError(t, <-done)
}

func TestDisableFiles(t *testing.T) {
	dir := t.TempDir()
	log := &eventLog{}
	s, err := recorder.NewSession(recorder.Config{Dir: dir, DisableFiles: true, Sinks: []recorder.Sink{log}})
	require.NoError(t, err)
	p, err := s.Join("a", "A")
	require.NoError(t, err)
	tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	require.NoError(t, err)
	require.NoError(t, tr.WriteFrame(recorder.Frame{Payload: []byte{0xf8}, PTS: 0}))
	require.NoError(t, s.Close(context.Background()))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.Equal(t, 1, log.frames["a/microphone"])
	require.Len(t, s.Manifest().Participants, 1)
}

func TestNilSink(t *testing.T) {
	_, err := recorder.NewSession(recorder.Config{DisableFiles: true, Sinks: []recorder.Sink{nil}})
	assert.True(t, errors.Is(err, recorder.ErrBadConfig))
}

func TestFileError(t *testing.T) {
	f := newFixture(t)
	p, err := f.s.Join("a", "A")
	require.NoError(t, err)
	tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	require.NoError(t, err)
	assert.Same(t, p, tr.Participant())
	assert.Same(t, f.s, p.Session())
	require.NoError(t, os.Mkdir(tr.Path(), 0o755), "a directory where the file should go")
	for i := range 3 {
		err := tr.WriteFrame(recorder.Frame{Payload: []byte{0xf8}, PTS: time.Duration(i) * 20 * time.Millisecond})
		assert.ErrorIs(t, err, recorder.ErrStorage, "the file cannot be created")
		assert.Contains(t, err.Error(), `participant "a"`)
	}
	assert.Equal(t, 3, f.log.frames["a/microphone"], "sinks still get the frames")
	require.ErrorIs(t, f.s.Err(), recorder.ErrStorage)
	require.ErrorIs(t, f.s.Close(context.Background()), recorder.ErrStorage, "Close reports the incomplete recording")
	n := 0
	for _, e := range f.log.events {
		if e.Kind == recorder.StorageFailed {
			n++
			assert.Equal(t, "a", e.ParticipantID)
			assert.ErrorIs(t, e.Err, recorder.ErrStorage)
		}
	}
	assert.Equal(t, 1, n, "one StorageFailed event for the track")
}

// TestAV1 records AV1 temporal units: the file starts at the first
// keyframe carrying a sequence header, and the size comes from TrackInfo
// (the recorder does not parse AV1 sizes). This FFmpeg build cannot
// decode AV1, so the file is only demuxed.
func TestAV1(t *testing.T) {
	f := newFixture(t)
	p, err := f.s.Join("a", "A")
	require.NoError(t, err)
	tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.AV1, Width: 640, Height: 360})
	require.NoError(t, err)
	seq := avtest.AV1SequenceHeader(640, 360)
	frame := []byte{0x12, 0x00, 0x32, 0x03, 0x10, 0x00, 0x00} // temporal delimiter, OBU_FRAME
	key := append(append([]byte{0x12, 0x00}, seq...), frame[2:]...)
	require.NoError(t, tr.WriteFrame(recorder.Frame{Payload: frame, PTS: 0, Keyframe: true}))
	assert.Equal(t, uint64(1), tr.Stats().DroppedBeforeKeyframe, "a keyframe without sequence header cannot start the file")
	require.NoError(t, tr.WriteFrame(recorder.Frame{Payload: key, PTS: 100 * time.Millisecond, Keyframe: true}))
	require.NoError(t, tr.WriteFrame(recorder.Frame{Payload: frame, PTS: 133 * time.Millisecond}))
	require.NoError(t, f.s.Close(context.Background()))
	pts, codec, err := avtest.Demux(tr.Path())
	require.NoError(t, err)
	assert.Equal(t, "av1", codec)
	assert.Equal(t, []time.Duration{0, 33 * time.Millisecond}, pts)
	mt := loadManifest(t, f.s).Participants[0].Tracks[0]
	assert.Equal(t, 0.1, mt.StartS)
	assert.Equal(t, 640, mt.Width)
	assert.Equal(t, 360, mt.Height)
}

// TestOpusGap checks that a pause in an Opus stream (DTX, a muted
// microphone) stays a gap in time in the file instead of shortening it.
func TestOpusGap(t *testing.T) {
	const gap = 1500 * time.Millisecond
	f := newFixture(t)
	p, err := f.s.Join("a", "A")
	require.NoError(t, err)
	tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	require.NoError(t, err)
	enc, err := avtest.NewOpus(2, 2000)
	require.NoError(t, err)
	defer enc.Close()
	fed := feed(t, tr, enc, 10, 0)
	fed = append(fed, feed(t, tr, enc, 10, gap)...)
	require.NoError(t, f.s.Close(context.Background()))
	r, err := avtest.Probe(tr.Path())
	require.NoError(t, err)
	requirePTS(t, r, fed, 0)
	assert.Equal(t, gap+19*avtest.OpusFrameDuration, r.Last())
}

// TestVP9InterFrameResize follows a VP9 stream whose size steps up on an
// inter frame, as livekit-client's SVC does (a small first keyframe, the
// full size from the next frame on): session.json and the events give the
// size of every frame, not only the keyframe's.
func TestVP9InterFrameResize(t *testing.T) {
	f := newFixture(t)
	p, err := f.s.Join("svc", "SVC")
	require.NoError(t, err)
	tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.VP9})
	require.NoError(t, err)
	for i, payload := range [][]byte{
		avtest.VP9KeyHeader(320, 180),
		avtest.VP9InterHeader(640, 360),
		avtest.VP9InterHeader(0, 0), // the size of its reference: 640x360
		avtest.VP9InterHeader(0, 0),
	} {
		require.NoError(t, tr.WriteFrame(recorder.Frame{Payload: payload, PTS: time.Duration(i) * 100 * time.Millisecond}))
	}
	require.NoError(t, f.s.Close(context.Background()))
	assert.Equal(t, []string{
		"participant_joined svc", "track_started svc",
		"resolution_changed svc 320x180", "resolution_changed svc 640x360",
		"track_stopped svc", "participant_left svc", "session_ended ",
	}, f.log.kinds())
	mt := loadManifest(t, f.s).Participants[0].Tracks[0]
	assert.Equal(t, [2]int{320, 180}, [2]int{mt.Width, mt.Height})
	assert.Equal(t, []manifest.Resolution{{AtS: 0.1, Width: 640, Height: 360}}, mt.Resolutions)
	// The Matroska header, written at the first keyframe, gives the
	// largest picture once the file is closed.
	hs, err := avtest.HeaderSize(mt.Path)
	require.NoError(t, err)
	assert.Equal(t, avtest.Size{W: 640, H: 360}, hs)
}

// TestLeaveAt ends a presence at the time the host decided it, after the
// host let the participant's tracks write what they held and stop: the
// presence and the tracks that stopped later end at that time; the time
// is clamped between the join and now.
func TestLeaveAt(t *testing.T) {
	f := newFixture(t)
	f.at(time.Second)
	p, err := f.s.Join("a", "A")
	require.NoError(t, err)
	tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	require.NoError(t, err)
	for i := range 10 {
		require.NoError(t, tr.WriteFrame(recorder.Frame{Payload: []byte{0xf8, 1}, PTS: time.Second + time.Duration(i)*20*time.Millisecond, Duration: 20 * time.Millisecond}))
	}
	f.at(3 * time.Second) // the host decides the participant left
	f.at(3100 * time.Millisecond)
	require.NoError(t, tr.Stop()) // the drain ends the track
	f.at(3200 * time.Millisecond)
	require.NoError(t, p.LeaveAt(3*time.Second))

	q, err := f.s.Join("b", "B")
	require.NoError(t, err)
	require.NoError(t, q.LeaveAt(time.Hour)) // later than now: now
	r, err := f.s.Join("c", "C")
	require.NoError(t, err)
	require.NoError(t, r.LeaveAt(0)) // before the join: the join
	require.NoError(t, f.s.Close(context.Background()))

	m := loadManifest(t, f.s)
	require.Len(t, m.Participants, 3)
	a := m.Participants[0]
	require.Len(t, a.Intervals(), 1)
	assert.Equal(t, 3*time.Second, a.Intervals()[0].Leave())
	end, ok := a.Tracks[0].End()
	require.True(t, ok)
	assert.Equal(t, 3*time.Second, end, "the track stopped after the leave time ends at it")
	for _, p := range m.Participants[1:] {
		iv := p.Intervals()[0]
		assert.Equal(t, 3200*time.Millisecond, iv.Join(), p.ID)
		assert.Equal(t, 3200*time.Millisecond, iv.Leave(), p.ID)
	}
}
