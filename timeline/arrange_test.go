package timeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roomtape/roomtape/timeline/speaker"
)

// describe renders windows as "start-end layout main,strip|hidden".
func describe(ws []Window) string {
	var parts []string
	for _, w := range ws {
		var on, hid []string
		for _, p := range w.Participants {
			on = append(on, p.ID)
		}
		for _, p := range w.Hidden {
			hid = append(hid, p.ID)
		}
		d := fmt.Sprintf("%v-%v %v %s", w.Start.Seconds(), w.End.Seconds(), w.Layout, strings.Join(on, ","))
		if len(hid) > 0 {
			d += "|" + strings.Join(hid, ",")
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, "; ")
}

func TestArrange(t *testing.T) {
	s := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
	events := []Event{
		{Kind: Join, At: 0, ParticipantID: "a"},
		{Kind: Join, At: 0, ParticipantID: "b"},
		{Kind: Join, At: 0, ParticipantID: "c"},
		{Kind: Join, At: s(20), ParticipantID: "a#screen"},
		{Kind: Leave, At: s(30), ParticipantID: "a#screen"},
	}
	turns := []speaker.Interval{{Start: s(5), End: s(12), ID: "b"}, {Start: s(12), End: s(40), ID: "c"}}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{
			"columns with a share",
			Options{Screens: []string{"a#screen"}},
			"0-20 columns a,b,c; 20-30 speaker a#screen,a,b,c; 30-40 columns a,b,c",
		},
		{
			"speaker",
			Options{Layout: Speaker, Turns: turns, Screens: []string{"a#screen"}},
			"0-5 columns a,b,c; 5-12 speaker b,a,c; 12-20 speaker c,a,b; 20-30 speaker a#screen,a,b,c; 30-40 speaker c,a,b",
		},
		{
			"single speaker",
			Options{Layout: SingleSpeaker, Turns: turns, Screens: []string{"a#screen"}},
			"0-5 columns a,b,c; 5-12 single-speaker b|a,c; 12-20 single-speaker c|a,b; 20-30 single-speaker a#screen|a,b,c; 30-40 single-speaker c|a,b",
		},
		{"speaker without turns", Options{Layout: Speaker}, "0-20 columns a,b,c; 20-30 columns a,b,c,a#screen; 30-40 columns a,b,c"},
		{"auto", Options{Layout: Auto}, "0-20 auto a,b,c; 20-30 auto a,b,c,a#screen; 30-40 auto a,b,c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, err := Windows(events, s(40), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(ws); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestArrangeAspects(t *testing.T) {
	events := []Event{{Kind: Join, ParticipantID: "a"}, {Kind: Join, ParticipantID: "p"}}
	ws, err := Windows(events, time.Minute, Options{Layout: Auto, Aspects: map[string]float64{"p": 9.0 / 16}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || fmt.Sprint(ws[0].Aspects) != fmt.Sprint([]float64{16.0 / 9, 9.0 / 16}) {
		t.Fatalf("got %+v", ws)
	}
	if r := ws[0].Tiles(1280, 720); r[1].W >= r[0].W {
		t.Fatalf("portrait tile %v not narrower than landscape %v", r[1], r[0])
	}
}

func TestBadTurns(t *testing.T) {
	events := []Event{{Kind: Join, ParticipantID: "a"}}
	for _, turns := range [][]speaker.Interval{
		{{Start: 2, End: 1, ID: "a"}},
		{{Start: 0, End: 5, ID: ""}},
		{{Start: 0, End: 5, ID: "a"}, {Start: 4, End: 6, ID: "b"}},
	} {
		if _, err := Windows(events, time.Minute, Options{Layout: Speaker, Turns: turns}); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("turns %v: got %v, want ErrInvalidOptions", turns, err)
		}
	}
}
