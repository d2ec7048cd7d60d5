package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hintOp is one call of a HintsWriter.
type hintOp struct {
	id       string
	at, dur  time.Duration
	dbov     uint8
	speakers []string // a Speakers call when not nil
}

const ms = time.Millisecond

var hintCases = []struct {
	name     string
	ops      []hintOp
	levels   map[string][]HintLevel
	speakers []SpeakerUpdate
}{
	{
		name: "levels with a gap, a repeat and a step back",
		ops: []hintOp{
			{id: "a", at: 0, dur: 20 * ms, dbov: 30},
			{id: "a", at: 20 * ms, dur: 20 * ms, dbov: 40},
			{id: "a", at: 25 * ms, dur: 10 * ms, dbov: 35},   // same step: the louder stays
			{id: "a", at: 0, dur: 20 * ms, dbov: 1},          // stepped back: dropped
			{id: "a", at: 100 * ms, dur: 40 * ms, dbov: 200}, // a gap, two steps, clamped
			{id: "b", at: 10 * ms, dur: 20 * ms, dbov: 90},
		},
		levels: map[string][]HintLevel{
			"a": {{0, HintsStep, 30}, {20 * ms, HintsStep, 35}, {100 * ms, HintsStep, Silent}, {120 * ms, HintsStep, Silent}},
			"b": {{0, HintsStep, 90}, {20 * ms, HintsStep, 90}},
		},
	},
	{
		name: "a run longer than HintsRunSteps",
		ops: func() []hintOp {
			var ops []hintOp
			for i := range HintsRunSteps + 3 {
				ops = append(ops, hintOp{id: "a", at: time.Duration(i) * HintsStep, dur: HintsStep, dbov: uint8(i % 128)})
			}
			return ops
		}(),
		levels: map[string][]HintLevel{"a": func() []HintLevel {
			var ls []HintLevel
			for i := range HintsRunSteps + 3 {
				ls = append(ls, HintLevel{time.Duration(i) * HintsStep, HintsStep, uint8(i % 128)})
			}
			return ls
		}()},
	},
	{
		name: "speakers",
		ops: []hintOp{
			{at: time.Second, speakers: []string{"a", "b"}},
			{at: 2 * time.Second, speakers: []string{}},
			{at: 3 * time.Second, speakers: []string{"", "b"}},
		},
		speakers: []SpeakerUpdate{{time.Second, []string{"a", "b"}}, {2 * time.Second, nil}, {3 * time.Second, []string{"b"}}},
	},
}

// writeHints runs ops on a new writer at path and closes it.
func writeHints(tb testing.TB, path string, ops []hintOp) {
	tb.Helper()
	w, err := CreateHints(path)
	require.NoError(tb, err)
	for _, op := range ops {
		if op.speakers != nil {
			w.Speakers(op.at, op.speakers)
		} else {
			w.Level(op.id, op.at, op.dur, op.dbov)
		}
	}
	require.NoError(tb, w.Close())
	require.NoError(tb, w.Close(), "second Close")
}

func TestHintsRoundTrip(t *testing.T) {
	for _, tc := range hintCases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), HintsName)
			writeHints(t, path, tc.ops)
			h, err := LoadHints(path)
			require.NoError(t, err)
			want := tc.levels
			if want == nil {
				want = map[string][]HintLevel{}
			}
			require.Equal(t, want, h.Levels)
			for i := range h.Speakers {
				if len(h.Speakers[i].IDs) == 0 {
					h.Speakers[i].IDs = nil
				}
			}
			require.Equal(t, tc.speakers, h.Speakers)
			require.False(t, h.Truncated)
		})
	}
}

func TestHintsNil(t *testing.T) {
	var w *HintsWriter
	w.Level("a", 0, HintsStep, 3)
	w.Speakers(0, []string{"a"})
	require.NoError(t, w.Err())
	require.NoError(t, w.Close())
}

func TestHintsTruncated(t *testing.T) {
	defer func(n int64) { maxHintsBytes = n }(maxHintsBytes)
	maxHintsBytes = 4 << 10
	path := filepath.Join(t.TempDir(), HintsName)
	var ops []hintOp
	for i := range 60 * HintsRunSteps {
		ops = append(ops, hintOp{id: "a", at: time.Duration(i) * HintsStep, dur: HintsStep, dbov: 40})
	}
	writeHints(t, path, ops)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.LessOrEqual(t, fi.Size(), maxHintsBytes)
	h, err := LoadHints(path)
	require.NoError(t, err)
	require.True(t, h.Truncated)
	require.NotEmpty(t, h.Levels["a"])
}

func TestParseHintsErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"not json", "{\n"},
		{"negative time", `{"k":"levels","p":"a","t":-1,"step_ms":20,"dbov":"00"}` + "\n"},
		{"no participant", `{"k":"levels","t":1,"step_ms":20,"dbov":"00"}` + "\n"},
		{"bad step", `{"k":"levels","p":"a","t":1,"step_ms":0,"dbov":"00"}` + "\n"},
		{"bad hex", `{"k":"levels","p":"a","t":1,"step_ms":20,"dbov":"0g"}` + "\n"},
		{"level above 127", `{"k":"levels","p":"a","t":1,"step_ms":20,"dbov":"80"}` + "\n"},
		{"empty speaker", `{"k":"speakers","t":1,"ids":[""]}` + "\n"},
		{"huge time", `{"k":"speakers","t":1e300}` + "\n"},
		{"long line", `{"k":"speakers","t":1,"ids":["` + strings.Repeat("x", maxHintLine) + `"]}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHints(strings.NewReader(tc.in))
			require.ErrorIs(t, err, ErrHints)
			require.Contains(t, err.Error(), "line 1")
		})
	}
	// A last line without its newline (a crash) and unknown kinds are
	// ignored.
	h, err := ParseHints(strings.NewReader(`{"k":"later","t":1}` + "\n" + `{"k":"speakers","t":2,"ids":["a"]}` + "\n" + `{"k":"speak`))
	require.NoError(t, err)
	require.Len(t, h.Speakers, 1)
}

// maxFuzzOps bounds the calls of a fuzz input (the checks are quadratic).
const maxFuzzOps = 256

// hintOps decodes writer calls from fuzz data: 4 bytes each (participant
// and kind, time step in ms, duration in ms, level), at most maxFuzzOps.
func hintOps(data []byte) []hintOp {
	var ops []hintOp
	var at time.Duration
	for len(data) >= 4 && len(ops) < maxFuzzOps {
		at += time.Duration(int(data[1])-32) * ms // may step back
		at = max(at, 0)
		op := hintOp{id: string(rune('a' + data[0]&3)), at: at, dur: time.Duration(data[2]) * ms, dbov: data[3]}
		if data[0]&0x80 != 0 {
			op.speakers = []string{op.id}
			if data[0]&0x40 != 0 {
				op.speakers = []string{}
			}
		}
		ops = append(ops, op)
		data = data[4:]
	}
	return ops
}

// FuzzHintsWriter writes fuzzed calls and reads them back: the file
// parses, each participant's levels are on the step grid, strictly
// increasing, each covered by a call for that participant, at least as
// loud as the loudest call covering it allows, and the speaker updates
// come back in order.
func FuzzHintsWriter(f *testing.F) {
	for _, tc := range hintCases {
		var b []byte
		for _, op := range tc.ops {
			k := byte(0)
			if len(op.id) == 1 {
				k = op.id[0] - 'a'
			}
			if op.speakers != nil {
				k |= 0x80
			}
			b = append(b, k, 32+byte(min(op.at/ms, 100)), byte(min(op.dur/ms, 255)), op.dbov)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := hintOps(data)
		path := filepath.Join(dir, "fuzz.jsonl")
		writeHints(t, path, ops)
		h, err := LoadHints(path)
		require.NoError(t, err)
		for id, ls := range h.Levels {
			for i, l := range ls {
				require.Zero(t, l.At%HintsStep, "%s level %d at %v off the grid", id, i, l.At)
				require.LessOrEqual(t, l.DBov, uint8(Silent))
				if i > 0 {
					require.Greater(t, l.At, ls[i-1].At, "%s level %d", id, i)
				}
				loudest := -1
				for _, op := range ops {
					if op.speakers != nil || op.id != id {
						continue
					}
					first, last := op.at/HintsStep, (op.at+max(min(op.dur, time.Second), 1)-1)/HintsStep
					if s := l.At / HintsStep; s >= first && s <= last {
						if v := int(min(op.dbov, Silent)); loudest < 0 || v < loudest {
							loudest = v
						}
					}
				}
				require.GreaterOrEqual(t, loudest, 0, "%s level at %v from no call", id, l.At)
				require.GreaterOrEqual(t, int(l.DBov), loudest, "%s level at %v louder than any call", id, l.At)
			}
		}
		n := 0
		for _, op := range ops {
			if op.speakers != nil {
				n++
			}
		}
		require.Len(t, h.Speakers, n)
		require.True(t, slices.IsSortedFunc(h.Speakers, func(a, b SpeakerUpdate) int { return int(a.At - b.At) }))
	})
}

// FuzzParseHints parses anything without panicking; what parses has
// levels in time order within range and speakers in time order with
// non-empty IDs; an error is ErrHints.
func FuzzParseHints(f *testing.F) {
	for _, tc := range hintCases {
		path := filepath.Join(f.TempDir(), HintsName)
		writeHints(f, path, tc.ops)
		b, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"k":"truncated","t":3}` + "\n" + `{"k":"levels","p":"x","t":0.5,"step_ms":7,"dbov":"7f00"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHints(bytes.NewReader(data))
		if err != nil {
			require.True(t, errors.Is(err, ErrHints), "error %v is not ErrHints", err)
			return
		}
		for id, ls := range h.Levels {
			require.NotEmpty(t, id)
			for i, l := range ls {
				require.LessOrEqual(t, l.DBov, uint8(Silent))
				require.GreaterOrEqual(t, l.At, time.Duration(0))
				require.Positive(t, l.Step)
				if i > 0 {
					require.GreaterOrEqual(t, l.At, ls[i-1].At)
				}
			}
		}
		for i, u := range h.Speakers {
			require.GreaterOrEqual(t, u.At, time.Duration(0))
			require.NotContains(t, u.IDs, "")
			if i > 0 {
				require.GreaterOrEqual(t, u.At, h.Speakers[i-1].At)
			}
		}
	})
}
