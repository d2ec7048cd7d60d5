package whip_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/whip"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Tolerances of the end-to-end checks, each with its reason.
const (
	// avTolerance is the bound on a participant's flash/beep
	// offset in its recorded files.
	avTolerance = 20 * time.Millisecond
	// presenceTolerance is the bound between the plan and
	// session.json, and between a file's duration and the presence
	// (widened by raceSlack under the race detector).
	presenceTolerance = 100*time.Millisecond + raceSlack
	// firstVideoBound is the bound from subscribing to the first
	// decodable picture.
	firstVideoBound = 1500 * time.Millisecond
	// closeTimeout bounds tearing a rig down.
	closeTimeout = 20 * time.Second
)

// testLogger logs to the test's output at debug level when -v is given.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rig is a session with a WHIP endpoint on 127.0.0.1.
type rig struct {
	s   *recorder.Session
	h   *whip.Handler
	srv *httptest.Server
	url string
}

// newRig starts a session in a temporary directory and serves its WHIP
// endpoint at /whip on 127.0.0.1; sinks receive the session's events.
func newRig(t *testing.T, cfg whip.Config, sinks ...recorder.Sink) *rig {
	t.Helper()
	s, err := recorder.NewSession(recorder.Config{ID: "test", Dir: t.TempDir(), Sinks: sinks})
	require.NoError(t, err)
	h := whip.NewHandler(s, cfg)
	srv := httptest.NewServer(h) // httptest listens on 127.0.0.1
	r := &rig{s: s, h: h, srv: srv, url: srv.URL + "/whip"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = h.Close(ctx)
		srv.Close()
		_ = s.Close(ctx)
	})
	return r
}

// finish ends every publication and the session and loads session.json.
func (r *rig) finish(t *testing.T) *manifest.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	require.NoError(t, r.h.Close(ctx))
	r.srv.Close()
	require.NoError(t, r.s.Close(ctx))
	m, err := manifest.Load(r.s.ManifestPath())
	require.NoError(t, err)
	return m
}

// publish starts a synthetic participant; Close is registered.
func (r *rig) publish(t *testing.T, p synth.Participant) *synth.Publisher {
	t.Helper()
	pub, err := synth.Publish(t.Context(), r.url, p)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = pub.Close(ctx)
	})
	return pub
}

// participantNamed returns the manifest entry of name.
func participantNamed(t *testing.T, m *manifest.Session, name string) manifest.Participant {
	t.Helper()
	for _, p := range m.Participants {
		if p.Name == name {
			return p
		}
	}
	require.Failf(t, "participant missing", "no participant %q in session.json", name)
	return manifest.Participant{}
}

// tracksOf returns the participant's tracks of a kind.
func tracksOf(p manifest.Participant, kind string) []manifest.Track {
	var out []manifest.Track
	for _, tr := range p.Tracks {
		if tr.Kind == kind {
			out = append(out, tr)
		}
	}
	return out
}

// markers are the flash and beep onsets of a participant on the session
// clock, from its recorded files.
type markers struct {
	flashes, beeps []time.Duration
}

// analyzeVideo decodes a video track file and returns its report and the
// flash onsets on the session clock.
func analyzeVideo(t *testing.T, tr manifest.Track) (*mediacheck.Report, []time.Duration) {
	t.Helper()
	require.Positive(t, tr.Width, "track %s has no size", tr.Path)
	rep, err := mediacheck.Analyze(tr.Path, mediacheck.Options{
		Regions: []timeline.Rect{{X: 0, Y: 0, W: tr.Width, H: tr.Height}},
	})
	require.NoError(t, err, tr.Path)
	require.NotNil(t, rep.Video, tr.Path)
	require.Zero(t, rep.Video.Skipped, "%s: undecodable packets", tr.Path)
	var out []time.Duration
	for _, f := range rep.FlashOnsets(0) {
		out = append(out, tr.Start()+f)
	}
	return rep, out
}

// analyzeAudio decodes an audio track file and returns its report and the
// beep onsets on the session clock.
func analyzeAudio(t *testing.T, tr manifest.Track, freq float64) (*mediacheck.Report, []time.Duration) {
	t.Helper()
	rep, err := mediacheck.Analyze(tr.Path, mediacheck.Options{Freqs: []float64{freq}})
	require.NoError(t, err, tr.Path)
	require.NotNil(t, rep.Audio, tr.Path)
	require.Zero(t, rep.Audio.Skipped, "%s: undecodable packets", tr.Path)
	var out []time.Duration
	for _, b := range rep.BeepOnsets(freq) {
		out = append(out, tr.Start()+b)
	}
	return rep, out
}

// participantMarkers decodes every track of p.
func participantMarkers(t *testing.T, p manifest.Participant, index int) markers {
	t.Helper()
	var mk markers
	for _, tr := range tracksOf(p, "video") {
		_, f := analyzeVideo(t, tr)
		mk.flashes = append(mk.flashes, f...)
	}
	for _, tr := range tracksOf(p, "audio") {
		_, b := analyzeAudio(t, tr, synth.Freq(index))
		mk.beeps = append(mk.beeps, b...)
	}
	return mk
}

// requireAVSync checks that the flashes have their beeps within
// avTolerance, for all but one (mediacheck.MinPairs) of the sent markers
// the publisher sent with both its flash and its beep.
func requireAVSync(t *testing.T, mk markers, sent int) {
	t.Helper()
	offsets, err := mediacheck.CheckAV(mk.flashes, mk.beeps, mediacheck.MinPairs(sent), avTolerance)
	t.Logf("%d markers sent; flashes %v beeps %v offsets %v", sent, mk.flashes, mk.beeps, offsets)
	require.NoError(t, err)
}

// markersSent is the number of markers a synthetic publisher sent while p
// was present: one at the start of each presence and one per
// synth.MarkerPeriod after it.
func markersSent(p manifest.Participant) int {
	n := 0
	for _, iv := range p.Intervals() {
		if d := iv.Leave() - iv.Join(); d > 0 {
			n += int((d + synth.MarkerPeriod - 1) / synth.MarkerPeriod)
		}
	}
	return n
}
