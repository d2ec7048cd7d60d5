package compose

import (
	"testing"
	"time"

	"github.com/roomtape/roomtape/timeline/manifest"
	"github.com/roomtape/roomtape/timeline/speaker"
)

func TestUnhinted(t *testing.T) {
	end := func(s float64) *float64 { return &s }
	tracks := []manifest.Track{
		{Path: "first.mkv", StartS: 0, EndS: end(10)},
		{Path: "rejoin.mkv", StartS: 20},
	}
	lv := func(ats ...float64) []speaker.Level {
		var out []speaker.Level
		for _, a := range ats {
			out = append(out, speaker.Level{At: manifest.FromSeconds(a)})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		levels []speaker.Level
		want   string
	}{
		{"both covered", lv(0, 9.98, 20, 25), ""},
		{"sparse (DTX) but covered", lv(3, 21), ""},
		{"the rejoin sent none", lv(0, 1, 2), "rejoin.mkv"},
		{"the first sent none", lv(22), "first.mkv"},
		{"none at all", nil, "first.mkv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, ok := unhinted(tracks, tc.levels, 30*time.Second)
			if got := map[bool]string{true: tr.Path}[ok]; got != tc.want {
				t.Fatalf("unhinted = %q, want %q", got, tc.want)
			}
		})
	}
	short := []manifest.Track{{Path: "blip.mkv", StartS: 5, EndS: end(5.5)}}
	if _, ok := unhinted(short, nil, 30*time.Second); ok {
		t.Fatal("a track shorter than minHintedTrack needs no levels")
	}
}
