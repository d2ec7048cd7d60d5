package graph

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roomtape/roomtape/timeline"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var (
	land     = &Source{Width: 1280, Height: 720, PixelFormat: "yuv420p"}
	portrait = &Source{Width: 720, Height: 1280, PixelFormat: "yuv420p"}
	small    = &Source{Width: 320, Height: 180, PixelFormat: "yuvj420p"}
)

func tiles(kind timeline.LayoutKind, w, h int, names []string, srcs ...*Source) []Tile {
	rects := timeline.Tiles(kind, len(names), w, h)
	out := make([]Tile, len(names))
	for i := range names {
		out[i] = Tile{Rect: rects[i], Name: names[i], Video: srcs[i]}
	}
	return out
}

var cases = []struct {
	name string
	l    Layout
}{
	{"single-full", Layout{Width: 1280, Height: 720, FPS: 30, Tiles: tiles(timeline.Columns, 1280, 720, []string{"Aditya"}, land)}},
	{"single-upscale-labels", Layout{Width: 1280, Height: 720, FPS: 30, Labels: true, Tiles: tiles(timeline.Columns, 1280, 720, []string{"A"}, small)}},
	{"two-portrait-letterbox", Layout{Width: 1280, Height: 720, FPS: 30, Tiles: tiles(timeline.Columns, 1280, 720, []string{"Aditya", "iPhone"}, land, portrait)}},
	{"two-portrait-crop", Layout{Width: 1280, Height: 720, FPS: 30, Fit: timeline.Crop, Tiles: tiles(timeline.Columns, 1280, 720, []string{"Aditya", "iPhone"}, land, portrait)}},
	{"placeholder-only", Layout{Width: 640, Height: 360, FPS: 25, Tiles: tiles(timeline.Columns, 640, 360, []string{"Audio Only"}, nil)}},
	{"grid-3-with-placeholder-labels", Layout{Width: 640, Height: 360, FPS: 30, Labels: true, Tiles: tiles(timeline.Grid, 640, 360, []string{"a", "b", "c"}, small, nil, portrait)}},
	{"escaped-names", Layout{Width: 640, Height: 360, FPS: 30, Labels: true, Tiles: tiles(timeline.Columns, 640, 360, []string{`O'Brien: [lead], x;y \ 100%`, "\t\n"}, nil, small)}},
	{"no-drawtext", Layout{Width: 640, Height: 360, FPS: 30, Labels: true, NoText: true, Tiles: tiles(timeline.Columns, 640, 360, []string{"a", "b"}, small, nil)}},
	{"empty", Layout{Width: 320, Height: 240, FPS: 30}},
}

func TestBuildGolden(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Build(tc.l).String()
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("graph differs from %s (go test -update to accept):\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// TestBuildInvariants checks properties every plan has: each input label
// is used exactly once as an open input, the output label exactly once, and
// every picture input belongs to a tile with video.
func TestBuildInvariants(t *testing.T) {
	for _, tc := range cases {
		checkPlan(t, tc.name, tc.l, Build(tc.l))
	}
}

func checkPlan(t *testing.T, name string, l Layout, p Plan) {
	t.Helper()
	for _, in := range p.Inputs {
		if n := strings.Count(p.Filter, "["+in.Label+"]"); n != 1 {
			t.Errorf("%s: input [%s] used %d times in %q", name, in.Label, n, p.Filter)
		}
		if in.Tile >= 0 && (in.Tile >= len(l.Tiles) || l.Tiles[in.Tile].Video == nil) {
			t.Errorf("%s: input %s for tile %d without video", name, in.Label, in.Tile)
		}
	}
	if n := strings.Count(p.Filter, "["+Output+"]"); n != 1 {
		t.Errorf("%s: output used %d times", name, n)
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", `a'b`, `c:d`, `e\f`, "[g],h;i", `'':\\`, "100%"} {
		if got := unescapeOption(unescapeGraph(Escape(s))); got != s {
			t.Errorf("Escape(%q) = %q unescapes to %q", s, Escape(s), got)
		}
	}
}

// unescapeGraph and unescapeOption model FFmpeg's av_get_token for the
// graph level (terminators [],;) and the option level (terminator :) on a
// value: a backslash keeps the next character, quotes keep everything up to
// the closing quote. They return the token up to the first unquoted,
// unescaped terminator.
func unescapeGraph(s string) string  { return getToken(s, "[],;") }
func unescapeOption(s string) string { return getToken(s, ":") }

func getToken(s, term string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '\'':
			for i++; i < len(s) && s[i] != '\''; i++ {
				b.WriteByte(s[i])
			}
		case strings.IndexByte(term, c) >= 0:
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzEscape(f *testing.F) {
	for _, tc := range cases {
		for _, tl := range tc.l.Tiles {
			f.Add(tl.Name)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := unescapeOption(unescapeGraph(Escape(s))); got != s {
			t.Errorf("Escape(%q) = %q unescapes to %q", s, Escape(s), got)
		}
	})
}

func FuzzBuild(f *testing.F) {
	f.Add(1280, 720, 2, 720, 1280, 640, 360, false, true)
	f.Add(641, 359, 5, 1, 1, 0, 0, true, false)
	f.Fuzz(func(t *testing.T, w, h, n, sw, sh, sw2, sh2 int, crop, labels bool) {
		if w < 0 || h < 0 || w > 8192 || h > 8192 || n < 0 || n > 16 {
			return
		}
		fit := timeline.Letterbox
		if crop {
			fit = timeline.Crop
		}
		l := Layout{Width: w, Height: h, FPS: 30, Fit: fit, Labels: labels}
		for i, r := range timeline.Tiles(timeline.Grid, n, w, h) {
			var src *Source
			switch i % 3 {
			case 0:
				src = &Source{Width: sw, Height: sh, PixelFormat: "yuv420p"}
			case 1:
				src = &Source{Width: sw2, Height: sh2, PixelFormat: "yuv420p"}
			}
			l.Tiles = append(l.Tiles, Tile{Rect: r, Name: "n", Video: src})
		}
		checkPlan(t, "fuzz", l, Build(l))
	})
}
