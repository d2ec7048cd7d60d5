// Package graph writes the FFmpeg filter graph that draws one layout state of
// a composition: which tiles are on the canvas, which of them show a
// participant's picture (and at what source size) and which show a
// placeholder with the participant's name.
//
// It is pure Go, without cgo, so that the text can be golden-tested and
// printed (examples/compose --print-graph). The compose package runs the
// graph through go-astiav: one buffer source per input listed in
// [Plan.Inputs], the filter text of [Plan.Filter], one buffer sink on
// [Output]. Frames of every input carry the output frame number as their
// timestamp (time base 1/FPS), so the graph needs no clock of its own.
package graph

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/roomtape/roomtape/timeline"
)

// Output is the label of the graph's output pad (the buffer sink).
const Output = "out"

// CanvasLabel is the label of the canvas input: a black picture of the
// output size onto which tiles are drawn.
const CanvasLabel = "bg"

// DefaultFont is the fontconfig pattern for names when Layout.Font is empty.
const DefaultFont = "DejaVu Sans"

// Placeholder and label colours.
const (
	PlaceholderColor = "0x262626"
	textColor        = "white"
	labelBox         = "black@0.55"
)

// Source is the picture a tile shows: the decoded frames of a participant's
// video at their current size.
type Source struct {
	// Width and Height are the size of the decoded frames.
	Width, Height int
	// PixelFormat is FFmpeg's name of the frames' pixel format, e.g.
	// "yuv420p".
	PixelFormat string
}

// Tile is one participant's cell on the canvas.
type Tile struct {
	// Rect is the tile cell, from timeline.Tiles.
	Rect timeline.Rect
	// Name is the participant's display name.
	Name string
	// Video is the picture shown; nil draws a placeholder with Name.
	Video *Source
}

// Layout is one layout state of the composition.
type Layout struct {
	// Width and Height are the canvas size.
	Width, Height int
	// FPS is the output frame rate; it is the inputs' time base 1/FPS.
	FPS int
	// Fit says how pictures are fitted in their tiles.
	Fit timeline.Fit
	// Labels draws each participant's name at the bottom left of its tile.
	Labels bool
	// NoText (optional) leaves names out of placeholders and labels, for an
	// FFmpeg built without the drawtext filter (FFmpeg 7 needs libfreetype
	// and libharfbuzz for it).
	NoText bool
	// Font (optional) is a fontconfig pattern; defaults to DefaultFont.
	Font string
	// ScaleFlags (optional) are swscale flags; defaults to "bicubic".
	ScaleFlags string
	// Tiles are the tiles on the canvas, in drawing order.
	Tiles []Tile
}

// Input is a buffer source the graph reads.
type Input struct {
	// Label is the pad label in Filter ("bg", "v0", "v1", ...).
	Label string
	// Tile is the index in Layout.Tiles whose picture this input carries,
	// -1 for the canvas.
	Tile int
	// Width, Height and PixelFormat describe the frames pushed into it.
	Width, Height int
	PixelFormat   string
}

// Args is the input's buffer source arguments, as in the "buffer" filter.
func (in Input) Args(fps int) string {
	return fmt.Sprintf("video_size=%dx%d:pix_fmt=%s:time_base=1/%d:pixel_aspect=1/1", in.Width, in.Height, in.PixelFormat, fps)
}

// Plan is a filter graph ready to run.
type Plan struct {
	FPS    int
	Inputs []Input
	// Filter is the graph text, with open input pads labelled by
	// Input.Label and the open output pad labelled Output: Chains joined
	// by ";".
	Filter string
	// Chains are the filter chains of Filter.
	Chains []string
}

// String renders the plan as a self-contained graph: every input declared
// with a "buffer" filter and the output going to a "buffersink", one filter
// chain per line. It is what --print-graph shows.
func (p Plan) String() string {
	var b strings.Builder
	for _, in := range p.Inputs {
		fmt.Fprintf(&b, "buffer=%s[%s];\n", in.Args(p.FPS), in.Label)
	}
	b.WriteString(strings.Join(p.Chains, ";\n"))
	fmt.Fprintf(&b, ";\n[%s]buffersink\n", Output)
	return b.String()
}

// Build returns the filter graph for l. Tiles with a picture are scaled
// (and cropped for timeline.Crop) to their place given by timeline.Place
// and overlaid on the canvas; placeholders are drawn on the canvas first.
// When a single picture covers the whole canvas the canvas input is left
// out and the picture is scaled straight to the output.
func Build(l Layout) Plan {
	p := Plan{FPS: l.FPS}
	font := l.Font
	if font == "" {
		font = DefaultFont
	}
	flags := l.ScaleFlags
	if flags == "" {
		flags = "bicubic"
	}
	var chains []string
	type placed struct {
		label    string
		dst      timeline.Rect
		fullSize bool
	}
	var pics []placed
	var base []string // filters drawn on the canvas before the pictures
	for i, t := range l.Tiles {
		if t.Video == nil {
			base = append(base, placeholder(t, font, l.NoText))
			continue
		}
		dst, crop := timeline.Place(t.Rect, t.Video.Width, t.Video.Height, l.Fit)
		if dst.W <= 0 || dst.H <= 0 {
			continue
		}
		label := fmt.Sprintf("v%d", i)
		p.Inputs = append(p.Inputs, Input{Label: label, Tile: i, Width: t.Video.Width, Height: t.Video.Height, PixelFormat: t.Video.PixelFormat})
		var f []string
		if crop.W > 0 && crop.H > 0 && (crop.W != t.Video.Width || crop.H != t.Video.Height) {
			f = append(f, fmt.Sprintf("crop=%d:%d:%d:%d", crop.W, crop.H, crop.X, crop.Y))
		}
		if len(f) > 0 || dst.W != t.Video.Width || dst.H != t.Video.Height {
			f = append(f, fmt.Sprintf("scale=%d:%d:flags=%s", dst.W, dst.H, flags))
		}
		f = append(f, "setsar=1")
		pics = append(pics, placed{label: "p" + label[1:], dst: dst, fullSize: dst.X == 0 && dst.Y == 0 && dst.W == l.Width && dst.H == l.Height})
		chains = append(chains, fmt.Sprintf("[%s]%s[%s]", label, strings.Join(f, ","), pics[len(pics)-1].label))
	}
	var labels []string
	if l.Labels && !l.NoText {
		for _, t := range l.Tiles {
			if CleanText(t.Name) != "" {
				labels = append(labels, label(t, font))
			}
		}
	}
	tail := append(labels, "format=yuv420p")
	if len(pics) == 1 && pics[0].fullSize && len(base) == 0 {
		chains = append(chains, fmt.Sprintf("[%s]%s[%s]", pics[0].label, strings.Join(tail, ","), Output))
		p.Chains, p.Filter = chains, strings.Join(chains, ";")
		return p
	}
	p.Inputs = append([]Input{{Label: CanvasLabel, Tile: -1, Width: l.Width, Height: l.Height, PixelFormat: "yuv420p"}}, p.Inputs...)
	cur := CanvasLabel
	if len(base) > 0 {
		chains = append(chains, fmt.Sprintf("[%s]%s[c]", cur, strings.Join(base, ",")))
		cur = "c"
	}
	for k, pic := range pics {
		next := fmt.Sprintf("o%d", k)
		chains = append(chains, fmt.Sprintf("[%s][%s]overlay=x=%d:y=%d:format=yuv420:eof_action=pass[%s]", cur, pic.label, pic.dst.X, pic.dst.Y, next))
		cur = next
	}
	chains = append(chains, fmt.Sprintf("[%s]%s[%s]", cur, strings.Join(tail, ","), Output))
	p.Chains, p.Filter = chains, strings.Join(chains, ";")
	return p
}

// placeholder fills the tile and writes the name in its middle.
func placeholder(t Tile, font string, noText bool) string {
	r := t.Rect
	size := max(12, r.H/8)
	box := fmt.Sprintf("drawbox=x=%d:y=%d:w=%d:h=%d:color=%s:t=fill", r.X, r.Y, r.W, r.H, PlaceholderColor)
	if noText || CleanText(t.Name) == "" {
		return box
	}
	return box + "," + drawtext(font, t.Name, size,
		fmt.Sprintf("%d+(%d-text_w)/2", r.X, r.W), fmt.Sprintf("%d+(%d-text_h)/2", r.Y, r.H), "")
}

// label writes the name at the bottom left of the tile on a dark box.
func label(t Tile, font string) string {
	r := t.Rect
	size := max(10, r.H/18)
	pad := max(2, size/3)
	return drawtext(font, t.Name, size,
		fmt.Sprintf("%d", r.X+2*pad), fmt.Sprintf("%d-text_h", r.Y+r.H-2*pad),
		fmt.Sprintf(":box=1:boxcolor=%s:boxborderw=%d", labelBox, pad))
}

func drawtext(font, text string, size int, x, y, extra string) string {
	return fmt.Sprintf("drawtext=font=%s:expansion=none:text=%s:fontcolor=%s:fontsize=%d:x=%s:y=%s%s",
		Escape(font), Escape(CleanText(text)), textColor, size, x, y, extra)
}

// CleanText is text as drawn: control characters become spaces and
// surrounding space is trimmed (FFmpeg's parsers would drop it anyway).
func CleanText(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// Escape quotes s as a filter option value inside a filter graph: it is
// escaped for the option parser (\ ' :) and then for the graph parser
// (\ ' [ ] , ;), the two levels FFmpeg's parsers remove in turn.
func Escape(s string) string {
	return escape(escape(s, `\':`), `\'[],;`)
}

func escape(s, special string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(special, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
