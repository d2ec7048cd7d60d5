package speaker_test

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/roomtape/roomtape/timeline/speaker"
)

// fuzzTracks decodes up to four tracks from data: each byte pair is a
// participant (low 2 bits), a time step (1 to 64 blocks of 10 ms, sparse
// or dense) and a level.
func fuzzTracks(data []byte) ([]speaker.Track, time.Duration) {
	ids := []string{"a", "b", "c", "d"}
	tracks := make([]speaker.Track, len(ids))
	at := make([]time.Duration, len(ids))
	for i := range tracks {
		tracks[i].ID = ids[i]
	}
	var end time.Duration
	for len(data) >= 2 {
		p := int(data[0] & 3)
		step := time.Duration(1+(data[0]>>2)%16) * 10 * time.Millisecond
		if data[0]&0x80 != 0 {
			step = 10 * time.Millisecond
		}
		db := -float64(data[1]) / 2.5 // 0 to -102 dBFS
		n := 1 + int(data[1]&7)       // a run of blocks
		for range n {
			tracks[p].Levels = append(tracks[p].Levels, speaker.Level{At: at[p], DBFS: db})
			at[p] += step
			end = max(end, at[p])
		}
		data = data[2:]
	}
	return tracks, end
}

func FuzzDetect(f *testing.F) {
	seed := func(tracks ...speaker.Track) {
		var b []byte
		for i, t := range tracks {
			for _, l := range t.Levels {
				b = append(b, byte(i)|0x80, byte(min(255, -l.DBFS*2.5)))
			}
		}
		f.Add(b, uint16(3000), uint8(0))
	}
	end := sec(12)
	seed(levels("a", end, true, talk{sec(1), sec(5)}), levels("b", end, true, talk{sec(6), sec(11)}))
	seed(levels("a", end, false, talk{sec(1), sec(8)}), levels("b", end, false, talk{sec(3), sec(11)}))
	f.Add([]byte{0x80, 10, 0x81, 200, 0x03, 30}, uint16(0), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, holdMS uint16, look uint8) {
		tracks, end := fuzzTracks(data)
		hold := time.Duration(holdMS%8000) * time.Millisecond
		cfg := speaker.Config{MinHold: hold, Lookahead: time.Duration(look) * 20 * time.Millisecond}
		if hold == 0 {
			cfg.MinHold = -1
		}
		if look == 255 {
			cfg.Lookahead = speaker.Unbounded
		}
		turns, err := speaker.Detect(tracks, end, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkTurns(t, turns, end, hold)
		for _, tr := range tracks {
			act, err := speaker.Activity(tr, end, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, iv := range act {
				if iv.End <= iv.Start || iv.Start < 0 || iv.End > end || (i > 0 && iv.Start < act[i-1].End) {
					t.Fatalf("activity %d %v of %q: empty, outside [0, %v) or overlapping", i, iv, tr.ID, end)
				}
			}
		}
		checkIncremental(t, tracks, end, cfg, data)
		if cfg.Lookahead == speaker.Unbounded || len(data) < 4 {
			return
		}
		// Prefix stability at a cut on the block grid.
		cut := (end * time.Duration(binary.BigEndian.Uint16(data[len(data)-2:])) / 65536).Truncate(speaker.DefaultBlock)
		if cut <= 0 {
			return
		}
		part, err := speaker.Detect(truncate(tracks, cut), cut, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := samePrefix(part, turns, cut-cfg.Lookahead); err != nil {
			t.Fatalf("cut at %v: %v\npart %v\nfull %v", cut, err, part, turns)
		}
	})
}

// checkIncremental checks that a Detector fed the levels in three steps
// gives Detect's turns.
func checkIncremental(t *testing.T, tracks []speaker.Track, end time.Duration, cfg speaker.Config, data []byte) {
	t.Helper()
	end = end.Truncate(speaker.DefaultBlock)
	want, err := speaker.Detect(truncate(tracks, end), end, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := speaker.NewDetector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := end/3, end/2
	if len(data) > 0 {
		c1 = end * time.Duration(data[0]) / 256
	}
	c2 = max(c1, c2)
	var got []speaker.Interval
	for _, cut := range []time.Duration{c1.Truncate(speaker.DefaultBlock), c2.Truncate(speaker.DefaultBlock), end} {
		if got, err = d.Advance(truncate(tracks, cut), cut); err != nil {
			t.Fatal(err)
		}
		if cut < end {
			checkTurns(t, got, cut, cfg.MinHold)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("incremental %v\nDetect      %v", got, want)
	}
}
