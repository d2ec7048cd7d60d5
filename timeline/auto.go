package timeline

import "math"

// autoBalance is the smallest picture's least share of the largest
// picture's area in an Auto arrangement: without it the largest total area
// can be one big tile beside slivers. A portrait picture beside landscape
// ones in a row of equal height has 9/16 / 16/9 ≈ 0.32 of their area, as
// in the grid.
const autoBalance = 0.25

// autoExhaustive is the most tiles for which AutoTiles tries every way of
// cutting the tiles into rows (2^(n-1) arrangements); beyond it, rows of
// equal counts only.
const autoExhaustive = 12

// AutoTiles arranges len(aspects) tiles on a width x height canvas to show
// the most picture: aspects are the pictures' width/height ratios (0, or a
// value out of (0, 100), counts as 16:9), tiles are returned in the same
// order.
//
// The tiles go in rows (or columns), in order. Every way of cutting them
// into rows (rows of equal counts only beyond 12 tiles) is laid out twice,
// each tile with its picture's aspect: justified (each row spans the width,
// the rows scaled down together to fit the height) and banded (each row
// gets an equal share of the height, scaled down only if too wide); rows and
// tiles are centred. The same is tried in columns, and the grid of [Tiles]
// is a candidate too. Of the arrangements in which the smallest picture
// has at least a quarter of the largest one's area (the grid always
// counts), the one whose letterboxed pictures cover the
// largest area wins (the grid, then the first tried, on a tie), so the
// picture area is never less than the grid's. Rectangles are even, as
// [Tiles] says; the result depends only on the aspects and the canvas, so it
// is stable while nobody joins or leaves.
func AutoTiles(aspects []float64, width, height int) []Rect {
	n := len(aspects)
	if n == 0 {
		return nil
	}
	width, height = max(width, 0)&^1, max(height, 0)&^1
	as := make([]float64, n)
	for i, a := range aspects {
		if !(a > 0 && a < 100) {
			a = defaultAspect
		}
		as[i] = a
	}
	best := Tiles(Grid, n, width, height)
	bestArea := pictureArea(best, as)
	inv := make([]float64, n)
	for i, a := range as {
		inv[i] = 1 / a
	}
	try := func(counts []int) {
		for _, band := range []bool{false, true} {
			// In rows, and in columns (the canvas transposed).
			for _, r := range [][]Rect{rowsLayout(as, counts, width, height, band), transpose(rowsLayout(inv, counts, height, width, band))} {
				if a, balanced := pictureAreas(r, as); a > bestArea && balanced {
					best, bestArea = r, a
				}
			}
		}
	}
	if n <= autoExhaustive {
		// Each bit of mask says a row ends after that tile.
		for mask := 0; mask < 1<<(n-1); mask++ {
			var counts []int
			c := 0
			for i := range n {
				c++
				if i == n-1 || mask&(1<<i) != 0 {
					counts = append(counts, c)
					c = 0
				}
			}
			try(counts)
		}
	} else {
		for rows := 1; rows <= n; rows++ {
			counts := make([]int, rows)
			for i := range counts {
				counts[i] = n / rows
				if i < n%rows {
					counts[i]++
				}
			}
			try(counts)
		}
	}
	return best
}

// transpose swaps the axes of rs.
func transpose(rs []Rect) []Rect {
	for i, r := range rs {
		rs[i] = Rect{X: r.Y, Y: r.X, W: r.H, H: r.W}
	}
	return rs
}

// rowsLayout lays out rows of counts[i] tiles with their aspects. Justified
// (band false): each row spans the width, all rows scaled together to fit
// the height. Banded: each row gets an equal share of the height and is
// scaled down only when its tiles are wider than the canvas.
func rowsLayout(as []float64, counts []int, width, height int, band bool) []Rect {
	hs := make([]float64, len(counts))
	total := 0.0
	k := 0
	for r, c := range counts {
		sum := 0.0
		for _, a := range as[k : k+c] {
			sum += a
		}
		hs[r] = float64(width) / sum
		total += hs[r]
		k += c
	}
	scale := 1.0
	if total > float64(height) {
		scale = float64(height) / total
	}
	out := make([]Rect, 0, len(as))
	used := 0
	rowH := make([]int, len(counts))
	for r := range counts {
		h := hs[r] * scale
		if band {
			h = min(hs[r], float64(height)/float64(len(counts)))
		}
		rowH[r] = int(math.Floor(h)) &^ 1
		used += rowH[r]
	}
	y := ((height - used) / 2) &^ 1
	k = 0
	for r, c := range counts {
		h := rowH[r]
		ws := make([]int, c)
		sum := 0
		for i, a := range as[k : k+c] {
			ws[i] = min(width, int(math.Floor(a*float64(h)))) &^ 1
			sum += ws[i]
		}
		x := max(0, (width-sum)/2) &^ 1
		for _, w := range ws {
			out = append(out, Rect{X: x, Y: y, W: w, H: h})
			x += w
		}
		y += h
		k += c
	}
	return out
}

// pictureArea is the canvas area the letterboxed pictures of aspects as
// cover in tiles.
func pictureArea(tiles []Rect, as []float64) int64 {
	a, _ := pictureAreas(tiles, as)
	return a
}

// pictureAreas is pictureArea, and whether the smallest picture has at
// least autoBalance of the largest one's area.
func pictureAreas(tiles []Rect, as []float64) (total int64, balanced bool) {
	var lo, hi int64 = math.MaxInt64, 0
	for i, t := range tiles {
		w, h := aspectSize(as[i])
		dst, _ := Place(t, w, h, Letterbox)
		a := int64(dst.W) * int64(dst.H)
		total += a
		lo, hi = min(lo, a), max(hi, a)
	}
	return total, float64(lo) >= autoBalance*float64(hi)
}

// aspectSize is a source size with aspect a, for Place.
func aspectSize(a float64) (w, h int) {
	if a >= 1 {
		return int(math.Round(a * 1000)), 1000
	}
	return 1000, int(math.Round(1000 / a))
}

// PictureFraction is the share of a width x height canvas covered by
// pictures of the given aspects letterboxed into tiles (in order), from 0
// to 1: the measure [AutoTiles] maximises.
func PictureFraction(tiles []Rect, aspects []float64, width, height int) float64 {
	if width <= 0 || height <= 0 || len(tiles) != len(aspects) {
		return 0
	}
	as := make([]float64, len(aspects))
	for i, a := range aspects {
		if !(a > 0 && a < 100) {
			a = defaultAspect
		}
		as[i] = a
	}
	return float64(pictureArea(tiles, as)) / float64(width*height)
}
