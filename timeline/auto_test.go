package timeline

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

const (
	landscape = 16.0 / 9
	portrait  = 9.0 / 16
)

// checkRects checks n even rectangles inside the canvas without overlaps.
func checkRects(t *testing.T, rs []Rect, n, width, height int) {
	t.Helper()
	if len(rs) != n {
		t.Fatalf("%d rects, want %d", len(rs), n)
	}
	for i, r := range rs {
		if r.X%2 != 0 || r.Y%2 != 0 || r.W%2 != 0 || r.H%2 != 0 || r.X < 0 || r.Y < 0 || r.W < 0 || r.H < 0 ||
			r.X+r.W > width || r.Y+r.H > height {
			t.Fatalf("rect %d %+v: odd, negative or outside %dx%d", i, r, width, height)
		}
		for j := range i {
			q := rs[j]
			if r.W > 0 && r.H > 0 && q.W > 0 && q.H > 0 &&
				r.X < q.X+q.W && q.X < r.X+r.W && r.Y < q.Y+q.H && q.Y < r.Y+r.H {
				t.Fatalf("rects %d %+v and %d %+v overlap", j, q, i, r)
			}
		}
	}
}

// TestAutoVersusGrid measures the picture-area fraction of Auto and Grid
// on 2 to 9 participants with mixed portrait and landscape pictures: Auto
// is never below Grid, and above it with half the pictures portrait. go
// test -v prints the figures (README, Layouts).
func TestAutoVersusGrid(t *testing.T) {
	const w, h = 1280, 720
	var report strings.Builder
	for n := 2; n <= 9; n++ {
		for _, mix := range []struct {
			name      string
			portraits int
		}{{"all landscape", 0}, {"one portrait", 1}, {"half portrait", n / 2}, {"all portrait", n}} {
			as := make([]float64, n)
			for i := range as {
				as[i] = landscape
				if i >= n-mix.portraits {
					as[i] = portrait
				}
			}
			auto := AutoTiles(as, w, h)
			checkRects(t, auto, n, w, h)
			grid := Tiles(Grid, n, w, h)
			fa, fg := PictureFraction(auto, as, w, h), PictureFraction(grid, as, w, h)
			fmt.Fprintf(&report, "%d %-14s auto %.3f grid %.3f\n", n, mix.name, fa, fg)
			if fa < fg {
				t.Errorf("%d participants, %s: auto %.3f below grid %.3f", n, mix.name, fa, fg)
			}
			// With half the pictures portrait the grid wastes most; with
			// one portrait among four or nine landscape ones the grid's
			// full rows are already the best balanced arrangement.
			if mix.name == "half portrait" && fa <= fg {
				t.Errorf("%d participants, %s: auto %.3f not above grid %.3f with mixed aspects", n, mix.name, fa, fg)
			}
		}
	}
	t.Logf("picture-area fraction at %dx%d:\n%s", w, h, report.String())
}

func TestSpeakerTiles(t *testing.T) {
	got := Tiles(Speaker, 4, 1280, 720)
	want := []Rect{{0, 0, 1280, 576}, {256, 576, 256, 144}, {512, 576, 256, 144}, {768, 576, 256, 144}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	checkRects(t, Tiles(Speaker, 9, 1280, 720), 9, 1280, 720)
	if got := Tiles(Speaker, 1, 1280, 720); got[0] != (Rect{W: 1280, H: 720}) {
		t.Fatalf("one speaker: %v", got)
	}
	if got := Tiles(SingleSpeaker, 2, 1280, 720); got[0] != (Rect{W: 1280, H: 720}) || got[1] != (Rect{}) {
		t.Fatalf("single speaker: %v", got)
	}
}

func FuzzAutoTiles(f *testing.F) {
	f.Add([]byte{10, 200, 10}, uint16(1280), uint16(720))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, uint16(640), uint16(360))
	f.Fuzz(func(t *testing.T, b []byte, w, h uint16) {
		if len(b) > 20 {
			b = b[:20]
		}
		as := make([]float64, len(b))
		for i, v := range b {
			as[i] = float64(v) / 32 // 0 (default) to ~8
		}
		width, height := int(w%4096), int(h%4096)
		rs := AutoTiles(as, width, height)
		checkRects(t, rs, len(as), width&^1, height&^1)
		if fa, fg := PictureFraction(rs, as, width, height), PictureFraction(Tiles(Grid, len(as), width, height), as, width, height); fa < fg {
			t.Fatalf("auto %.4f below grid %.4f", fa, fg)
		}
	})
}

func TestAutoRandomAspects(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 1 + r.IntN(9)
		as := make([]float64, n)
		for i := range as {
			as[i] = 0.3 + 2.5*r.Float64()
		}
		rs := AutoTiles(as, 1280, 720)
		checkRects(t, rs, n, 1280, 720)
	}
}
