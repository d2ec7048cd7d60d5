package manifest_test

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/roomtape/roomtape/timeline/manifest"
)

func fptr(f float64) *float64 { return &f }

func TestTrim(t *testing.T) {
	m := &manifest.Session{
		SessionID: "s", EndTimeS: fptr(95), // 30 s idle timeout after the last leave
		Participants: []manifest.Participant{
			{
				ID: "a", Name: "A", JoinTimeS: 5, LeaveTimeS: 65,
				Presence: []manifest.Interval{{JoinS: 5, LeaveS: 20}, {JoinS: 30, LeaveS: 65}},
				Tracks: []manifest.Track{
					{
						Kind: "video", Path: "a.mkv", StartS: 5.1, EndS: fptr(65), Width: 640, Height: 360,
						Resolutions: []manifest.Resolution{{AtS: 40, Width: 360, Height: 640}},
					},
					{Kind: "audio", Path: "a.opus.mkv", StartS: 4.9},
				},
			},
			{Name: "B", JoinTimeS: 10, LeaveTimeS: 50},
		},
	}
	out, off, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
	if off != 5*time.Second || out.End() != 60*time.Second {
		t.Fatalf("offset %v end %v, want 5s and 60s", off, out.End())
	}
	a, b := out.Participants[0], out.Participants[1]
	if a.JoinTimeS != 0 || a.LeaveTimeS != 60 || a.Presence[1].JoinS != 25 || b.JoinTimeS != 5 || b.LeaveTimeS != 45 {
		t.Errorf("presence not shifted: %+v %+v", a, b)
	}
	v, au := a.Tracks[0], a.Tracks[1]
	if d := v.StartS - 0.1; d > 1e-9 || d < -1e-9 || *v.EndS != 60 || v.Resolutions[0].AtS != 35 {
		t.Errorf("video track %+v", v)
	}
	if d := au.StartS + 0.1; d > 1e-9 || d < -1e-9 {
		t.Errorf("audio track starting before the first join: start %v, want -0.1", au.StartS)
	}
	// The recorded manifest is untouched.
	if m.Participants[0].JoinTimeS != 5 || *m.EndTimeS != 95 || m.Participants[0].Tracks[0].StartS != 5.1 {
		t.Errorf("input modified: %+v", m)
	}
	// No participants: nothing to trim.
	if out, off, err := (&manifest.Session{SessionID: "e"}).Trim(); err != nil || off != 0 || len(out.Participants) != 0 {
		t.Errorf("empty session: %v %v %v", out, off, err)
	}
}

// FuzzTrim: a valid session trims into a valid one starting at 0, with
// every presence interval kept (shifted, the same length), and an
// invalid one is refused.
func FuzzTrim(f *testing.F) {
	f.Add([]byte(`{"participants":[{"id":"a","name":"A","join_time_s":5,"leave_time_s":65,"presence":[{"join_s":5,"leave_s":20},{"join_s":30,"leave_s":65}],"tracks":[{"kind":"video","path":"a.mkv","start_s":4.9,"end_s":65}]},{"name":"B","join_time_s":10,"leave_time_s":50}],"end_time_s":95}`))
	f.Add([]byte(`{"participants":[{"name":"a","join_time_s":-1,"leave_time_s":2}]}`))
	f.Add([]byte(`{"participants":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := manifest.Parse(bytes.NewReader(data), "")
		if err != nil {
			return
		}
		out, off, err := s.Trim()
		if err != nil {
			if s.Validate() == nil {
				t.Fatalf("valid session refused: %v", err)
			}
			return
		}
		if len(s.Participants) == 0 {
			return
		}
		if err := out.Validate(); err != nil {
			t.Fatalf("trimmed session invalid: %v", err)
		}
		first := math.Inf(1)
		for pi, p := range out.Participants {
			in, got := s.Participants[pi].Intervals(), p.Intervals()
			if len(in) != len(got) {
				t.Fatalf("participant %d: %d intervals, want %d", pi, len(got), len(in))
			}
			for k := range got {
				first = min(first, got[k].JoinS)
				if d := (got[k].LeaveS - got[k].JoinS) - (in[k].LeaveS - in[k].JoinS); math.Abs(d) > 1e-6 {
					t.Fatalf("participant %d interval %d: length changed by %v", pi, k, d)
				}
				if d := got[k].JoinS + manifest.ToSeconds(off) - in[k].JoinS; math.Abs(d) > 1e-6 {
					t.Fatalf("participant %d interval %d: shifted by %v, want the offset %v", pi, k, d, off)
				}
			}
		}
		if first != 0 {
			t.Fatalf("first join at %v, want 0", first)
		}
	})
}
