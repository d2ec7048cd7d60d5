package timeline

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// span is a presence interval [start, end) on the session clock.
type span struct {
	start, end time.Duration
}

// named is a Join's display name from At on.
type named struct {
	at   time.Duration
	name string
}

// person is one participant while Windows works: its place in the stable
// order, its names over time and its (bridged) presence.
type person struct {
	id       string
	firstAt  time.Duration
	firstIdx int
	names    []named
	evIdx    []int
	spans    []span
}

// nameAt is the name set by the latest Join at or before t, or by the first
// Join when t is earlier; the ID when no Join carried a name. names holds
// the non-empty names in time order.
func (p *person) nameAt(t time.Duration) string {
	if len(p.names) == 0 {
		return p.id
	}
	i, _ := slices.BinarySearchFunc(p.names, t, func(n named, t time.Duration) int {
		return cmp.Compare(n.at, t+1) // first name after t
	})
	return p.names[max(i-1, 0)].name
}

// rawWindow is a span with the set of present participants as sorted
// indices into the stable order.
type rawWindow struct {
	start, end time.Duration
	set        []int
}

// Windows turns join and leave events into layout windows covering the
// session [0, end).
//
// Input rules:
//   - Every event needs a ParticipantID, a Kind of Join or Leave and an At
//     that is not negative; end must be positive and not earlier than any
//     event; at least one participant must join. Violations return an error
//     wrapping ErrEmptyID, ErrBadKind, ErrNegativeTime, ErrEndBeforeLastEvent,
//     ErrEmptySession or ErrNoParticipants (an [*EventError] when one event is
//     at fault); bad Options return ErrInvalidOptions.
//   - Events may come in any order. A participant's events are applied in
//     time order; a Join while present returns ErrDuplicateJoin, a Leave
//     while absent ErrLeaveWithoutJoin. Events of one participant at the
//     same instant are paired up whatever their order in the slice: a Leave
//     and a Join at the same instant while present is a reconnection that
//     does not interrupt the presence; a Join and a Leave at the same instant
//     while absent is a zero-length visit that shows nothing.
//   - A participant with a Join and no later Leave is present until end.
//
// Output rules, applied in this order:
//
//  1. Bridging: when a participant is absent for less than MinWindow
//     between two presence intervals, the absence is ignored (no layout
//     flash when someone drops and reconnects). Absences before the first
//     join and after the last leave are never bridged.
//  2. The session is cut wherever the set of present participants (on
//     screen or hidden) changes.
//  3. Minimum window: a window starts at 0 or where the set changes, and
//     ends at the first change at or after Start+MinWindow, or at end
//     when there is none or when less than MinWindow would remain after it.
//     It shows the participants present just before that change (just
//     before end when there is none): the set that has held for a while,
//     not a passing one. Changes within
//     MinWindow of a window's start are not shown; adjacent windows with
//     the same participants are merged. So every window is at least
//     MinWindow long when end is, and the screen differs from who is
//     present only less than MinWindow after a change (a participant may
//     appear up to MinWindow before joining, stay up to MinWindow after
//     leaving, or show up to MinWindow late): renderers draw a background
//     or the last picture for a tile without media. A negative MinWindow
//     disables bridging and this rule.
//  4. TrimEmpty drops the windows without participants, leaving gaps.
//  5. Main area: a window in which a screen share (Options.Screens) is
//     present shows it in the main area: the Speaker layout with the share
//     first and everyone else (other shares too) in the strip, or with
//     SingleSpeaker only the share. Otherwise the Speaker and SingleSpeaker
//     layouts are cut at each turn of Options.Turns and show its speaker
//     in the main area while the speaker is present, and the Columns
//     layout while nobody has spoken yet or the speaker is away. The
//     other layouts are drawn as they are. Adjacent windows that end up
//     alike are merged.
//
// Participants are listed in the stable order of their first Join (ties in
// the order of the events in the slice), so tiles don't jump. Their Name is
// the one given by their latest Join at or before the window's Start (the
// ID when no Join carried a name).
//
// Overflow rule: when more participants are present than Options.MaxTiles,
// the first MaxTiles in the stable order are on screen and the others are
// listed in Window.Hidden (still present, heard but not seen).
func Windows(events []Event, end time.Duration, opts Options) ([]Window, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	people, err := collect(events, end)
	if err != nil {
		return nil, err
	}
	for _, p := range people {
		if err := p.buildSpans(events, end); err != nil {
			return nil, err
		}
		p.spans = bridge(p.spans, opts.MinWindow)
	}

	raw := cut(people, end)
	raw = settle(raw, opts.MinWindow)

	out := make([]Window, 0, len(raw))
	for _, r := range raw {
		if opts.TrimEmpty && len(r.set) == 0 {
			continue
		}
		w := Window{Start: r.start, End: r.end, Layout: opts.Layout}
		for k, idx := range r.set {
			p := people[idx]
			part := Participant{ID: p.id, Name: p.nameAt(r.start)}
			if opts.MaxTiles > 0 && k >= opts.MaxTiles {
				w.Hidden = append(w.Hidden, part)
			} else {
				w.Participants = append(w.Participants, part)
			}
		}
		out = append(out, w)
	}
	return arrange(out, opts), nil
}

// normalize validates o and fills in defaults.
func (o Options) normalize() (Options, error) {
	switch o.Layout {
	case Columns, Grid, Speaker, SingleSpeaker, Auto:
	default:
		return o, fmt.Errorf("timeline: Options.Layout %d: %w", o.Layout, ErrInvalidOptions)
	}
	if err := checkTurns(o.Turns); err != nil {
		return o, err
	}
	if o.MaxTiles < 0 {
		return o, fmt.Errorf("timeline: Options.MaxTiles %d: %w", o.MaxTiles, ErrInvalidOptions)
	}
	if o.MaxTiles == 0 && (o.Layout == Grid || o.Layout == Auto) {
		o.MaxTiles = DefaultMaxTiles
	}
	if o.MinWindow == 0 {
		o.MinWindow = DefaultMinWindow
	}
	return o, nil
}

// collect validates every event and end, and groups the events by
// participant in the stable order.
func collect(events []Event, end time.Duration) ([]*person, error) {
	byID := make(map[string]*person)
	var last time.Duration
	lastIdx := -1
	for i, e := range events {
		switch {
		case e.ParticipantID == "":
			return nil, &EventError{Index: i, Field: "ParticipantID", Err: ErrEmptyID}
		case e.Kind != Join && e.Kind != Leave:
			return nil, &EventError{Index: i, ParticipantID: e.ParticipantID, Field: "Kind", Err: ErrBadKind}
		case e.At < 0:
			return nil, &EventError{Index: i, ParticipantID: e.ParticipantID, Field: "At", Err: ErrNegativeTime}
		}
		if lastIdx < 0 || e.At > last {
			last, lastIdx = e.At, i
		}
		p := byID[e.ParticipantID]
		if p == nil {
			p = &person{id: e.ParticipantID, firstIdx: -1}
			byID[e.ParticipantID] = p
		}
		p.evIdx = append(p.evIdx, i)
		if e.Kind == Join && (p.firstIdx < 0 || e.At < p.firstAt) {
			p.firstAt, p.firstIdx = e.At, i
		}
	}
	switch {
	case end < 0:
		return nil, fmt.Errorf("timeline: session end %v: %w", end, ErrNegativeTime)
	case lastIdx >= 0 && end < last:
		e := events[lastIdx]
		return nil, fmt.Errorf("timeline: session end %v before event %d (participant %q) at %v: %w",
			end, lastIdx, e.ParticipantID, e.At, ErrEndBeforeLastEvent)
	}

	people := make([]*person, 0, len(byID))
	for _, p := range byID {
		if p.firstIdx < 0 {
			// Only leaves: the first one has no join.
			i := slices.MinFunc(p.evIdx, func(a, b int) int {
				return cmp.Or(cmp.Compare(events[a].At, events[b].At), cmp.Compare(a, b))
			})
			return nil, &EventError{Index: i, ParticipantID: p.id, Field: "Kind", Err: ErrLeaveWithoutJoin}
		}
		people = append(people, p)
	}
	if len(people) == 0 {
		return nil, fmt.Errorf("timeline: %d events: %w", len(events), ErrNoParticipants)
	}
	if end == 0 {
		return nil, fmt.Errorf("timeline: session end 0: %w", ErrEmptySession)
	}
	slices.SortFunc(people, func(a, b *person) int {
		return cmp.Or(cmp.Compare(a.firstAt, b.firstAt), cmp.Compare(a.firstIdx, b.firstIdx))
	})
	return people, nil
}

// buildSpans applies p's events in time order and records its presence
// intervals and names.
func (p *person) buildSpans(events []Event, end time.Duration) error {
	idx := p.evIdx
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Compare(events[a].At, events[b].At)
	})
	present := false
	var since time.Duration
	for g := 0; g < len(idx); {
		at := events[idx[g]].At
		joins, leaves := 0, 0
		firstLeave, lastJoin := -1, -1
		h := g
		for ; h < len(idx) && events[idx[h]].At == at; h++ {
			i := idx[h]
			if events[i].Kind == Join {
				joins++
				lastJoin = i
				if events[i].Name != "" {
					p.names = append(p.names, named{at: at, name: events[i].Name})
				}
			} else {
				leaves++
				if firstLeave < 0 {
					firstLeave = i
				}
			}
		}
		g = h

		// Present before: L,J pairs keep it present, one extra L ends it.
		// Absent before: J,L pairs keep it absent, one extra J starts it.
		net := joins - leaves
		switch {
		case present && net > 0, !present && net > 1:
			return &EventError{Index: lastJoin, ParticipantID: p.id, Field: "Kind", Err: ErrDuplicateJoin}
		case present && net < -1, !present && net < 0:
			return &EventError{Index: firstLeave, ParticipantID: p.id, Field: "Kind", Err: ErrLeaveWithoutJoin}
		case present && net == -1:
			p.spans = append(p.spans, span{since, at})
			present = false
		case !present && net == 1:
			since = at
			present = true
		}
	}
	if present {
		p.spans = append(p.spans, span{since, end})
	}
	return nil
}

// bridge drops empty spans and joins spans separated by less than
// minWindow (or touching).
func bridge(spans []span, minWindow time.Duration) []span {
	out := spans[:0]
	for _, s := range spans {
		if s.end <= s.start {
			continue
		}
		if n := len(out); n > 0 && s.start-out[n-1].end < max(minWindow, 1) {
			out[n-1].end = s.end
			continue
		}
		out = append(out, s)
	}
	return out
}

// cut splits [0, end) wherever the set of present people changes.
func cut(people []*person, end time.Duration) []rawWindow {
	bounds := []time.Duration{0, end}
	for _, p := range people {
		for _, s := range p.spans {
			bounds = append(bounds, s.start, s.end)
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)

	next := make([]int, len(people)) // per person, first span not yet over
	var out []rawWindow
	for b := 0; b+1 < len(bounds); b++ {
		start, stop := bounds[b], bounds[b+1]
		var set []int
		for k, p := range people {
			for next[k] < len(p.spans) && p.spans[next[k]].end <= start {
				next[k]++
			}
			if next[k] < len(p.spans) && p.spans[next[k]].start <= start {
				set = append(set, k)
			}
		}
		out = appendMerged(out, rawWindow{start: start, end: stop, set: set})
	}
	return out
}

// appendMerged appends w, or extends the last window when it has the same
// participants.
func appendMerged(ws []rawWindow, w rawWindow) []rawWindow {
	if n := len(ws); n > 0 && slices.Equal(ws[n-1].set, w.set) {
		ws[n-1].end = w.end
		return ws
	}
	return append(ws, w)
}

// settle applies the minimum window rule documented on Windows to raw,
// whose adjacent windows have different sets.
func settle(raw []rawWindow, minWindow time.Duration) []rawWindow {
	if minWindow <= 0 {
		return raw
	}
	end := raw[len(raw)-1].end
	var out []rawWindow
	for i := 0; i < len(raw); {
		start := raw[i].start
		j := i
		for j+1 < len(raw) && raw[j].end-start < minWindow {
			j++
		}
		w := rawWindow{start: start, end: raw[j].end, set: raw[j].set}
		if end-w.end < minWindow {
			w.end, j = end, len(raw)-1
		}
		out = appendMerged(out, w)
		i = j + 1
	}
	return out
}
