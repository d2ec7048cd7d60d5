package livekit

import "github.com/roomtape/roomtape/timeline"

// tileCount is the number of tiles the output shows with present
// participants on it, after the layout's cap.
func tileCount(o Output, present int) int {
	maxTiles := o.MaxTiles
	if maxTiles <= 0 && (o.Layout == timeline.Grid || o.Layout == timeline.Auto) {
		maxTiles = timeline.DefaultMaxTiles
	}
	if maxTiles > 0 && present > maxTiles {
		return maxTiles
	}
	return present
}

// wantedSize returns the picture size worth receiving for a srcW x srcH
// video shown among present tiles of o: the size at which the picture is
// drawn in the largest tile (the whole source scaled as in its tile, so
// that with Crop the visible part keeps full detail). With an unknown
// source size it returns the largest tile's size. It returns 0, 0 when
// nobody is present.
func wantedSize(o Output, present, srcW, srcH int) (w, h int) {
	n := tileCount(o, present)
	if n <= 0 {
		return 0, 0
	}
	tiles := timeline.Tiles(o.Layout, n, o.Width, o.Height)
	tile := tiles[0] // the first tiles are the largest
	if srcW <= 0 || srcH <= 0 {
		return tile.W, tile.H
	}
	dst, crop := timeline.Place(tile, srcW, srcH, o.Fit)
	if crop.W <= 0 || crop.H <= 0 {
		return tile.W, tile.H
	}
	w = int(int64(srcW) * int64(dst.W) / int64(crop.W))
	h = int(int64(srcH) * int64(dst.H) / int64(crop.H))
	return min(w, srcW), min(h, srcH)
}

// layerTolerance is livekit-server's layer selection tolerance: it picks
// the smallest layer whose height is at least 0.9 times the requested
// height.
const layerTolerance = 0.9

// LayerHeight returns the height of the simulcast layer (among layers,
// the heights a publisher sends) that livekit-server picks for a srcW x
// srcH video that the bot shows among present tiles of o: the smallest
// layer at least 0.9 times as tall as the picture is drawn, else the
// tallest. It is what the bot's requests lead to, exported for tests and
// for hosts that size their publishers' layers.
func LayerHeight(o Output, present, srcW, srcH int, layers []int) int {
	o = o.withDefaults()
	_, h := wantedSize(o, present, srcW, srcH)
	need := int(float64(h) * layerTolerance)
	best := -1
	for _, l := range layers {
		if l >= need && (best < 0 || l < best) {
			best = l
		}
	}
	if best < 0 {
		for _, l := range layers {
			best = max(best, l)
		}
	}
	return best
}
