package timeline

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// aspectTolerancePx is how far a letterboxed or cropped size may be from
// the exact aspect-preserving size: rounding to an even size moves it by up
// to 1 px, and the other dimension was floored to even (up to 1 px more).
const aspectTolerancePx = 2

var tilesCases = []struct {
	name          string
	kind          LayoutKind
	n, w, h       int
	want          []Rect
	wantCoverFull bool
}{
	{"columns 1 full frame", Columns, 1, 1280, 720, []Rect{{0, 0, 1280, 720}}, true},
	{"columns 2 side by side", Columns, 2, 1280, 720, []Rect{{0, 0, 640, 720}, {640, 0, 640, 720}}, true},
	{"columns 3 remainder first", Columns, 3, 1280, 720, []Rect{{0, 0, 428, 720}, {428, 0, 426, 720}, {854, 0, 426, 720}}, true},
	{"columns 4", Columns, 4, 1280, 720, []Rect{{0, 0, 320, 720}, {320, 0, 320, 720}, {640, 0, 320, 720}, {960, 0, 320, 720}}, true},
	{"columns 2 odd half", Columns, 2, 1282, 720, []Rect{{0, 0, 642, 720}, {642, 0, 640, 720}}, true},
	{"columns odd canvas", Columns, 2, 641, 361, []Rect{{0, 0, 320, 360}, {320, 0, 320, 360}}, false},
	{"grid 1", Grid, 1, 1280, 720, []Rect{{0, 0, 1280, 720}}, true},
	{"grid 2", Grid, 2, 1280, 720, []Rect{{0, 0, 640, 720}, {640, 0, 640, 720}}, true},
	{"grid 3 last row centred", Grid, 3, 1280, 720, []Rect{{0, 0, 640, 360}, {640, 0, 640, 360}, {320, 360, 640, 360}}, false},
	{"grid 4", Grid, 4, 1280, 720, []Rect{{0, 0, 640, 360}, {640, 0, 640, 360}, {0, 360, 640, 360}, {640, 360, 640, 360}}, true},
	{"grid 5", Grid, 5, 1280, 720, []Rect{
		{0, 0, 428, 360},
		{428, 0, 426, 360},
		{854, 0, 426, 360},
		{212, 360, 428, 360},
		{640, 360, 426, 360},
	}, false},
	{"grid 7 one in last row", Grid, 7, 1280, 720, []Rect{
		{0, 0, 428, 240},
		{428, 0, 426, 240},
		{854, 0, 426, 240},
		{0, 240, 428, 240},
		{428, 240, 426, 240},
		{854, 240, 426, 240},
		{426, 480, 428, 240},
	}, false},
	{"grid 9", Grid, 9, 640, 360, []Rect{
		{0, 0, 214, 120},
		{214, 0, 214, 120},
		{428, 0, 212, 120},
		{0, 120, 214, 120},
		{214, 120, 214, 120},
		{428, 120, 212, 120},
		{0, 240, 214, 120},
		{214, 240, 214, 120},
		{428, 240, 212, 120},
	}, true},
	{"zero tiles", Columns, 0, 1280, 720, nil, false},
	{"negative tiles", Grid, -3, 1280, 720, nil, false},
	{"canvas too small", Columns, 3, 4, 2, []Rect{{0, 0, 2, 2}, {2, 0, 2, 2}, {4, 0, 0, 2}}, false},
	{"negative canvas", Columns, 2, -4, -2, []Rect{{0, 0, 0, 0}, {0, 0, 0, 0}}, false},
}

func TestTiles(t *testing.T) {
	for _, c := range tilesCases {
		t.Run(c.name, func(t *testing.T) {
			got := Tiles(c.kind, c.n, c.w, c.h)
			require.Equal(t, c.want, got)
			checkTiles(t, got, c.w, c.h)
			if c.wantCoverFull {
				area := 0
				for _, r := range got {
					area += r.W * r.H
				}
				require.Equal(t, (c.w&^1)*(c.h&^1), area)
			}
		})
	}
}

// checkTiles asserts the geometry invariants of Tiles: even, inside the
// canvas, no overlap, cells differ by at most 2 px per dimension.
func checkTiles(t *testing.T, rs []Rect, w, h int) {
	t.Helper()
	for i, r := range rs {
		for _, v := range []int{r.X, r.Y, r.W, r.H} {
			require.Zero(t, v&1, "tile %d %+v not even", i, r)
			require.GreaterOrEqual(t, v, 0, "tile %d %+v negative", i, r)
		}
		require.LessOrEqual(t, r.X+r.W, max(w, 0), "tile %d %+v leaves canvas", i, r)
		require.LessOrEqual(t, r.Y+r.H, max(h, 0), "tile %d %+v leaves canvas", i, r)
		for j := range i {
			require.False(t, overlap(r, rs[j]), "tiles %d %+v and %d %+v overlap", i, r, j, rs[j])
		}
		require.LessOrEqual(t, abs(r.W-rs[0].W), 2, "tile %d width", i)
		require.LessOrEqual(t, abs(r.H-rs[0].H), 2, "tile %d height", i)
	}
}

func overlap(a, b Rect) bool {
	return a.W > 0 && a.H > 0 && b.W > 0 && b.H > 0 &&
		a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

var placeCases = []struct {
	name       string
	tile       Rect
	srcW, srcH int
	fit        Fit
	dst, crop  Rect
}{
	{"letterbox same aspect", Rect{0, 0, 1280, 720}, 640, 360, Letterbox, Rect{0, 0, 1280, 720}, Rect{0, 0, 640, 360}},
	{"letterbox landscape in half", Rect{640, 0, 640, 720}, 1280, 720, Letterbox, Rect{640, 180, 640, 360}, Rect{0, 0, 1280, 720}},
	{"letterbox portrait phone", Rect{640, 0, 640, 720}, 720, 1280, Letterbox, Rect{756, 0, 406, 720}, Rect{0, 0, 720, 1280}},
	{"letterbox portrait full frame", Rect{0, 0, 1280, 720}, 720, 1280, Letterbox, Rect{436, 0, 406, 720}, Rect{0, 0, 720, 1280}},
	{"letterbox odd tile", Rect{2, 2, 641, 361}, 1280, 720, Letterbox, Rect{2, 2, 640, 360}, Rect{0, 0, 1280, 720}},
	{"crop landscape into half", Rect{640, 0, 640, 720}, 1280, 720, Crop, Rect{640, 0, 640, 720}, Rect{320, 0, 640, 720}},
	{"crop portrait into full", Rect{0, 0, 1280, 720}, 720, 1280, Crop, Rect{0, 0, 1280, 720}, Rect{0, 436, 720, 406}},
	{"crop odd source", Rect{0, 0, 640, 360}, 641, 361, Crop, Rect{0, 0, 640, 360}, Rect{0, 0, 640, 360}},
	{"crop same aspect", Rect{0, 0, 320, 180}, 1280, 720, Crop, Rect{0, 0, 320, 180}, Rect{0, 0, 1280, 720}},
	{"letterbox extreme aspect keeps 2 px", Rect{0, 0, 1000, 1000}, 10000, 1, Letterbox, Rect{0, 498, 1000, 2}, Rect{0, 0, 10000, 1}},
	{"crop extreme aspect keeps 2 px", Rect{0, 0, 1000, 2}, 2, 1000, Crop, Rect{0, 0, 1000, 2}, Rect{0, 498, 2, 2}},
	{"unknown source size", Rect{4, 4, 100, 100}, 0, 720, Letterbox, Rect{4, 4, 100, 100}, Rect{}},
	{"negative source size", Rect{4, 4, 100, 100}, 640, -1, Crop, Rect{4, 4, 100, 100}, Rect{}},
	{"huge source size", Rect{4, 4, 100, 100}, MaxSize + 1, 720, Crop, Rect{4, 4, 100, 100}, Rect{}},
	{"empty tile", Rect{4, 4, 0, 100}, 640, 360, Letterbox, Rect{4, 4, 0, 0}, Rect{0, 0, 640, 360}},
	{"tiny tile", Rect{0, 0, 1, 1}, 640, 360, Crop, Rect{0, 0, 0, 0}, Rect{0, 0, 640, 360}},
}

func TestPlace(t *testing.T) {
	for _, c := range placeCases {
		t.Run(c.name, func(t *testing.T) {
			dst, crop := Place(c.tile, c.srcW, c.srcH, c.fit)
			require.Equal(t, c.dst, dst, "dst")
			require.Equal(t, c.crop, crop, "crop")
			checkPlace(t, c.tile, c.srcW, c.srcH, c.fit, dst, crop)
		})
	}
}

// checkPlace asserts the invariants of Place for a valid even tile and
// source: dst inside the tile, crop inside the source, even sizes, and the
// aspect ratio kept within aspectTolerancePx.
func checkPlace(t *testing.T, tile Rect, srcW, srcH int, fit Fit, dst, crop Rect) {
	t.Helper()
	tw, th := max(tile.W, 0)&^1, max(tile.H, 0)&^1
	if srcW <= 0 || srcH <= 0 || srcW > MaxSize || srcH > MaxSize || tw == 0 || th == 0 || tw > MaxSize || th > MaxSize {
		return
	}
	even := []int{dst.W, dst.H, dst.X - tile.X, dst.Y - tile.Y, crop.X, crop.Y}
	if fit == Crop {
		even = append(even, crop.W, crop.H) // letterbox takes the whole, maybe odd, source
	}
	for _, v := range even {
		require.Zero(t, v&1, "odd value in dst %+v crop %+v", dst, crop)
		require.GreaterOrEqual(t, v, 0, "negative value in dst %+v crop %+v", dst, crop)
	}
	require.LessOrEqual(t, dst.X+dst.W, tile.X+tw, "dst %+v leaves tile %+v", dst, tile)
	require.LessOrEqual(t, dst.Y+dst.H, tile.Y+th, "dst %+v leaves tile %+v", dst, tile)
	require.LessOrEqual(t, crop.X+crop.W, srcW, "crop %+v leaves source", crop)
	require.LessOrEqual(t, crop.Y+crop.H, srcH, "crop %+v leaves source", crop)
	// Scaling crop to dst must keep the aspect ratio: one side of the
	// approximated rectangle (dst for letterbox, crop for crop) is exact and
	// the other within aspectTolerancePx of the exact size.
	if fit == Letterbox {
		require.Equal(t, Rect{W: srcW, H: srcH}, crop)
		require.True(t, fits(dst.W, dst.H, tw, th, srcW, srcH),
			"letterbox dst %+v in tile %+v for %dx%d", dst, tile, srcW, srcH)
		return
	}
	require.Equal(t, Rect{X: tile.X, Y: tile.Y, W: tw, H: th}, dst)
	require.True(t, fits(crop.W, crop.H, srcW&^1, srcH&^1, tw, th),
		"crop %+v of %dx%d for tile %+v", crop, srcW, srcH, tile)
}

// fits reports whether w x h touches the box boxW x boxH on one side and
// has the aspect ratio aw:ah within aspectTolerancePx on the other.
func fits(w, h, boxW, boxH, aw, ah int) bool {
	near := func(got int, want float64) bool {
		d := float64(got) - want
		return d <= aspectTolerancePx && d >= -aspectTolerancePx
	}
	return (w == boxW && near(h, float64(boxW)*float64(ah)/float64(aw))) ||
		(h == boxH && near(w, float64(boxH)*float64(aw)/float64(ah)))
}

func FuzzTiles(f *testing.F) {
	for _, c := range tilesCases {
		f.Add(uint8(c.kind), int16(c.n), int32(c.w), int32(c.h))
	}
	f.Fuzz(func(t *testing.T, kind uint8, n int16, w, h int32) {
		// Bound n so a fuzz input cannot allocate gigabytes.
		got := Tiles(LayoutKind(kind%2), int(n%100), int(w), int(h))
		if n%100 <= 0 {
			require.Empty(t, got)
			return
		}
		require.Len(t, got, int(n%100))
		checkTiles(t, got, int(w), int(h))
	})
}

func FuzzPlace(f *testing.F) {
	for _, c := range placeCases {
		f.Add(int32(c.tile.X), int32(c.tile.Y), int32(c.tile.W), int32(c.tile.H), int32(c.srcW), int32(c.srcH), c.fit == Crop)
	}
	f.Fuzz(func(t *testing.T, x, y, w, h, srcW, srcH int32, crop bool) {
		fit := Letterbox
		if crop {
			fit = Crop
		}
		tile := Rect{X: int(x) &^ 1, Y: int(y) &^ 1, W: int(w), H: int(h)}
		dst, cr := Place(tile, int(srcW), int(srcH), fit)
		checkPlace(t, tile, int(srcW), int(srcH), fit, dst, cr)
	})
}
