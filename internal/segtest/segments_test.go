package segtest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/whip"
	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/s3"
	"github.com/roomtape/roomtape/storage/s3/s3test"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// takeoverSegmentEnv (optional) sets TestSegmentedTakeover's segment
// duration, e.g. 10s (default e2eSegment), to measure the loss at a kill.
const takeoverSegmentEnv = "ROOMTAPE_TAKEOVER_SEGMENT"

// segChildEnv makes the test binary run a segmented recorder (to be
// killed) instead of the tests; its value is the child's JSON config.
const segChildEnv = "ROOMTAPE_WHIP_SEGMENT_CHILD"

// Bounds of the segmented recording tests, each with its reason.
const (
	// e2eSegment is the segment duration (the test value).
	e2eSegment = 2 * time.Second
	// segmentSlack is how far a segment may pass the bound: audio is cut
	// at the first packet at or after it (20 ms); video at the keyframe
	// answering the recorder's request, which comes later than the
	// recorder's margin over the previous answer only when the
	// synthetic publisher is starved of CPU (a busy 2-core machine has
	// delayed its frames by up to a few frames).
	segmentSlack = 250 * time.Millisecond
	// minLiveUploads is how many segments must be in the store while the
	// call still runs (the K).
	minLiveUploads = 4
	// uploadBound bounds a segment's upload to versitygw on 127.0.0.1
	// after it closed: milliseconds for a segment of a few hundred
	// kilobytes, with room for a loaded machine and one retry.
	uploadBound = 2 * time.Second
	// compFPS is the composition's frame rate; compAVTolerance is the
	// composed flash/beep bound, as internal/bot's checks: a flash shows
	// in the first output frame at or after it, a beep onset is found
	// within mediacheck.ToneHop.
	compFPS         = 30
	compAVTolerance = time.Second/compFPS + mediacheck.ToneHop
	// compW and compH are the composition's size: small, to keep CPU low.
	compW, compH = 640, 360
	// childStart bounds the child's start (a fresh test binary, FFmpeg).
	childStart = 30 * time.Second
	// closeTimeout bounds tearing a recorder or publisher down.
	closeTimeout = 20 * time.Second
	// firstVideoBound is recorder/whip's bound from subscribing to the
	// first decodable picture: the second worker's video starts within
	// it of the rejoin.
	firstVideoBound = 1500 * time.Millisecond
)

// TestMain runs the recorder child of TestSegmentedTakeover when asked
// to, else the tests.
func TestMain(m *testing.M) {
	if os.Getenv(segChildEnv) != "" {
		os.Exit(segChild())
	}
	os.Exit(m.Run())
}

// segConfig is what a segmented recorder needs: the S3 server, the
// session and where it goes.
type segConfig struct {
	Endpoint, AccessKeyID, SecretAccessKey, Bucket string
	Prefix, Dir, ID                                string
	Segment                                        time.Duration
}

// segRecorder is a session with a WHIP endpoint on 127.0.0.1 whose
// finished files go to S3 as they close.
type segRecorder struct {
	s   *recorder.Session
	h   *whip.Handler
	srv *http.Server
	ln  net.Listener
	up  *storage.LiveUploader
	url string
}

func newS3Store(ctx context.Context, c segConfig) (*s3.Store, error) {
	return s3.New(ctx, s3.Config{
		Bucket: c.Bucket, Region: s3test.Region, Endpoint: c.Endpoint,
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
	})
}

// startSegRecorder starts recording c (continuing prev when not nil);
// onUpload sees each stored file.
func startSegRecorder(ctx context.Context, c segConfig, prev *manifest.Session, onUpload func(storage.LiveUpload)) (*segRecorder, error) {
	store, err := newS3Store(ctx, c)
	if err != nil {
		return nil, err
	}
	up, err := storage.NewLiveUploader(ctx, store, storage.LiveOptions{Prefix: c.Prefix, OnUpload: onUpload})
	if err != nil {
		return nil, err
	}
	s, err := recorder.NewSession(recorder.Config{ID: c.ID, Dir: c.Dir, SegmentDuration: c.Segment, OnFile: up.Notify, Continue: prev})
	if err != nil {
		return nil, errors.Join(err, up.Close(ctx))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, errors.Join(err, s.Close(ctx), up.Close(ctx))
	}
	h := whip.NewHandler(s, whip.Config{})
	r := &segRecorder{
		s: s, h: h, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln: ln, up: up,
		url: "http://" + ln.Addr().String() + "/whip",
	}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// cleanup closes r when the test ends (again, if the test did: every
// step is idempotent).
func cleanup(t *testing.T, r *segRecorder) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = r.close(ctx)
	})
}

// close ends the publications, the session and the live upload.
func (r *segRecorder) close(ctx context.Context) error {
	err := r.h.Close(ctx)
	err = errors.Join(err, r.srv.Close())
	err = errors.Join(err, r.s.Close(ctx))
	return errors.Join(err, r.up.Close(ctx))
}

// liveLog collects the live uploads with the time they were stored.
type liveLog struct {
	mu  sync.Mutex
	ups []storage.LiveUpload
	at  []time.Time
}

func (l *liveLog) add(u storage.LiveUpload) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ups = append(l.ups, u)
	l.at = append(l.at, time.Now())
}

// segments counts the media files stored so far.
func (l *liveLog) segments() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, u := range l.ups {
		if u.Err == nil && strings.HasSuffix(u.Key, ".mkv") {
			n++
		}
	}
	return n
}

// latencies returns the upload latencies of the media files.
func (l *liveLog) latencies() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, u := range l.ups {
		if u.Err == nil && strings.HasSuffix(u.Key, ".mkv") {
			out = append(out, u.Latency)
		}
	}
	return out
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func meanDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// startS3 starts versitygw with a bucket and returns the recorder
// config for it and a store.
func startS3(t *testing.T) (segConfig, *s3.Store) {
	t.Helper()
	srv := s3test.Start(t)
	bucket := srv.CreateBucket(t)
	c := segConfig{Endpoint: srv.Endpoint, AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey, Bucket: bucket, Segment: e2eSegment}
	store, err := newS3Store(t.Context(), c)
	require.NoError(t, err)
	return c, store
}

// checkSegmentBounds checks every finished segment of m against the
// bound and returns the longest.
func checkSegmentBounds(t *testing.T, m *manifest.Session, bound time.Duration) time.Duration {
	t.Helper()
	var longest time.Duration
	n := 0
	for _, p := range m.Participants {
		for _, tr := range p.Tracks {
			require.NotEmpty(t, tr.Segments, "%s track %s is segmented", tr.Kind, tr.Path)
			for k, sg := range tr.Segments[:len(tr.Segments)-1] {
				end, ok := sg.End()
				require.True(t, ok)
				l := end - sg.Start()
				longest = max(longest, l)
				require.LessOrEqual(t, l, bound+segmentSlack, "%s segment %d of %s", tr.Kind, k, tr.Path)
				n++
			}
		}
	}
	require.Positive(t, n, "segments checked")
	return longest
}

// composeFromStore fetches the session under prefix into a fresh
// directory, composes it and checks the output's markers: alice's
// flashes and beeps pair within compAVTolerance, at least minPairs
// times. It returns the fetched manifest.
func composeFromStore(t *testing.T, store storage.Store, prefix string, minPairs int) *manifest.Session {
	t.Helper()
	m := fetchFromStore(t, store, prefix)
	composeChecked(t, m, minPairs)
	return m
}

// fetchFromStore fetches the session under prefix into a fresh directory.
func fetchFromStore(t *testing.T, store storage.Store, prefix string) *manifest.Session {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "composer")
	m, err := storage.FetchSession(t.Context(), store, prefix, dir, storage.FetchOptions{})
	require.NoError(t, err)
	return m
}

// composeChecked composes the fetched session m beside its files and
// checks the output (see composeFromStore).
func composeChecked(t *testing.T, m *manifest.Session, minPairs int) {
	t.Helper()
	out := filepath.Join(m.SessionDir, "out.mp4")
	require.NoError(t, compose.Session(t.Context(), m, out, composeConfig))
	checkComposed(t, out, m, minPairs)
}

// composeConfig is the tests' composition: small, to keep CPU low.
var composeConfig = compose.Config{Width: compW, Height: compH, FPS: compFPS}

// checkComposed checks the composition out of m: it spans the session
// and alice's flashes and beeps pair within compAVTolerance, at least
// minPairs times.
func checkComposed(t *testing.T, out string, m *manifest.Session, minPairs int) {
	t.Helper()
	tm, _, err := m.Trim()
	require.NoError(t, err)
	ws, err := tm.Windows(timeline.Options{})
	require.NoError(t, err)
	var rect timeline.Rect
	found := false
	for _, w := range ws {
		if len(w.Participants) == 1 {
			tile := w.Tiles(compW, compH)[0]
			dst, _ := timeline.Place(tile, synth.DefaultWidth, synth.DefaultHeight, timeline.Letterbox)
			// The inner half of the picture: off the borders' blur.
			rect = timeline.Rect{X: dst.X + dst.W/4, Y: dst.Y + dst.H/4, W: dst.W / 2, H: dst.H / 2}
			found = true
			break
		}
	}
	require.True(t, found, "alice is shown: %+v", ws)
	freq := testmedia.Freqs[1%len(testmedia.Freqs)]
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: []timeline.Rect{rect}, Freqs: []float64{freq}})
	require.NoError(t, err)
	require.NotNil(t, rep.Video)
	require.InDelta(t, tm.End().Seconds(), rep.Video.Duration().Seconds(), 0.2, "the composition spans the session")
	offs, err := mediacheck.CheckAV(rep.FlashOnsets(0), rep.BeepOnsets(freq), minPairs, compAVTolerance)
	t.Logf("composed: %d A/V pairs, max |A/V| %v", len(offs), mediacheck.MaxAbsAV(offs))
	require.NoError(t, err)
}

// mediaEnd is where a fetched track's media ends: its end_s, or, for a
// track whose last segment a dead recorder listed as still open (stored
// after it closed, before the session.json saying so), the end of that
// file's media.
func mediaEnd(t *testing.T, tr manifest.Track) time.Duration {
	t.Helper()
	if end, ok := tr.End(); ok {
		return end
	}
	last := tr.Files()[len(tr.Files())-1]
	rep, err := mediacheck.Analyze(last.Path, mediacheck.Options{})
	require.NoError(t, err, last.Path)
	st := rep.Video
	if tr.Kind == manifest.KindAudio {
		st = rep.Audio
	}
	require.NotNil(t, st, last.Path)
	return last.Start() + st.End
}

// TestSegmentedUpload records a WHIP call in 2 s segments to versitygw:
// segments reach the store while the call runs, each within the bound,
// the final upload sends only what is missing, and the session composes
// from the store alone with its markers in sync.
func TestSegmentedUpload(t *testing.T) {
	c, store := startS3(t)
	c.Prefix, c.Dir, c.ID = "rooms/seg/", t.TempDir(), "seg"
	var live liveLog
	r, err := startSegRecorder(t.Context(), c, nil, live.add)
	require.NoError(t, err)
	cleanup(t, r)
	// A live composition follows the segments as they are written.
	liveOut := filepath.Join(t.TempDir(), "live.mp4")
	liveDone := make(chan error, 1)
	go func() { liveDone <- compose.Live(t.Context(), r.s, liveOut, composeConfig) }()
	pub, err := synth.Publish(t.Context(), r.url, synth.Participant{Name: "alice", ID: "alice", Index: 1})
	require.NoError(t, err)
	const callLength = 11 * time.Second
	time.Sleep(callLength)
	during := live.segments()
	ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
	defer cancel()
	require.NoError(t, pub.Close(ctx))
	require.NoError(t, r.close(ctx))
	lat := live.latencies()
	t.Logf("segments stored during the call: %d; upload latency after close: mean %v, max %v over %d files",
		during, meanDuration(lat), maxDuration(lat), len(lat))
	require.GreaterOrEqual(t, during, minLiveUploads, "segments uploaded while the call ran")
	require.LessOrEqual(t, maxDuration(lat), uploadBound)

	m, err := manifest.Load(r.s.ManifestPath())
	require.NoError(t, err)
	require.Equal(t, manifest.FormatSegments, m.Format)
	t.Logf("longest segment %v (bound %v + %v)", checkSegmentBounds(t, m, e2eSegment), e2eSegment, segmentSlack)

	// The final upload finds every segment stored.
	res, err := storage.UploadSession(t.Context(), store, r.s.ManifestPath(), storage.UploadOptions{
		Prefix: c.Prefix, Manifest: true, Participants: true,
	})
	require.ErrorIs(t, err, storage.ErrIncomplete, "no composition here: the final MP4 is missing")
	require.Len(t, res.Failed(), 1, "only the final MP4 is missing")
	present := 0
	for _, o := range res.Objects {
		if strings.HasSuffix(o.Key, ".mkv") {
			require.Equal(t, storage.StatusPresent, o.Status, "%s sent again", o.Key)
			present++
		}
	}
	require.Positive(t, present)

	sent := 5 // markers sent: one every 2 s over the 11 s call
	composeFromStore(t, store, c.Prefix, mediacheck.MinPairs(sent))
	select {
	case err := <-liveDone:
		require.NoError(t, err, "live composition")
	case <-time.After(closeTimeout):
		t.Fatal("the live composition did not end with the session")
	}
	checkComposed(t, liveOut, m, mediacheck.MinPairs(sent))
}

// segChild is the recorder process TestSegmentedTakeover kills: it
// records until killed, printing "url <WHIP URL>" once and "stored
// <key>" for every file it uploaded.
func segChild() int {
	var c segConfig
	if err := json.Unmarshal([]byte(os.Getenv(segChildEnv)), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	emit := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = fmt.Fprintf(out, format+"\n", args...)
		_ = out.Flush()
	}
	ctx := context.Background()
	r, err := startSegRecorder(ctx, c, nil, func(u storage.LiveUpload) {
		if u.Err == nil {
			emit("stored %s", u.Key)
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	emit("url %s", r.url)
	select {} // until killed
}

// TestSegmentedTakeover kills a recorder process (kill -9) mid-call; a
// second process (this one) continues the same session from the store
// alone, in a fresh directory, and the composition from the store covers
// both parts with one gap. It prints the media lost per participant and
// the takeover time.
func TestSegmentedTakeover(t *testing.T) {
	c, store := startS3(t)
	c.Prefix, c.ID = "rooms/takeover/", "takeover"
	if v := os.Getenv(takeoverSegmentEnv); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, takeoverSegmentEnv)
		c.Segment = d
	}
	t.Logf("segment duration %v", c.Segment)
	c.Dir = filepath.Join(t.TempDir(), "worker1")
	cfgJSON, err := json.Marshal(c)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), segChildEnv+"="+string(cfgJSON))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	}()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var url string
	select {
	case l := <-lines:
		require.True(t, strings.HasPrefix(l, "url "), l)
		url = strings.TrimPrefix(l, "url ")
	case <-time.After(childStart):
		t.Fatal("the recorder child did not start")
	}

	alice := synth.Participant{Name: "alice", ID: "alice", Index: 1}
	pub1, err := synth.Publish(t.Context(), url, alice)
	require.NoError(t, err)
	// Kill once a few segments of each track are stored, mid-segment.
	beforeKill := max(7*time.Second, 5*c.Segment/2)
	deadline := time.After(beforeKill + childStart)
	stored := 0
	for start := time.Now(); time.Since(start) < beforeKill; {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the child exited")
			if strings.HasPrefix(l, "stored ") && strings.HasSuffix(l, ".mkv") {
				stored++
			}
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no segments stored")
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	killedAt := time.Now()
	killed = true
	_ = cmd.Wait()
	pub1.Sever()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	_ = pub1.Close(ctx) // its resource died with the recorder
	cancel()
	t.Logf("killed the recorder after %d segments stored", stored)
	require.GreaterOrEqual(t, stored, 2)

	// The takeover: this process continues the session from the store.
	c2 := c
	c2.Dir = filepath.Join(t.TempDir(), "worker2")
	prev, err := storage.FetchSession(t.Context(), store, c.Prefix, filepath.Join(c2.Dir, c.ID), storage.FetchOptions{ManifestOnly: true})
	require.NoError(t, err)
	r, err := startSegRecorder(t.Context(), c2, prev, nil)
	require.NoError(t, err)
	cleanup(t, r)
	pub2, err := synth.Publish(t.Context(), r.url, alice)
	require.NoError(t, err)
	const afterTakeover = 7 * time.Second
	time.Sleep(afterTakeover)
	ctx, cancel = context.WithTimeout(t.Context(), closeTimeout)
	defer cancel()
	require.NoError(t, pub2.Close(ctx))
	require.NoError(t, r.close(ctx))

	m, err := manifest.Load(r.s.ManifestPath())
	require.NoError(t, err)
	require.Len(t, m.Participants, 1, "one alice across both parts")
	ivs := m.Participants[0].Intervals()
	require.Len(t, ivs, 2, "alice's presence, with the gap between the workers")
	kill := killedAt.Sub(r.s.StartedAt())
	rejoin := ivs[1].Join()
	takeover := rejoin - kill
	t.Logf("longest segment %v", checkSegmentBounds(t, m, c.Segment))

	// Media lost per track: from the end of what the first worker stored
	// to the kill, and to the second worker's first frame; measured on
	// the session as the store holds it.
	fetched := fetchFromStore(t, store, c.Prefix)
	require.Len(t, fetched.Participants, 1)
	require.Len(t, fetched.Participants[0].Intervals(), 2)
	markers := 0 // markers in the stored video, less one at each part's edges
	for _, kind := range []string{manifest.KindVideo, manifest.KindAudio} {
		var part1Start, part1End, part2Start, part2End time.Duration
		n := 0
		for _, tr := range fetched.Participants[0].Tracks {
			if tr.Kind != kind {
				continue
			}
			n++
			end := mediaEnd(t, tr)
			if n == 1 {
				part1Start, part1End = tr.Start(), end
			} else {
				part2Start, part2End = tr.Start(), end
			}
		}
		if kind == manifest.KindVideo {
			markers = max(0, int((part1End-part1Start)/synth.MarkerPeriod)-1) + max(0, int((part2End-part2Start)/synth.MarkerPeriod)-1)
		}
		require.Equal(t, 2, n, "%s tracks: one per worker", kind)
		lostAtKill := kill - part1End
		gap := part2Start - part1End
		t.Logf("%s: first worker stored media up to %v, killed at %v: lost at the kill %v; media resumes at %v: media lost %v (segment %v + takeover %v)",
			kind, part1End, kill, lostAtKill, part2Start, gap, c.Segment, takeover)
		require.LessOrEqual(t, lostAtKill, c.Segment+segmentSlack+uploadBound, "%s lost at the kill", kind)
		require.LessOrEqual(t, gap, c.Segment+segmentSlack+uploadBound+takeover+firstVideoBound, "%s media lost", kind)
	}
	t.Logf("takeover (kill to rejoin): %v", takeover)

	composeChecked(t, fetched, markers)
}
