package bot

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/roomtape/roomtape/timeline/manifest"
)

// forComposition returns a copy of m to compose, with its times shifted so
// that the first join is at 0 and its end at the last leave: the output
// leaves out the wait before anyone came and the idle timeout after the
// last one left, as the prototype's output spanned first join to last
// leave. offset is the session time of the output's start. m itself (and
// session.json) keeps the times as recorded.
func forComposition(m *manifest.Session) (out *manifest.Session, offset time.Duration, err error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, 0, fmt.Errorf("bot: copy manifest: %w", err)
	}
	out = new(manifest.Session)
	if err := json.Unmarshal(data, out); err != nil {
		return nil, 0, fmt.Errorf("bot: copy manifest: %w", err)
	}
	if len(out.Participants) == 0 {
		return out, 0, nil
	}
	first, last := math.Inf(1), 0.0
	for _, p := range out.Participants {
		first = min(first, p.JoinTimeS)
		last = max(last, p.LeaveTimeS)
	}
	shift := func(s *float64) { *s = max(0, *s-first) }
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
		}
	}
	end := last - first
	out.EndTimeS = &end
	if err := out.Validate(); err != nil {
		return nil, 0, fmt.Errorf("bot: trimmed manifest: %w", err)
	}
	return out, manifest.FromSeconds(first), nil
}
