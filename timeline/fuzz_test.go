package timeline

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The fuzz input encodes a session on a grid of fuzzTick so that the
// reference implementation can work tick by tick:
//
//	byte 0: options: bits 0-2 MinWindow (fuzzMinWindows), bit 3 TrimEmpty,
//	        bit 4 Grid, bits 5-6 MaxTiles (fuzzMaxTiles), bit 7 raw kinds
//	byte 1: end minus the last event, in ticks
//	then 3 bytes per event: participant (low 4 bits, of fuzzPeople) and
//	kind (bit 7, raw mode only), time in ticks (uint16 little endian,
//	modulo fuzzMaxTicks).
//
// In raw mode the kinds are taken as given (so most inputs are invalid and
// exercise the errors); otherwise each participant's events alternate
// Join, Leave, Join... in time order, whatever their order in the slice.
const (
	fuzzTick     = 250 * time.Millisecond
	fuzzMaxTicks = 2048
	fuzzPeople   = 12
	fuzzRawBit   = 0x80
)

var (
	fuzzMinWindows = []time.Duration{0, -1, fuzzTick, time.Second, 3 * time.Second, 0, 0, 0}
	fuzzMaxTiles   = []int{0, 1, 3, 0}
)

// decodeFuzz turns fuzz bytes into Windows' arguments.
func decodeFuzz(data []byte) (events []Event, end time.Duration, opts Options) {
	if len(data) < 2 {
		return nil, fuzzTick, Options{}
	}
	o := data[0]
	opts = Options{
		MinWindow: fuzzMinWindows[o&7],
		TrimEmpty: o&8 != 0,
		MaxTiles:  fuzzMaxTiles[(o>>5)&3],
	}
	if o&16 != 0 {
		opts.Layout = Grid
	}
	raw := o&fuzzRawBit != 0
	var last time.Duration
	for rec := data[2:]; len(rec) >= 3; rec = rec[3:] {
		p := int(rec[0]&15) % fuzzPeople
		at := time.Duration(binary.LittleEndian.Uint16(rec[1:])%fuzzMaxTicks) * fuzzTick
		kind := Join
		if raw && rec[0]&fuzzRawBit != 0 {
			kind = Leave
		}
		events = append(events, Event{Kind: kind, At: at, ParticipantID: fmt.Sprintf("p%d", p), Name: fmt.Sprintf("P%d", p)})
		last = max(last, at)
	}
	if !raw {
		alternate(events)
	}
	return events, last + time.Duration(data[1])*fuzzTick, opts
}

// alternate sets each participant's event kinds to Join, Leave, Join... in
// time order (ties in slice order).
func alternate(events []Event) {
	idx := make([]int, len(events))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(events[a].At, events[b].At) })
	n := make(map[string]int)
	for _, i := range idx {
		id := events[i].ParticipantID
		events[i].Kind = Join
		if n[id]%2 == 1 {
			events[i].Kind = Leave
		}
		n[id]++
	}
}

// encodeFuzz is decodeFuzz's inverse for table cases on the tick grid with
// IDs p0..p11 or single letters; ok is false when the case does not fit.
func encodeFuzz(c windowCase) ([]byte, bool) {
	mw := slices.Index(fuzzMinWindows, c.opts.MinWindow)
	mt := slices.Index(fuzzMaxTiles, c.opts.MaxTiles)
	if mw < 0 || mt < 0 || c.opts.Layout > Grid || c.end <= 0 {
		return nil, false
	}
	o := byte(mw) | byte(mt)<<5 | fuzzRawBit
	if c.opts.TrimEmpty {
		o |= 8
	}
	if c.opts.Layout == Grid {
		o |= 16
	}
	ids := map[string]int{}
	var last time.Duration
	var recs []byte
	for _, e := range c.events {
		if e.At < 0 || e.At%fuzzTick != 0 || e.At/fuzzTick >= fuzzMaxTicks || e.ParticipantID == "" {
			return nil, false
		}
		p, ok := ids[e.ParticipantID]
		if !ok {
			p = len(ids)
			ids[e.ParticipantID] = p
		}
		b := byte(p)
		if e.Kind == Leave {
			b |= fuzzRawBit
		}
		recs = binary.LittleEndian.AppendUint16(append(recs, b), uint16(e.At/fuzzTick))
		last = max(last, e.At)
	}
	extra := (sec(c.end) - last) / fuzzTick
	if len(ids) > fuzzPeople || extra < 0 || extra > 255 || (sec(c.end)-last)%fuzzTick != 0 {
		return nil, false
	}
	return append([]byte{o, byte(extra)}, recs...), true
}

// refWindow is a window of the reference implementation, in ticks, with the
// present participants' IDs in stable order.
type refWindow struct {
	start, end int
	ids        []string
}

// reference computes Windows' documented result tick by tick, written
// independently of windows.go: presence as a running count of joins minus
// leaves, bridging as filling short false runs, then the minimum window
// rule scanning the ticks. ok is false when the input is invalid.
func reference(events []Event, end time.Duration, opts Options) (ws []refWindow, truth [][]string, ok bool) {
	if end <= 0 {
		return nil, nil, false
	}
	n := int(end / fuzzTick)
	minTicks := 0
	switch {
	case opts.MinWindow == 0:
		minTicks = int(DefaultMinWindow / fuzzTick)
	case opts.MinWindow > 0:
		minTicks = int(opts.MinWindow / fuzzTick)
	}

	// Stable order: earliest join, then slice position.
	type rank struct {
		at  time.Duration
		idx int
	}
	first := map[string]rank{}
	for i, e := range events {
		if e.At > end {
			return nil, nil, false
		}
		if r, seen := first[e.ParticipantID]; e.Kind == Join && (!seen || e.At < r.at) {
			first[e.ParticipantID] = rank{e.At, i}
		}
	}
	if len(first) == 0 {
		return nil, nil, false
	}
	order := make([]string, 0, len(first))
	for id := range first {
		order = append(order, id)
	}
	slices.SortFunc(order, func(a, b string) int {
		return cmp.Or(cmp.Compare(first[a].at, first[b].at), cmp.Compare(first[a].idx, first[b].idx))
	})

	// Presence per tick from the running count, checked after each instant.
	present := map[string][]bool{}
	truth = make([][]string, n)
	for _, e := range events {
		if _, ok := first[e.ParticipantID]; !ok {
			return nil, nil, false // leaves only
		}
	}
	for _, id := range order {
		count := map[time.Duration]int{}
		var times []time.Duration
		for _, e := range events {
			if e.ParticipantID != id {
				continue
			}
			if _, seen := count[e.At]; !seen {
				times = append(times, e.At)
			}
			if e.Kind == Join {
				count[e.At]++
			} else {
				count[e.At]--
			}
		}
		slices.Sort(times)
		row := make([]bool, n)
		c := 0
		for k, at := range times {
			c += count[at]
			if c != 0 && c != 1 {
				return nil, nil, false
			}
			stop := n
			if k+1 < len(times) {
				stop = int(times[k+1] / fuzzTick)
			}
			for tick := int(at / fuzzTick); tick < stop; tick++ {
				row[tick] = c == 1
			}
		}
		for tick, in := range row {
			if in {
				truth[tick] = append(truth[tick], id)
			}
		}
		// Bridge false runs shorter than minTicks between two true ticks.
		for a := 0; a < n; {
			if row[a] {
				a++
				continue
			}
			b := a
			for b < n && !row[b] {
				b++
			}
			if a > 0 && b < n && b-a < minTicks {
				for k := a; k < b; k++ {
					row[k] = true
				}
			}
			a = b
		}
		present[id] = row
	}

	// The set per tick, and the ticks where it changes.
	sets := make([][]string, n)
	changed := make([]bool, n+1)
	for tick := range n {
		for _, id := range order {
			if present[id][tick] {
				sets[tick] = append(sets[tick], id)
			}
		}
		changed[tick] = tick > 0 && !slices.Equal(sets[tick-1], sets[tick])
	}
	changed[n] = true
	if minTicks == 0 {
		minTicks = 1 // rule disabled: every change starts a window
	}

	// From each window start, the first change at or after start+minTicks
	// ends it (or the end, if less than minTicks would remain); it shows
	// the set just before that change.
	for start := 0; start < n; {
		stop := min(start+minTicks, n)
		for !changed[stop] {
			stop++
		}
		ids := sets[stop-1]
		if n-stop < minTicks {
			stop = n
		}
		if len(ws) > 0 && slices.Equal(ws[len(ws)-1].ids, ids) {
			ws[len(ws)-1].end = stop
		} else {
			ws = append(ws, refWindow{start, stop, ids})
		}
		start = stop
	}
	if opts.TrimEmpty {
		ws = slices.DeleteFunc(ws, func(w refWindow) bool { return len(w.ids) == 0 })
	}
	return ws, truth, true
}

func FuzzWindows(f *testing.F) {
	for _, c := range windowCases {
		if data, ok := encodeFuzz(c); ok {
			f.Add(data)
			if c.err == nil {
				f.Add(append([]byte{data[0] &^ fuzzRawBit}, data[1:]...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events, end, opts := decodeFuzz(data)
		ws, err := Windows(events, end, opts)
		want, truth, valid := reference(events, end, opts)
		if !valid {
			require.Error(t, err, "reference rejects the input")
			for _, s := range []error{
				ErrLeaveWithoutJoin, ErrDuplicateJoin, ErrNoParticipants, ErrEmptySession, ErrEndBeforeLastEvent,
			} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("unexpected error %v", err)
		}
		require.NoError(t, err)
		checkInvariants(t, ws, end, opts)

		got := make([]refWindow, 0, len(ws))
		for _, w := range ws {
			var ids []string
			for _, p := range append(slices.Clip(w.Participants), w.Hidden...) {
				ids = append(ids, p.ID)
			}
			got = append(got, refWindow{int(w.Start / fuzzTick), int(w.End / fuzzTick), ids})
		}
		require.Equal(t, want, got)
		checkBoundedError(t, got, truth, opts)
	})
}

// checkBoundedError asserts the promise of the minimum window rule without
// its details: the participants listed at a tick differ from those present
// (before bridging) only less than MinWindow after the set last changed.
func checkBoundedError(t *testing.T, got []refWindow, truth [][]string, opts Options) {
	t.Helper()
	minTicks := 1
	switch {
	case opts.MinWindow == 0:
		minTicks = int(DefaultMinWindow / fuzzTick)
	case opts.MinWindow > 0:
		minTicks = int(opts.MinWindow / fuzzTick)
	}
	shown := make([][]string, len(truth))
	for _, w := range got {
		for tick := w.start; tick < w.end; tick++ {
			shown[tick] = w.ids
		}
	}
	lastChange := 0
	for tick := range truth {
		if tick > 0 && !slices.Equal(truth[tick-1], truth[tick]) {
			lastChange = tick
		}
		if !slices.Equal(shown[tick], truth[tick]) {
			require.Less(t, tick-lastChange, minTicks,
				"tick %d shows %v, present %v since tick %d", tick, shown[tick], truth[tick], lastChange)
		}
	}
}

// checkInvariants asserts what holds for every valid input whatever the
// bridging rule: ordered, non-overlapping windows that cover [0, end)
// without gaps (unless TrimEmpty), the MinWindow guarantee, the overflow
// rule, names and layout.
func checkInvariants(t *testing.T, ws []Window, end time.Duration, opts Options) {
	t.Helper()
	minWindow := opts.MinWindow
	if minWindow == 0 {
		minWindow = DefaultMinWindow
	}
	maxTiles := opts.MaxTiles
	if maxTiles == 0 && opts.Layout == Grid {
		maxTiles = DefaultMaxTiles
	}
	var prev time.Duration
	for i, w := range ws {
		require.Less(t, w.Start, w.End, "window %d empty", i)
		if opts.TrimEmpty {
			require.GreaterOrEqual(t, w.Start, prev, "window %d overlaps", i)
			require.NotEmpty(t, w.Participants, "window %d not trimmed", i)
		} else {
			require.Equal(t, prev, w.Start, "window %d not contiguous", i)
		}
		prev = w.End
		if minWindow > 0 && end >= minWindow {
			require.GreaterOrEqual(t, w.End-w.Start, minWindow, "window %d shorter than MinWindow", i)
		}
		if maxTiles > 0 {
			require.LessOrEqual(t, len(w.Participants), maxTiles)
		}
		if len(w.Hidden) > 0 {
			require.Len(t, w.Participants, maxTiles, "hidden while tiles are free")
		}
		for _, p := range append(slices.Clip(w.Participants), w.Hidden...) {
			require.Equal(t, "P"+p.ID[1:], p.Name)
		}
		require.Equal(t, opts.Layout, w.Layout)
	}
	if !opts.TrimEmpty {
		require.Equal(t, end, prev, "windows do not cover the session")
	} else {
		require.LessOrEqual(t, prev, end)
	}
}

// FuzzWindowsExact drives Windows with arbitrary nanosecond times (not on a
// grid) and checks the rule-independent promises: the invariants of
// checkInvariants, and that what a window shows differs from who is
// present only less than MinWindow after the last change of presence.
//
// Input: byte 0 options as in FuzzWindows (raw bit ignored); bytes 1-4 a
// MinWindow in µs (used when the options pick 1 s); then 5 bytes per event:
// participant, time in µs (uint32 little endian).
func FuzzWindowsExact(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x40, 0x9c, 0x62, 0x02, 1, 0x40, 0x8e, 0x47, 0x03})
	f.Add([]byte{3, 0xe8, 3, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0xe8, 3, 0, 0, 2, 0xe9, 3, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 5 {
			return
		}
		opts := Options{
			MinWindow: fuzzMinWindows[data[0]&7],
			TrimEmpty: data[0]&8 != 0,
			MaxTiles:  fuzzMaxTiles[(data[0]>>5)&3],
		}
		if data[0]&16 != 0 {
			opts.Layout = Grid
		}
		if opts.MinWindow == time.Second {
			opts.MinWindow = time.Duration(binary.LittleEndian.Uint32(data[1:])) * time.Microsecond
		}
		var events []Event
		var end time.Duration
		for rec := data[5:]; len(rec) >= 5; rec = rec[5:] {
			p := int(rec[0]) % fuzzPeople
			at := time.Duration(binary.LittleEndian.Uint32(rec[1:])) * time.Microsecond
			events = append(events, Event{At: at, ParticipantID: fmt.Sprintf("p%d", p), Name: fmt.Sprintf("P%d", p)})
			end = max(end, at)
		}
		alternate(events)
		ws, err := Windows(events, end, opts)
		if len(events) == 0 || end == 0 {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		checkInvariants(t, ws, end, opts)

		// Presence changes only at event times; evaluate each segment at
		// its start by counting joins and leaves up to then.
		points := []time.Duration{0}
		for _, e := range events {
			points = append(points, e.At)
		}
		slices.Sort(points)
		points = append(slices.Compact(points), end)
		truthAt := func(x time.Duration) map[string]bool {
			count := map[string]int{}
			for _, e := range events {
				if e.At <= x {
					if e.Kind == Join {
						count[e.ParticipantID]++
					} else {
						count[e.ParticipantID]--
					}
				}
			}
			in := map[string]bool{}
			for id, c := range count {
				if c == 1 {
					in[id] = true
				}
			}
			return in
		}
		for i := 0; i+1 < len(points); i++ {
			segStart, segEnd := points[i], points[i+1]
			if segStart == segEnd {
				continue
			}
			truth := truthAt(segStart)
			for _, w := range ws {
				a, b := max(w.Start, segStart), min(w.End, segEnd)
				if a >= b {
					continue
				}
				shown := map[string]bool{}
				for _, p := range append(slices.Clip(w.Participants), w.Hidden...) {
					shown[p.ID] = true
				}
				if !maps.Equal(shown, truth) {
					minWindow := cmp.Or(opts.MinWindow, DefaultMinWindow)
					require.Positive(t, minWindow, "window %v-%v differs from presence without MinWindow", w.Start, w.End)
					require.LessOrEqual(t, b-segStart, minWindow,
						"window %v-%v shows %v, present %v since %v until %v", w.Start, w.End, shown, truth, segStart, b)
				}
			}
		}
	})
}
