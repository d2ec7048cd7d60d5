package recorder_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/internal/avtest"
)

// Levels of the cross-talk check, on mediacheck's Goertzel amplitude
// (full scale 1.0) averaged over a whole file.
const (
	// ownToneLevel is the least mean level of a file's own tone: avtest's
	// sine is at 8000/32768 = 0.244 of full scale, and Opus at 64 kb/s
	// keeps a steady tone within a few percent.
	ownToneLevel = 0.2
	// foreignToneLevel is the most any other participant's tone may show:
	// tones 300 Hz apart leak well under 0.01 into each other's 10 ms
	// windows, while a frame of another session's participant in the file
	// would raise it to about ownToneLevel for that stretch.
	foreignToneLevel = 0.02
)

// TestTwoSessions records two sessions at once in one process and one
// recordings root, both with participants "alice" and "bob", each
// participant of each session sending its own tone from its own
// goroutine: every file holds only its participant's tone, each session's
// manifest names only its own files, in its own directory, and each
// session's sink sees only its own events and frames.
func TestTwoSessions(t *testing.T) {
	const packets = 150 // 3 s of 20 ms Opus packets
	root := t.TempDir()
	ids := []string{"alice", "bob"}
	freq := func(session, participant int) float64 { return 500 + 300*float64(2*session+participant) }
	var allFreqs []float64
	type room struct {
		s   *recorder.Session
		log *eventLog
	}
	var rooms []room
	for k := range 2 {
		l := &eventLog{}
		s, err := recorder.NewSession(recorder.Config{ID: fmt.Sprintf("room%d", k), Dir: root, Sinks: []recorder.Sink{l}, CheckpointInterval: 10 * time.Millisecond})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		rooms = append(rooms, room{s, l})
		for j := range ids {
			allFreqs = append(allFreqs, freq(k, j))
		}
	}

	var wg sync.WaitGroup
	for k, r := range rooms {
		for j, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				enc, err := avtest.NewOpus(1, freq(k, j))
				if !assert.NoError(t, err) {
					return
				}
				defer enc.Close()
				p, err := r.s.Join(id, fmt.Sprintf("%s in room %d", id, k))
				if !assert.NoError(t, err) {
					return
				}
				tr, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus, Channels: 1})
				if !assert.NoError(t, err) {
					return
				}
				for n := 0; n < packets; {
					pkts, err := enc.Next()
					if !assert.NoError(t, err) {
						return
					}
					for _, pk := range pkts {
						assert.NoError(t, tr.WriteFrame(recorder.Frame{Payload: pk.Data, PTS: pk.PTS}))
						n++
					}
				}
				assert.NoError(t, p.Leave())
			}()
		}
	}
	wg.Wait()

	for k, r := range rooms {
		require.NoError(t, r.s.Close(context.Background()))
		m := loadManifest(t, r.s)
		require.Equal(t, fmt.Sprintf("room%d", k), m.SessionID)
		require.Len(t, m.Participants, len(ids))
		for j, id := range ids {
			mp := m.Participants[j]
			if mp.ID != id {
				// Joins raced: find it.
				for _, q := range m.Participants {
					if q.ID == id {
						mp = q
					}
				}
			}
			require.Equal(t, id, mp.ID)
			require.Equal(t, fmt.Sprintf("%s in room %d", id, k), mp.Name)
			require.Len(t, mp.Tracks, 1, "%s in room %d", id, k)
			path := mp.Tracks[0].Path
			require.Equal(t, r.s.Dir(), filepath.Dir(path), "room %d's file %s is outside its directory", k, path)
			rep, err := mediacheck.Analyze(path, mediacheck.Options{Freqs: allFreqs})
			require.NoError(t, err, path)
			require.NotNil(t, rep.Audio, path)
			require.InDelta(t, (packets * avtest.OpusFrameDuration).Seconds(), rep.Audio.Duration().Seconds(), 0.05, "%s: every packet once", path)
			worst := 0.0
			for _, f := range allFreqs {
				lv := meanLevel(rep.ToneLevels(f))
				if f != freq(k, j) {
					worst = max(worst, lv)
				}
				if f == freq(k, j) {
					assert.GreaterOrEqual(t, lv, ownToneLevel, "%s: its own tone %v Hz", path, f)
				} else {
					assert.LessOrEqual(t, lv, foreignToneLevel, "%s: tone %v Hz of another participant", path, f)
				}
			}
			t.Logf("%s: own tone %.3f, loudest other %.4f", path, meanLevel(rep.ToneLevels(freq(k, j))), worst)
		}
		// Events and frames: only this room's.
		r.log.mu.Lock()
		for _, e := range r.log.events {
			if e.Kind == recorder.ParticipantJoined {
				assert.Contains(t, e.Name, fmt.Sprintf("in room %d", k), "room %d's sink got another room's join", k)
			}
		}
		assert.Len(t, r.log.events, len(ids)*4+1, "room %d's events: a join, track start and stop, a leave per participant, the end", k)
		for _, id := range ids {
			assert.Equal(t, packets, r.log.frames[id+"/microphone"], "room %d's sink: %s's frames", k, id)
		}
		r.log.mu.Unlock()
	}
}

// meanLevel is the mean of levels, 0 for none.
func meanLevel(levels []float64) float64 {
	if len(levels) == 0 {
		return 0
	}
	sum := 0.0
	for _, l := range levels {
		sum += l
	}
	return sum / float64(len(levels))
}
