package timeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sec converts float seconds for compact test tables.
func sec(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}

func join(id string, s float64) Event {
	return Event{Kind: Join, At: sec(s), ParticipantID: id, Name: strings.ToUpper(id)}
}

func leave(id string, s float64) Event {
	return Event{Kind: Leave, At: sec(s), ParticipantID: id}
}

// render writes windows as "start-end a|b (+c)" lines, IDs only.
func render(ws []Window) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		ids := make([]string, 0, len(w.Participants))
		for _, p := range w.Participants {
			ids = append(ids, p.ID)
		}
		s := fmt.Sprintf("%v-%v %s", w.Start, w.End, strings.Join(ids, "|"))
		if len(w.Hidden) > 0 {
			hidden := make([]string, 0, len(w.Hidden))
			for _, p := range w.Hidden {
				hidden = append(hidden, p.ID)
			}
			s += " (+" + strings.Join(hidden, "|") + ")"
		}
		out = append(out, s)
	}
	return out
}

// windowCase is one named case shared by the table test and the fuzz seed.
type windowCase struct {
	name   string
	events []Event
	end    float64
	opts   Options
	want   []string
	err    error
}

var noFlap = Options{MinWindow: -1}

var windowCases = []windowCase{
	{
		name:   "prototype README example",
		events: []Event{join("aditya", 0), join("iphone", 40), leave("iphone", 55)},
		end:    65,
		want:   []string{"0s-40s aditya", "40s-55s aditya|iphone", "55s-1m5s aditya"},
	},
	{
		name:   "prototype example unsorted",
		events: []Event{leave("iphone", 55), leave("aditya", 65), join("iphone", 40), join("aditya", 0)},
		end:    65,
		want:   []string{"0s-40s aditya", "40s-55s aditya|iphone", "55s-1m5s aditya"},
	},
	{
		name: "rejoin after a long absence",
		events: []Event{
			join("a", 0), join("b", 10), leave("b", 20), join("b", 30), leave("b", 40),
		},
		end:  60,
		want: []string{"0s-10s a", "10s-20s a|b", "20s-30s a", "30s-40s a|b", "40s-1m0s a"},
	},
	{
		name: "flapping within MinWindow is bridged",
		events: []Event{
			join("a", 0), join("b", 10), leave("b", 20), join("b", 21), leave("b", 30), join("b", 30.5), leave("b", 40),
		},
		end:  60,
		want: []string{"0s-10s a", "10s-40s a|b", "40s-1m0s a"},
	},
	{
		name: "flapping shown when MinWindow is disabled",
		events: []Event{
			join("a", 0), join("b", 10), leave("b", 20), join("b", 21), leave("b", 30),
		},
		end:  40,
		opts: noFlap,
		want: []string{"0s-10s a", "10s-20s a|b", "20s-21s a", "21s-30s a|b", "30s-40s a"},
	},
	{
		name: "absence of exactly MinWindow is not bridged",
		events: []Event{
			join("a", 0), join("b", 10), leave("b", 20), join("b", 22), leave("b", 30),
		},
		end:  40,
		want: []string{"0s-10s a", "10s-20s a|b", "20s-22s a", "22s-30s a|b", "30s-40s a"},
	},
	{
		name:   "reconnect at the same instant, join listed first",
		events: []Event{join("a", 0), join("a", 10), leave("a", 10), leave("a", 20)},
		end:    20,
		opts:   noFlap,
		want:   []string{"0s-20s a"},
	},
	{
		name:   "zero-length visit shows nothing",
		events: []Event{join("a", 0), leave("b", 10), join("b", 10)},
		end:    20,
		opts:   noFlap,
		want:   []string{"0s-20s a"},
	},
	{
		name:   "short visit is absorbed by the window before",
		events: []Event{join("a", 0), join("b", 40), leave("b", 41)},
		end:    60,
		want:   []string{"0s-1m0s a"},
	},
	{
		name:   "short intermediate set is skipped",
		events: []Event{join("a", 0), join("b", 40), join("c", 40.5)},
		end:    60,
		want:   []string{"0s-40s a", "40s-1m0s a|b|c"},
	},
	{
		name:   "change exactly MinWindow after a window start",
		events: []Event{join("a", 0), join("b", 2)},
		end:    10,
		want:   []string{"0s-2s a", "2s-10s a|b"},
	},
	{
		name:   "join shortly before the end is not shown",
		events: []Event{join("a", 0), join("b", 59)},
		end:    60,
		want:   []string{"0s-1m0s a"},
	},
	{
		name:   "leave shortly after a window start",
		events: []Event{join("a", 0), join("b", 10), leave("a", 11)},
		end:    30,
		want:   []string{"0s-10s a", "10s-30s b"},
	},
	{
		name:   "short leading window takes the next participants",
		events: []Event{join("a", 0), join("b", 0.5)},
		end:    10,
		want:   []string{"0s-10s a|b"},
	},
	{
		name:   "short leading empty window",
		events: []Event{join("a", 0.25)},
		end:    10,
		want:   []string{"0s-10s a"},
	},
	{
		name:   "session shorter than MinWindow",
		events: []Event{join("a", 0), join("b", 0.5)},
		end:    1,
		want:   []string{"0s-1s a|b"},
	},
	{
		name:   "short trailing window is absorbed",
		events: []Event{join("a", 0), leave("a", 10)},
		end:    11,
		want:   []string{"0s-11s a"},
	},
	{
		name:   "empty periods kept",
		events: []Event{join("a", 5), leave("a", 10), join("b", 20), leave("b", 30)},
		end:    35,
		want:   []string{"0s-5s ", "5s-10s a", "10s-20s ", "20s-30s b", "30s-35s "},
	},
	{
		name:   "empty periods trimmed",
		events: []Event{join("a", 5), leave("a", 10), join("b", 20), leave("b", 30)},
		end:    35,
		opts:   Options{TrimEmpty: true},
		want:   []string{"5s-10s a", "20s-30s b"},
	},
	{
		name:   "stable order by first join, kept across a rejoin",
		events: []Event{join("z", 0), join("b", 10), join("a", 20), leave("z", 30), join("z", 40)},
		end:    50,
		want:   []string{"0s-10s z", "10s-20s z|b", "20s-30s z|b|a", "30s-40s b|a", "40s-50s z|b|a"},
	},
	{
		name:   "simultaneous first joins keep the slice order",
		events: []Event{join("y", 0), join("x", 0), join("w", 0)},
		end:    5,
		want:   []string{"0s-5s y|x|w"},
	},
	{
		name:   "open-ended participant stays until end",
		events: []Event{join("a", 0), join("b", 3), leave("a", 6)},
		end:    9,
		want:   []string{"0s-3s a", "3s-6s a|b", "6s-9s b"},
	},
	{
		name:   "grid shows 9 and hides the 10th",
		events: tenJoins(),
		end:    12,
		opts:   Options{Layout: Grid, MinWindow: -1},
		want: []string{
			"0s-2s p0", "2s-3s p0|p1", "3s-4s p0|p1|p2", "4s-5s p0|p1|p2|p3", "5s-6s p0|p1|p2|p3|p4",
			"6s-7s p0|p1|p2|p3|p4|p5", "7s-8s p0|p1|p2|p3|p4|p5|p6", "8s-9s p0|p1|p2|p3|p4|p5|p6|p7",
			"9s-10s p0|p1|p2|p3|p4|p5|p6|p7|p8", "10s-12s p0|p1|p2|p3|p4|p5|p6|p7|p8 (+p9)",
		},
	},
	{
		name:   "joins closer than MinWindow change the layout every MinWindow",
		events: tenJoins(),
		end:    12,
		opts:   Options{Layout: Grid},
		want: []string{
			"0s-2s p0", "2s-4s p0|p1|p2", "4s-6s p0|p1|p2|p3|p4", "6s-8s p0|p1|p2|p3|p4|p5|p6",
			"8s-10s p0|p1|p2|p3|p4|p5|p6|p7|p8", "10s-12s p0|p1|p2|p3|p4|p5|p6|p7|p8 (+p9)",
		},
	},
	{
		name:   "columns capped by MaxTiles",
		events: tenJoins()[:5],
		end:    8,
		opts:   Options{MaxTiles: 3, MinWindow: -1},
		want: []string{
			"0s-2s p0", "2s-3s p0|p1", "3s-4s p0|p1|p2", "4s-5s p0|p1|p2 (+p3)", "5s-8s p0|p1|p2 (+p3|p4)",
		},
	},
	{
		name:   "hidden participant frees its place on leave",
		events: []Event{join("a", 0), join("b", 0), join("c", 0), leave("a", 10)},
		end:    20,
		opts:   Options{Layout: Grid, MaxTiles: 2},
		want:   []string{"0s-10s a|b (+c)", "10s-20s b|c"},
	},
	{name: "empty participant ID", events: []Event{{Kind: Join}}, end: 1, err: ErrEmptyID},
	{name: "unknown kind", events: []Event{{Kind: 7, ParticipantID: "a"}}, end: 1, err: ErrBadKind},
	{name: "zero kind", events: []Event{{ParticipantID: "a"}}, end: 1, err: ErrBadKind},
	{name: "negative time", events: []Event{join("a", 0), join("b", -1)}, end: 1, err: ErrNegativeTime},
	{name: "negative end", events: []Event{join("a", 0)}, end: -1, err: ErrNegativeTime},
	{name: "end before last event", events: []Event{join("a", 0), leave("a", 10)}, end: 9, err: ErrEndBeforeLastEvent},
	{name: "zero end", events: []Event{join("a", 0)}, end: 0, err: ErrEmptySession},
	{name: "no events", end: 10, err: ErrNoParticipants},
	{name: "leave only", events: []Event{leave("a", 1), leave("a", 2)}, end: 10, err: ErrLeaveWithoutJoin},
	{name: "leave twice", events: []Event{join("a", 0), leave("a", 1), leave("a", 2)}, end: 10, err: ErrLeaveWithoutJoin},
	{name: "leave before join", events: []Event{leave("a", 1), join("a", 2)}, end: 10, err: ErrLeaveWithoutJoin},
	{name: "two leaves at one instant", events: []Event{join("a", 0), leave("a", 1), leave("a", 1)}, end: 10, err: ErrLeaveWithoutJoin},
	{name: "duplicate join", events: []Event{join("a", 0), join("a", 5)}, end: 10, err: ErrDuplicateJoin},
	{name: "duplicate join at one instant", events: []Event{join("a", 3), join("a", 3)}, end: 10, err: ErrDuplicateJoin},
	{name: "join twice while present", events: []Event{join("a", 0), join("a", 3), join("a", 3), leave("a", 3)}, end: 10, err: ErrDuplicateJoin},
	{name: "unknown layout", events: []Event{join("a", 0)}, end: 10, opts: Options{Layout: 9}, err: ErrInvalidOptions},
	{name: "negative MaxTiles", events: []Event{join("a", 0)}, end: 10, opts: Options{MaxTiles: -1}, err: ErrInvalidOptions},
}

// tenJoins has p0 join at 0 and pi at i+1 seconds.
func tenJoins() []Event {
	evs := []Event{join("p0", 0)}
	for i := 1; i < 10; i++ {
		evs = append(evs, join(fmt.Sprintf("p%d", i), float64(i+1)))
	}
	return evs
}

func TestWindows(t *testing.T) {
	for _, c := range windowCases {
		t.Run(c.name, func(t *testing.T) {
			ws, err := Windows(c.events, sec(c.end), c.opts)
			if c.err != nil {
				require.ErrorIs(t, err, c.err)
				require.Nil(t, ws)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, render(ws))
			layout := c.opts.Layout
			for _, w := range ws {
				require.Equal(t, layout, w.Layout)
			}
		})
	}
}

func TestWindowsErrorNamesEvent(t *testing.T) {
	for _, c := range []struct {
		name   string
		events []Event
		index  int
		field  string
		err    error
	}{
		{"empty ID", []Event{join("a", 0), {Kind: Join}}, 1, "ParticipantID", ErrEmptyID},
		{"bad kind", []Event{join("a", 0), {Kind: 3, ParticipantID: "bob"}}, 1, "Kind", ErrBadKind},
		{"negative", []Event{join("bob", -2)}, 0, "At", ErrNegativeTime},
		{"duplicate join", []Event{join("bob", 0), join("a", 1), join("bob", 2)}, 2, "Kind", ErrDuplicateJoin},
		{"leave without join", []Event{join("a", 0), leave("bob", 4), join("bob", 5), leave("bob", 6)}, 1, "Kind", ErrLeaveWithoutJoin},
		{"leave only", []Event{join("a", 0), leave("bob", 7), leave("bob", 4)}, 2, "Kind", ErrLeaveWithoutJoin},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Windows(c.events, sec(10), Options{})
			var ee *EventError
			require.ErrorAs(t, err, &ee)
			require.ErrorIs(t, err, c.err)
			require.Equal(t, c.index, ee.Index)
			require.Equal(t, c.field, ee.Field)
			require.Contains(t, err.Error(), fmt.Sprintf("event %d", c.index))
			require.Contains(t, err.Error(), c.field)
			if !errors.Is(c.err, ErrEmptyID) {
				require.Contains(t, err.Error(), `"bob"`)
			}
		})
	}
}

func TestWindowsEndErrorNamesEvent(t *testing.T) {
	_, err := Windows([]Event{join("a", 0), leave("bob", 12), join("bob", 1)}, sec(10), Options{})
	require.ErrorIs(t, err, ErrEndBeforeLastEvent)
	require.Contains(t, err.Error(), `event 1 (participant "bob")`)
}

func TestWindowsNames(t *testing.T) {
	events := []Event{
		{Kind: Join, At: 0, ParticipantID: "id-a", Name: "Ann"},
		{Kind: Join, At: sec(1), ParticipantID: "id-b"},
		{Kind: Leave, At: sec(10), ParticipantID: "id-a", Name: "ignored"},
		{Kind: Join, At: sec(20), ParticipantID: "id-a", Name: "Ann (phone)"},
		{Kind: Join, At: 0, ParticipantID: "id-c", Name: "Cy"},
		{Kind: Leave, At: sec(5), ParticipantID: "id-c"},
		{Kind: Join, At: sec(8), ParticipantID: "id-c"},
	}
	ws, err := Windows(events, sec(30), Options{MinWindow: -1})
	require.NoError(t, err)
	names := make([]string, 0, len(ws))
	for _, w := range ws {
		var ns []string
		for _, p := range w.Participants {
			ns = append(ns, p.Name)
		}
		names = append(names, fmt.Sprintf("%v %s", w.Start, strings.Join(ns, "|")))
	}
	require.Equal(t, []string{
		"0s Ann|Cy",
		"1s Ann|Cy|id-b",
		"5s Ann|id-b",
		"8s Ann|Cy|id-b",
		"10s Cy|id-b",
		"20s Ann (phone)|Cy|id-b",
	}, names)
}

func TestWindowsDoesNotReorderInput(t *testing.T) {
	events := []Event{leave("a", 5), join("a", 0), join("b", 1)}
	before := append([]Event(nil), events...)
	_, err := Windows(events, sec(10), Options{})
	require.NoError(t, err)
	require.Equal(t, before, events)
}

func TestWindowTiles(t *testing.T) {
	ws, err := Windows([]Event{join("a", 0), join("b", 0), join("c", 0)}, sec(10), Options{Layout: Grid})
	require.NoError(t, err)
	require.Len(t, ws, 1)
	require.Equal(t, []Rect{{0, 0, 640, 360}, {640, 0, 640, 360}, {320, 360, 640, 360}}, ws[0].Tiles(1280, 720))
	require.True(t, errors.Is(&EventError{Err: ErrBadKind}, ErrBadKind))
}
