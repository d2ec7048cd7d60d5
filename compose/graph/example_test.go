package graph_test

import (
	"fmt"

	"github.com/roomtape/roomtape/compose/graph"
	"github.com/roomtape/roomtape/timeline"
)

// A landscape camera beside a portrait phone on a 1280x720 canvas: the
// phone is letterboxed (pillarboxed) in its half, never squashed.
func ExampleBuild() {
	cells := timeline.Tiles(timeline.Columns, 2, 1280, 720)
	p := graph.Build(graph.Layout{
		Width: 1280, Height: 720, FPS: 30,
		Tiles: []graph.Tile{
			{Rect: cells[0], Name: "Aditya", Video: &graph.Source{Width: 1280, Height: 720, PixelFormat: "yuv420p"}},
			{Rect: cells[1], Name: "iPhone", Video: &graph.Source{Width: 720, Height: 1280, PixelFormat: "yuv420p"}},
		},
	})
	fmt.Print(p)
	// Output:
	// buffer=video_size=1280x720:pix_fmt=yuv420p:time_base=1/30:pixel_aspect=1/1[bg];
	// buffer=video_size=1280x720:pix_fmt=yuv420p:time_base=1/30:pixel_aspect=1/1[v0];
	// buffer=video_size=720x1280:pix_fmt=yuv420p:time_base=1/30:pixel_aspect=1/1[v1];
	// [v0]scale=640:360:flags=bicubic,setsar=1[p0];
	// [v1]scale=406:720:flags=bicubic,setsar=1[p1];
	// [bg][p0]overlay=x=0:y=180:format=yuv420:eof_action=pass[o0];
	// [o0][p1]overlay=x=756:y=0:format=yuv420:eof_action=pass[o1];
	// [o1]format=yuv420p[out];
	// [out]buffersink
}

// Escape quotes a name for drawtext inside a filter graph: once for the
// option parser, once for the graph parser.
func ExampleEscape() {
	fmt.Println(graph.Escape("O'Brien: [lead]"))
	// Output:
	// O\\\'Brien\\: \[lead\]
}
