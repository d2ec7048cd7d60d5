package manifest

import (
	"fmt"
	"math"
	"time"
)

// Clone returns a deep copy of s.
func (s *Session) Clone() *Session {
	c := *s
	if s.EndTimeS != nil {
		end := *s.EndTimeS
		c.EndTimeS = &end
	}
	if s.Participants != nil {
		c.Participants = make([]Participant, len(s.Participants))
	}
	for i, p := range s.Participants {
		p.Presence = append([]Interval(nil), p.Presence...)
		tracks := p.Tracks
		p.Tracks = nil
		for _, t := range tracks {
			if t.EndS != nil {
				end := *t.EndS
				t.EndS = &end
			}
			t.Resolutions = append([]Resolution(nil), t.Resolutions...)
			t.Segments = cloneSegments(t.Segments)
			p.Tracks = append(p.Tracks, t)
		}
		c.Participants[i] = p
	}
	return &c
}

// cloneSegments deep-copies segments (nil stays nil).
func cloneSegments(segs []Segment) []Segment {
	if segs == nil {
		return nil
	}
	out := make([]Segment, len(segs))
	for i, sg := range segs {
		if sg.EndS != nil {
			end := *sg.EndS
			sg.EndS = &end
		}
		out[i] = sg
	}
	return out
}

// Trim returns a copy of s whose times are shifted so that the first join
// is at 0 and whose end is the last leave: a composition of it leaves out
// the wait before anyone came and the idle time after the last one left, as
// the prototype's output spanned first join to last leave. offset is the
// session time of the copy's 0. Media recorded before the first join keeps
// its place (a track may start before 0); s itself is not changed.
//
// While a session is recorded its manifest lists present participants
// until now, so the trimmed end is now; once everyone has left it is the
// last leave. A session without participants is returned as a copy with
// offset 0.
func (s *Session) Trim() (out *Session, offset time.Duration, err error) {
	if err := s.Validate(); err != nil {
		return nil, 0, err
	}
	out = s.Clone()
	if len(out.Participants) == 0 {
		return out, 0, nil
	}
	first, last := math.Inf(1), 0.0
	for _, p := range out.Participants {
		for _, iv := range p.Intervals() {
			first = min(first, iv.JoinS)
			last = max(last, iv.LeaveS)
		}
	}
	shift := func(v *float64) { *v = max(0, *v-first) }
	for i := range out.Participants {
		p := &out.Participants[i]
		shift(&p.JoinTimeS)
		shift(&p.LeaveTimeS)
		for k := range p.Presence {
			shift(&p.Presence[k].JoinS)
			shift(&p.Presence[k].LeaveS)
		}
		for k := range p.Tracks {
			t := &p.Tracks[k]
			t.StartS -= first // may go negative: media before the first join
			if t.EndS != nil {
				shift(t.EndS)
			}
			for r := range t.Resolutions {
				t.Resolutions[r].AtS -= first
			}
			for g := range t.Segments {
				sg := &t.Segments[g]
				sg.StartS -= first // like the track's start
				if sg.EndS != nil {
					*sg.EndS -= first
				}
			}
		}
	}
	end := last - first
	out.EndTimeS = &end
	if err := out.Validate(); err != nil {
		return nil, 0, fmt.Errorf("manifest: trimmed session %q: %w", s.SessionID, err)
	}
	return out, FromSeconds(first), nil
}
