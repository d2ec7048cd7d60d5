package recorder_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// TestSessionHints checks the session's hints file: none until asked for,
// then named in session.json, closed with the session (open runs written,
// later levels ignored), and nil without files.
func TestSessionHints(t *testing.T) {
	s, err := recorder.NewSession(recorder.Config{Dir: t.TempDir(), ID: "hints"})
	require.NoError(t, err)
	require.Empty(t, s.Manifest().Hints, "hints before any transport asked for them")
	w := s.Hints()
	require.NotNil(t, w)
	require.Same(t, w, s.Hints())
	require.Equal(t, manifest.HintsName, s.Manifest().Hints)
	w.Level("a", 0, manifest.HintsStep, 30)
	w.Speakers(time.Second, []string{"a"})
	require.NoError(t, s.Close(context.Background()))
	s.Hints().Level("a", time.Second, manifest.HintsStep, 1) // ignored: closed

	m, err := manifest.Load(s.ManifestPath())
	require.NoError(t, err)
	h, err := manifest.LoadHints(m.Hints)
	require.NoError(t, err)
	require.Equal(t, []manifest.HintLevel{{At: 0, Step: manifest.HintsStep, DBov: 30}}, h.Levels["a"])
	require.Len(t, h.Speakers, 1)

	off, err := recorder.NewSession(recorder.Config{DisableFiles: true})
	require.NoError(t, err)
	require.Nil(t, off.Hints(), "with files disabled")
	require.NoError(t, off.Close(context.Background()))
}
