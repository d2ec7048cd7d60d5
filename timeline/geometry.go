package timeline

// MaxSize is the largest width or height [Place] accepts; larger sizes are
// treated as invalid. It keeps the integer arithmetic far from overflow.
const MaxSize = 1 << 20

// Tiles returns the n tile cells of a layout on a width x height canvas, in
// the order of Window.Participants.
//
// Columns: one tile fills the canvas, two sit side by side (each width/2),
// three or more are equal-width columns of full height. Grid: cols =
// ceil(sqrt(n)) columns and rows = ceil(n/cols) rows of equal cells, the last
// row centred when it is not full.
//
// Speaker: one tile fills the canvas; with more, the first (the main area)
// spans the width above a strip a fifth of the height tall, in which the
// others sit side by side, centred, each at most 16:9. SingleSpeaker: the
// first tile fills the canvas, the others are empty. Auto: [AutoTiles]
// with every aspect 16:9.
//
// Every rectangle has even X, Y, W and H (for 4:2:0 pictures). When the
// canvas is odd in a dimension its last pixel column or row is left out.
// When the even canvas size does not divide equally, cells differ by at most
// 2 px: the first cells of a row (column) are 2 px wider (taller), so cells
// tile the canvas without gaps or overlaps and never leave it. A canvas too
// small for n cells yields zero-sized cells. n <= 0 returns nil; negative
// sizes count as 0.
func Tiles(kind LayoutKind, n, width, height int) []Rect {
	if n <= 0 {
		return nil
	}
	width, height = max(width, 0), max(height, 0)
	switch kind {
	case Speaker:
		return speakerTiles(n, width&^1, height&^1)
	case SingleSpeaker:
		out := make([]Rect, n)
		out[0] = Rect{W: width &^ 1, H: height &^ 1}
		return out
	case Auto:
		return AutoTiles(make([]float64, n), width, height)
	case Grid:
	default:
		return row(nil, partition(width, n), 0, height&^1, 0)
	}
	cols := 1
	for cols*cols < n {
		cols++
	}
	rows := (n + cols - 1) / cols
	colW := partition(width, cols)
	rowH := partition(height, rows)
	out := make([]Rect, 0, n)
	y := 0
	for r := range rows {
		k := min(cols, n-r*cols)
		x := 0
		if k < cols {
			used := 0
			for _, w := range colW[:k] {
				used += w
			}
			x = ((width&^1 - used) / 2) &^ 1
		}
		out = row(out, colW[:k], x, rowH[r], y)
		y += rowH[r]
	}
	return out
}

// Tiles returns the tile cells of w's participants on a width x height
// canvas; see [Tiles]. The Auto layout uses w.Aspects.
func (w Window) Tiles(width, height int) []Rect {
	if w.Layout == Auto && len(w.Aspects) == len(w.Participants) {
		return AutoTiles(w.Aspects, width, height)
	}
	return Tiles(w.Layout, len(w.Participants), width, height)
}

// speakerTiles is the Speaker layout on an even canvas.
func speakerTiles(n, width, height int) []Rect {
	if n == 1 {
		return []Rect{{W: width, H: height}}
	}
	stripH := (height / 5) &^ 1
	out := []Rect{{W: width, H: height - stripH}}
	tileW := min(width/(n-1), stripH*16/9) &^ 1
	x := ((width - tileW*(n-1)) / 2) &^ 1
	for range n - 1 {
		out = append(out, Rect{X: x, Y: height - stripH, W: tileW, H: stripH})
		x += tileW
	}
	return out
}

// row appends cells of the given widths side by side from x at y.
func row(out []Rect, widths []int, x, height, y int) []Rect {
	for _, w := range widths {
		out = append(out, Rect{X: x, Y: y, W: w, H: height})
		x += w
	}
	return out
}

// partition splits total (floored to even) into n even parts that differ by
// at most 2 and sum to it, larger parts first.
func partition(total, n int) []int {
	units := total / 2
	base, rem := units/n, units%n
	parts := make([]int, n)
	for i := range parts {
		parts[i] = 2 * base
		if i < rem {
			parts[i] += 2
		}
	}
	return parts
}

// Place fits a srcW x srcH picture into tile according to fit. It returns
// where the scaled picture goes on the canvas (dst) and which region of the
// source to scale there (crop, in source pixels).
//
// Letterbox: dst is the largest even rectangle inside the tile with the
// source's aspect ratio (within rounding to even sizes), centred; crop is the
// whole source. Crop: dst is the tile; crop is the centred region of the
// source with the tile's aspect ratio, as large as the source allows.
//
// All sizes and offsets are even (the tile's size is floored to even; an
// odd source dimension loses its last pixel in Crop mode) and at least 2 px
// however extreme the aspect ratio (except a 1 px source dimension, which
// crops to 0 in Crop mode). Degenerate input
// never panics: a source size that is not positive or above [MaxSize] gives
// dst = the tile and a zero crop (nothing to draw); a tile that is empty (or
// above MaxSize) gives a zero-sized dst at the tile's corner and the whole
// source as crop.
func Place(tile Rect, srcW, srcH int, fit Fit) (dst, crop Rect) {
	tw, th := max(tile.W, 0)&^1, max(tile.H, 0)&^1
	if srcW <= 0 || srcH <= 0 || srcW > MaxSize || srcH > MaxSize {
		return Rect{X: tile.X, Y: tile.Y, W: tw, H: th}, Rect{}
	}
	full := Rect{W: srcW, H: srcH}
	if tw == 0 || th == 0 || tw > MaxSize || th > MaxSize {
		return Rect{X: tile.X, Y: tile.Y}, full
	}
	wider := int64(srcW)*int64(th) >= int64(srcH)*int64(tw) // source at least as wide as tile
	if fit == Crop {
		sw, sh := srcW&^1, srcH&^1
		cw, ch := sw, sh
		if wider {
			cw = min(sw, max(2, roundEven(sh, tw, th)))
		} else {
			ch = min(sh, max(2, roundEven(sw, th, tw)))
		}
		crop = Rect{X: ((srcW - cw) / 2) &^ 1, Y: ((srcH - ch) / 2) &^ 1, W: cw, H: ch}
		return Rect{X: tile.X, Y: tile.Y, W: tw, H: th}, crop
	}
	w, h := tw, th
	if wider {
		h = min(th, max(2, roundEven(tw, srcH, srcW)))
	} else {
		w = min(tw, max(2, roundEven(th, srcW, srcH)))
	}
	dst = Rect{X: tile.X + ((tw-w)/2)&^1, Y: tile.Y + ((th-h)/2)&^1, W: w, H: h}
	return dst, full
}

// roundEven returns a*b/c rounded to the nearest even integer (c > 0).
func roundEven(a, b, c int) int {
	num := int64(a) * int64(b)
	return int(2 * ((num + int64(c)) / (2 * int64(c))))
}
