package livekit_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/livekit"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Tolerances of the end-to-end tests, each with its reason.
const (
	// presenceTolerance bounds how far a recorded join or leave may be
	// from the instant the test made it happen: the server relays
	// participant updates over the signal connection within
	// milliseconds, but a loaded 2-core machine running the server, four
	// clients and the race detector delays callbacks.
	presenceTolerance = time.Second
	// markerTolerance bounds the offset between a flash (or beep) in the
	// recording and the instant the publisher sent it. Frames are stamped
	// from RTCP Sender Reports, which on one machine would be exact to a
	// few milliseconds plus the 33 ms output frame grid; but
	// livekit-server writes its own Sender Reports for the bot's
	// downtracks, and for a downtrack that starts before the publisher's
	// first packet reaches the SFU ("dummy start") it guesses the RTP
	// offset, which has put whole participants up to ~300 ms early in
	// loaded runs. Measured otherwise: beeps 0-8 ms after their send,
	// flashes 75-92 ms after (video downtracks start that way). A/V sync
	// inside a participant stays tight (avTolerance).
	markerTolerance = 400 * time.Millisecond
	// avTolerance bounds the offset between a participant's flash and beep
	// in the composed output: a 66 ms frame at 15 fps, 20 ms Opus packets,
	// the 33 ms output frame grid and each track's own Sender Report
	// estimate (measured: up to ~100 ms).
	avTolerance = 200 * time.Millisecond
	// endTolerance bounds how long Record takes to return after the room
	// is deleted: the server tells the bot at once; tracks then stop and
	// files close.
	endTolerance = 5 * time.Second
	// outW and outH are the composed output size: small, the point is the
	// layout, not the resolution.
	outW, outH = 640, 360
)

// step is one action of a test plan at a time after the bot started.
type step struct {
	at   time.Duration
	name string
	do   func() error
}

// runPlan runs the steps at their times after origin and returns, for
// each, the session times at which it started and finished. A step that
// takes longer than stepSlack (a join on a loaded machine) delays the
// later steps as much, so that the spans between steps keep their planned
// length.
func runPlan(t *testing.T, origin time.Time, steps []step) (start, end []time.Duration) {
	t.Helper()
	var shift time.Duration
	for _, s := range steps {
		at := s.at + shift
		time.Sleep(time.Until(origin.Add(at)))
		start = append(start, time.Since(origin))
		if err := s.do(); err != nil {
			t.Fatalf("plan step %q at %v: %v", s.name, at, err)
		}
		end = append(end, time.Since(origin))
		took := end[len(end)-1] - start[len(start)-1]
		shift += max(0, took-stepSlack)
		t.Logf("plan %6.2fs %-40s ran %6.3fs-%6.3fs", s.at.Seconds(), s.name, start[len(start)-1].Seconds(), end[len(end)-1].Seconds())
	}
	return start, end
}

// stepSlack is how long a plan step may take before it delays the next
// ones: a publisher's join takes about a second here.
const stepSlack = 1500 * time.Millisecond

// inRoom makes the calling test run in a network namespace of its own
// (see internal/netns) with a livekit-server and the given room. It
// returns nil in the parent process, whose test must then return.
func inRoom(t *testing.T, room string) *lktest.Server {
	t.Helper()
	ns := netns.Enter(t, netns.Config{})
	if ns == nil {
		return nil
	}
	srv := lktest.StartServer(t, ns.Addr)
	if _, err := srv.RoomService().CreateRoom(t.Context(), &lkproto.CreateRoomRequest{Name: room}); err != nil {
		t.Fatal(err)
	}
	return srv
}

// clip makes participant i's clip (no audio with noAudio) with the given
// video layers.
func clip(t *testing.T, i int, noAudio bool, layers ...lktest.Size) *lktest.Clip {
	t.Helper()
	c, err := lktest.MakeClip(t.Context(), t.TempDir(), i, layers, noAudio)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startBot runs Record for room on srv into s in the background, with the
// test output size; cancel stops it and done yields its result.
func startBot(t *testing.T, srv *lktest.Server, room string, s *recorder.Session) (done <-chan error, cancel context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	ch := make(chan error, 1)
	go func() {
		ch <- livekit.Record(ctx, s, livekit.Config{
			URL: srv.URL, APIKey: lktest.APIKey, APISecret: lktest.APISecret, Room: room,
			Output: livekit.Output{Width: outW, Height: outH}, Logger: testLogger(t),
		})
	}()
	return ch, cancel
}

// testLogger logs to t at debug level when ROOMTAPE_TEST_DEBUG=1.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	if os.Getenv("ROOMTAPE_TEST_DEBUG") != "1" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testDir is a fresh directory for a test's recordings: under
// $ROOMTAPE_TEST_KEEP (kept, to look at) when set, else a temporary one.
func testDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ROOMTAPE_TEST_KEEP"); d != "" {
		dir := filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// eventLog collects a session's events.
type eventLog struct {
	mu  sync.Mutex
	evs []recorder.Event
}

func (l *eventLog) add(e recorder.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
}

func (l *eventLog) events() []recorder.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]recorder.Event(nil), l.evs...)
}

// TestRecordRoom records a room in which three participants join, one
// leaves and comes back, one has no camera and one shares a screen, until
// the room is deleted; then it composes the session and checks the
// layout and the markers of every window.
func TestRecordRoom(t *testing.T) {
	const room = "standup"
	srv := inRoom(t, room)
	if srv == nil {
		return // the test ran in its namespace child
	}
	ctx := t.Context()

	// Clips: alice's camera in three simulcast layers, bob's camera in
	// one, carol's microphone only, alice's screen with its own tint.
	aliceClip := clip(t, 0, false, lktest.Size{W: 640, H: 360}, lktest.Size{W: 320, H: 180}, lktest.Size{W: 160, H: 90})
	bobClip := clip(t, 1, false, lktest.Size{W: 320, H: 180})
	carolClip := clip(t, 2, false)
	screenClip := clip(t, 3, true, lktest.Size{W: 320, H: 180})

	var evs eventLog
	sess, err := recorder.NewSession(recorder.Config{
		ID: "lk", Dir: testDir(t), Logger: testLogger(t),
		Sinks: []recorder.Sink{recorder.EventFunc(evs.add)},
	})
	if err != nil {
		t.Fatal(err)
	}
	recDone := make(chan error, 1)
	go func() {
		recDone <- livekit.Record(ctx, sess, livekit.Config{
			URL: srv.URL, APIKey: lktest.APIKey, APISecret: lktest.APISecret, Room: room,
			Output: livekit.Output{Width: outW, Height: outH},
			Logger: testLogger(t),
		})
	}()
	origin := sess.StartedAt()

	var (
		pubs    = map[string]*lktest.Publisher{} // the latest of each identity
		all     []*lktest.Publisher
		byID    = map[string][]*lktest.Publisher{} // every publisher of each identity
		screen  string
		deleted time.Time
	)
	join := func(id, name string, c *lktest.Clip) func() error {
		return func() error {
			p, err := lktest.JoinAndPublish(ctx, srv.URL, room, id, name, c)
			if err != nil {
				return err
			}
			pubs[id] = p
			all = append(all, p)
			byID[id] = append(byID[id], p)
			return nil
		}
	}
	steps := []step{
		{500 * time.Millisecond, "alice joins (simulcast camera, mic)", join("alice", "Alice", aliceClip)},
		{3500 * time.Millisecond, "bob joins (camera, mic)", join("bob", "Bob", bobClip)},
		{6500 * time.Millisecond, "carol joins (mic only)", join("carol", "Carol", carolClip)},
		{10500 * time.Millisecond, "alice shares her screen", func() (err error) {
			screen, err = pubs["alice"].PublishVideo(screenClip, lkproto.TrackSource_SCREEN_SHARE, "screen")
			return err
		}},
		{13500 * time.Millisecond, "bob leaves", func() error { pubs["bob"].Leave(); return nil }},
		{16500 * time.Millisecond, "alice stops sharing", func() error { return pubs["alice"].Unpublish(screen) }},
		{19500 * time.Millisecond, "bob rejoins", join("bob", "Bob", bobClip)},
		{24 * time.Second, "room deleted", func() error {
			deleted = time.Now()
			_, err := srv.RoomService().DeleteRoom(ctx, &lkproto.DeleteRoomRequest{Room: room})
			return err
		}},
	}
	stepStart, stepEnd := runPlan(t, origin, steps)
	select {
	case err := <-recDone:
		if err != nil {
			t.Fatalf("Record after the room was deleted: %v", err)
		}
		t.Logf("Record returned %v after the room was deleted", time.Since(deleted).Round(time.Millisecond))
	case <-time.After(endTolerance):
		t.Fatalf("Record still running %v after the room was deleted", endTolerance)
	}
	for _, p := range all {
		p.Leave()
	}
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}

	m, err := manifest.Load(sess.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	// A participant is in the room once its publisher connected (the
	// server announces it then), and out of it when it starts leaving.
	iv := func(join, leave int) manifest.Interval {
		return manifest.Interval{JoinS: manifest.ToSeconds(stepEnd[join]), LeaveS: manifest.ToSeconds(stepStart[leave])}
	}
	checkPresence(t, m, map[string][]manifest.Interval{
		"alice":        {iv(0, 7)},
		"bob":          {iv(1, 4), iv(6, 7)},
		"carol":        {iv(2, 7)},
		"alice#screen": {{JoinS: manifest.ToSeconds(stepStart[3]), LeaveS: manifest.ToSeconds(stepStart[5])}},
	})
	checkLayers(t, m, evs.events())
	sent := func(id, video, audio string, index int) markers {
		return markers{sentMarkers(origin, video, byID[id]...), sentMarkers(origin, audio, byID[id]...), index}
	}
	sentBy := map[string]markers{
		"alice":        sent("alice", "camera", "mic", 0),
		"bob":          sent("bob", "camera", "mic", 1),
		"carol":        sent("carol", "camera", "mic", 2),
		"alice#screen": sent("alice", "screen", "", 3),
	}
	checkComposition(t, m, sentBy)
	checkTracks(t, m, sentBy)
	// Bob's media after his rejoin: a camera and a microphone file from
	// his second presence on (their markers are checked by checkTracks).
	for _, p := range m.Participants {
		if p.ID != "bob" || len(p.Intervals()) < 2 {
			continue
		}
		rejoin := p.Intervals()[1].JoinS
		kinds := map[string]bool{}
		for _, tr := range p.Tracks {
			if tr.StartS >= rejoin {
				kinds[tr.Kind] = true
			}
		}
		if !kinds[manifest.KindVideo] || !kinds[manifest.KindAudio] {
			t.Errorf("bob after his rejoin at %.2fs: tracks %v, want video and audio", rejoin, kinds)
		}
	}
}

// markers are the session times at which a participant's publisher sent
// its markers: flashes (first frame of each) and beeps (first packet of
// each), in the colours and tone of participant Index.
type markers struct {
	Flashes, Beeps []time.Duration
	Index          int
}

// sentMarkers returns the session times at which the tracks named name of
// pubs sent their markers.
func sentMarkers(origin time.Time, name string, pubs ...*lktest.Publisher) []time.Duration {
	var out []time.Duration
	for _, p := range pubs {
		for _, at := range p.Markers(name) {
			out = append(out, at.Sub(origin))
		}
	}
	return out
}

// nearest returns the instant of sent nearest to f (-1 if none).
func nearest(sent []time.Duration, f time.Duration) time.Duration {
	best := time.Duration(-1)
	for _, s := range sent {
		if best < 0 || absDur(f-s) < absDur(f-best) {
			best = s
		}
	}
	return best
}

// between returns an instant of [start, end) half-way between two flashes
// (so that the picture shows its tint, not a flash), nearest to the middle
// of the span and away from its edges.
func (m markers) between(start, end time.Duration) time.Duration {
	mid := (start + end) / 2
	best := mid
	for _, f := range m.Flashes {
		at := f + testmedia.MarkerPeriod/2
		if at >= start+edgeMargin && at < end-edgeMargin && (best == mid || absDur(at-mid) < absDur(best-mid)) {
			best = at
		}
	}
	return best
}

// edgeMargin keeps measurements away from window edges, where a new
// stream waits for its first keyframe and the layout just changed.
const edgeMargin = 500 * time.Millisecond

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// checkPresence compares the recorded presence intervals with the plan.
func checkPresence(t *testing.T, m *manifest.Session, want map[string][]manifest.Interval) {
	t.Helper()
	got := map[string]manifest.Participant{}
	for _, p := range m.Participants {
		got[p.Key()] = p
	}
	for id, ivs := range want {
		p, ok := got[id]
		if !ok {
			t.Errorf("participant %q not recorded; have %v", id, keys(got))
			continue
		}
		have := p.Intervals()
		if len(have) != len(ivs) {
			t.Errorf("%s: %d presence intervals %v, want %d %v", id, len(have), have, len(ivs), ivs)
			continue
		}
		for i, iv := range ivs {
			for _, c := range []struct {
				what      string
				got, want time.Duration
			}{
				{"join", manifest.FromSeconds(have[i].JoinS), manifest.FromSeconds(iv.JoinS)},
				{"leave", manifest.FromSeconds(have[i].LeaveS), manifest.FromSeconds(iv.LeaveS)},
			} {
				if d := c.got - c.want; d < -presenceTolerance || d > presenceTolerance {
					t.Errorf("%s interval %d %s at %v, planned %v (tolerance %v)", id, i, c.what, c.got, c.want, presenceTolerance)
				}
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("recorded participants %v, want %d", keys(got), len(want))
	}
	if _, ok := got["carol"].VideoTrack(); ok {
		t.Errorf("carol published no camera but has a video track")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Simulcast layer heights of alice's camera.
var aliceLayers = []int{90, 180, 360}

// layerSettle bounds how long after a layout change the recorded layer
// may still be the old one: the bot asks at once, the SFU switches on the
// next keyframe of the new layer, which the looped clips carry every
// ClipLength (2 s), plus signalling and a loaded machine.
const layerSettle = lktest.ClipLength + time.Second

// frameLatency bounds how long a frame takes from capture to the
// recorder: the SFU and the receiver's reorder buffer (pionrec's
// MaxLatency, 500 ms) on a loaded machine.
const frameLatency = time.Second

// blankFrameSize is the size of the blank frames livekit-server sends
// when a video track ends or is muted (so that decoders do not freeze on
// the last picture); they are not a layer.
const blankFrameSize = 16

// checkLayers checks alice's simulcast camera: the bot asks for the layer
// that fits her tile, so every layer received is at most the one fitting
// the layout of the moment (or of the moment up to layerSettle before, or
// frameLatency after); the SFU may send a lower one while the wanted layer
// is not flowing (a loaded publisher), which is logged. Over the plan the
// layer must go down and up again.
func checkLayers(t *testing.T, m *manifest.Session, evs []recorder.Event) {
	t.Helper()
	cfg := livekit.Output{Width: outW, Height: outH}
	tilesAt := func(at time.Duration) int {
		n := 0
		for _, p := range m.Participants {
			for _, iv := range p.Intervals() {
				if manifest.FromSeconds(iv.JoinS) <= at && at < manifest.FromSeconds(iv.LeaveS) {
					n++
				}
			}
		}
		return n
	}
	var heights []int
	down, up := false, false
	var changes []recorder.Event // alice's camera sizes, blank frames left out
	for _, e := range evs {
		if e.Kind != recorder.ResolutionChanged || e.ParticipantID != "alice" || e.Track == nil || e.Track.Source != recorder.Camera {
			continue
		}
		if e.Height <= blankFrameSize {
			t.Logf("alice camera at %6.2fs: %dx%d (the SFU's blank frames as the track ends)", e.At.Seconds(), e.Width, e.Height)
			continue
		}
		changes = append(changes, e)
	}
	for k, e := range changes {
		if n := len(heights); n > 0 {
			down = down || e.Height < heights[n-1]
			up = up || e.Height > heights[n-1]
		}
		heights = append(heights, e.Height)
		wanted := map[int]bool{}
		top := 0
		for d := -frameLatency; d <= layerSettle; d += 100 * time.Millisecond {
			h := livekit.LayerHeight(cfg, tilesAt(e.At-d), 640, 360, aliceLayers)
			wanted[h] = true
			top = max(top, h)
		}
		note := ""
		switch {
		case e.Height > top:
			t.Errorf("alice camera switched to height %d at %v; layers fitting the layout then: %v", e.Height, e.At, slices.Sorted(maps.Keys(wanted)))
		case !wanted[e.Height]:
			// The SFU may start a layer switch with a lower layer; it must
			// reach the fitting one within layerSettle.
			until := time.Duration(1<<62 - 1)
			if k+1 < len(changes) {
				until = changes[k+1].At
			} else {
				for _, p := range m.Participants {
					if tr, ok := p.VideoTrack(); p.ID == "alice" && ok && tr.EndS != nil {
						until = manifest.FromSeconds(*tr.EndS)
					}
				}
			}
			note = fmt.Sprintf(" (below the requested layer until %v: the SFU fell back)", until)
			if until-e.At > layerSettle {
				t.Errorf("alice camera fell to height %d at %v, below the layer fitting her tile %v, and stayed there until %v (more than %v)",
					e.Height, e.At, slices.Sorted(maps.Keys(wanted)), until, layerSettle)
			}
		}
		t.Logf("alice camera at %6.2fs: %dx%d with %d tiles%s", e.At.Seconds(), e.Width, e.Height, tilesAt(e.At), note)
	}
	if !down || !up {
		t.Errorf("alice camera heights %v: want the layer to go down and up again over the plan", heights)
	}
}

// checkComposition composes the session and checks every window: the
// planned layout (participants in tiles, in their tints) and the markers
// of each participant (flashes in its tile, beeps at its frequency in the
// mix) at the instants its publisher sent them.
//
// compose shows each participant's first camera track and mixes its first
// microphone track (manifest.Participant.VideoTrack and AudioTrack), so
// the content checks cover the spans of those tracks; a rejoin's new
// files are checked directly by checkTracks.
func checkComposition(t *testing.T, m *manifest.Session, sent map[string]markers) {
	t.Helper()
	out := filepath.Join(filepath.Dir(m.SessionDir), "out.mp4")
	// FullSpan: the checks compare output times with session times (by
	// default the output starts at the first join).
	cfg := compose.Config{Width: outW, Height: outH, Preset: "ultrafast", FullSpan: true}
	if err := compose.Session(t.Context(), m, out, cfg); err != nil {
		t.Fatal(err)
	}
	graphs, err := compose.Graphs(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]manifest.Participant{}
	for _, p := range m.Participants {
		byID[p.Key()] = p
	}
	span := func(tr manifest.Track, ok bool) (from, to time.Duration) {
		if !ok {
			return 0, 0
		}
		from, to = manifest.FromSeconds(tr.StartS), m.End()
		if tr.EndS != nil {
			to = manifest.FromSeconds(*tr.EndS)
		}
		return from, to
	}
	var regions []timeline.Rect
	type tile struct {
		win    timeline.Window
		id     string
		region int
	}
	var tiles []tile
	for _, g := range graphs {
		w := g.Window
		var names []string
		for i, r := range w.Tiles(outW, outH) {
			id := w.Participants[i].ID
			names = append(names, id)
			tiles = append(tiles, tile{w, id, len(regions)})
			// Every picture is 16:9: measure where it is drawn.
			dst, _ := timeline.Place(r, 16, 9, cfg.Fit)
			regions = append(regions, inset(dst))
		}
		t.Logf("layout %6.2fs-%6.2fs: %s", w.Start.Seconds(), w.End.Seconds(), strings.Join(names, " | "))
	}
	freqs := map[string]float64{}
	for id, mo := range sent {
		freqs[id] = testmedia.Freqs[mo.Index]
	}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: regions, Freqs: slices.Collect(maps.Values(freqs))})
	if err != nil {
		t.Fatal(err)
	}
	palette := make([]mediacheck.RGB, len(testmedia.Tints))
	for i, g := range testmedia.Tints {
		palette[i] = mediacheck.RGB{R: 255 * g[0], G: 255 * g[1], B: 255 * g[2]}
	}
	checkMarkers := func(what, id string, got, sent []time.Duration, from, to time.Duration) int {
		var offs []string
		for _, f := range got {
			if f < from+edgeMargin || f > to-edgeMargin {
				continue
			}
			want := nearest(sent, f)
			offs = append(offs, (f - want).Round(time.Millisecond).String())
			if absDur(f-want) > markerTolerance {
				t.Errorf("%s %s at %v, sent at %v (tolerance %v)", id, what, f, want, markerTolerance)
			}
		}
		if len(offs) > 0 {
			t.Logf("%s %s times in the output minus send times: %v", id, what, offs)
		}
		return len(offs)
	}
	flashes := map[string]int{}
	for _, tl := range tiles {
		mo := sent[tl.id]
		if len(mo.Flashes) == 0 {
			continue // no camera: a placeholder
		}
		from, to := span(byID[tl.id].VideoTrack())
		from, to = max(from, tl.win.Start), min(to, tl.win.End)
		if to-from < 2*edgeMargin {
			continue
		}
		at := mo.between(from, to)
		c, ok := rep.MeanAt(tl.region, at)
		if !ok {
			t.Errorf("%s: no frame at %v", tl.id, at)
			continue
		}
		if i, _ := mediacheck.Nearest(c, palette); i != mo.Index {
			t.Errorf("tile of %s at %v is coloured %+v (nearest tint %d), want tint %d", tl.id, at, c, i, mo.Index)
		}
		flashes[tl.id] += checkMarkers("flash", tl.id, rep.FlashOnsets(tl.region), mo.Flashes, from, to)
	}
	for _, id := range slices.Sorted(maps.Keys(freqs)) {
		n := 0
		if from, to := span(byID[id].AudioTrack()); from != to {
			n = checkMarkers("beep", id, rep.BeepOnsets(freqs[id]), sent[id].Beeps, from, to)
		}
		var av []mediacheck.Offset
		within := func(ts []time.Duration, from, to time.Duration) []time.Duration {
			var out []time.Duration
			for _, x := range ts {
				if x >= from+edgeMargin && x <= to-edgeMargin {
					out = append(out, x)
				}
			}
			return out
		}
		// Markers sent while the tile showed the participant and both
		// its camera and microphone were recorded: each needs its pair.
		vFrom, vTo := span(byID[id].VideoTrack())
		aFrom, aTo := span(byID[id].AudioTrack())
		sentAV := 0
		var flashesAV, beepsAV []time.Duration
		for _, tl := range tiles {
			if tl.id != id || len(sent[id].Flashes) == 0 || aFrom == aTo {
				continue
			}
			from, to := max(tl.win.Start, vFrom, aFrom), min(tl.win.End, vTo, aTo)
			if to <= from {
				continue
			}
			sentAV += len(within(sent[id].Flashes, from, to))
			flashesAV = append(flashesAV, within(rep.FlashOnsets(tl.region), from, to)...)
			beepsAV = append(beepsAV, within(rep.BeepOnsets(freqs[id]), from, to)...)
		}
		if sentAV > 0 {
			var err error
			av, err = mediacheck.CheckAV(flashesAV, beepsAV, mediacheck.MinPairs(sentAV), avTolerance)
			if err != nil {
				t.Errorf("%s: in the composed output, %d markers sent: %v", id, sentAV, err)
			}
		}
		var avs []string
		for _, o := range av {
			avs = append(avs, o.AV.Round(time.Millisecond).String())
		}
		t.Logf("%s: %d flashes, %d beeps checked, A/V (beep - flash) %v", id, flashes[id], n, avs)
		if flashes[id] == 0 && n == 0 {
			t.Errorf("%s: no marker found in the composed output", id)
		}
	}
}

// checkTracks checks the recorded files that compose leaves out (a
// participant's tracks after its first camera and microphone, e.g. after
// a rejoin): their markers sit where the publisher sent them.
func checkTracks(t *testing.T, m *manifest.Session, sent map[string]markers) {
	t.Helper()
	for _, p := range m.Participants {
		mo, ok := sent[p.Key()]
		if !ok {
			continue
		}
		v, _ := p.VideoTrack()
		a, _ := p.AudioTrack()
		for _, tr := range p.Tracks {
			if tr.Path == v.Path || tr.Path == a.Path {
				continue
			}
			opts := mediacheck.Options{Freqs: []float64{testmedia.Freqs[mo.Index]}}
			if tr.Kind == manifest.KindVideo {
				// A corner region: it fits every simulcast layer.
				opts = mediacheck.Options{Regions: []timeline.Rect{{W: 64, H: 36}}}
			}
			rep, err := mediacheck.Analyze(tr.Path, opts)
			if err != nil {
				t.Errorf("%s: %v", tr.Path, err)
				continue
			}
			got, want := rep.BeepOnsets(testmedia.Freqs[mo.Index]), mo.Beeps
			if tr.Kind == manifest.KindVideo {
				got, want = rep.FlashOnsets(0), mo.Flashes
			}
			for _, o := range got {
				at := manifest.FromSeconds(tr.StartS) + o
				if w := nearest(want, at); absDur(at-w) > markerTolerance {
					t.Errorf("%s %s file %s: marker at %v, sent at %v (tolerance %v)", p.Key(), tr.Kind, filepath.Base(tr.Path), at, w, markerTolerance)
				}
			}
			t.Logf("%s %s file %s (not composed): markers at %v (file time)", p.Key(), tr.Kind, filepath.Base(tr.Path), got)
			// All but one of the markers sent while the file recorded
			// must be in it.
			if tr.EndS == nil {
				t.Errorf("%s %s file %s: no end", p.Key(), tr.Kind, filepath.Base(tr.Path))
				continue
			}
			from, to := manifest.FromSeconds(tr.StartS)+edgeMargin, manifest.FromSeconds(*tr.EndS)-edgeMargin
			sentIn, found := 0, 0
			for _, w := range want {
				if w >= from && w <= to {
					sentIn++
				}
			}
			for _, o := range got {
				if at := manifest.FromSeconds(tr.StartS) + o; at >= from-markerTolerance && at <= to+markerTolerance {
					found++
				}
			}
			if sentIn > 0 && found < mediacheck.MinPairs(sentIn) {
				t.Errorf("%s %s file %s: %d markers of the %d sent while it recorded", p.Key(), tr.Kind, filepath.Base(tr.Path), found, sentIn)
			}
		}
	}
}

// inset shrinks a tile to its inner part, away from edges blurred by
// scaling and coding.
func inset(r timeline.Rect) timeline.Rect {
	dx, dy := r.W/8&^1, r.H/8&^1
	return timeline.Rect{X: r.X + dx, Y: r.Y + dy, W: r.W - 2*dx, H: r.H - 2*dy}
}
