package livekit_test

import (
	"fmt"

	"github.com/roomtape/roomtape/recorder/livekit"
)

// A publisher sends 360p, 180p and 90p simulcast layers of a 640x360
// camera; on a 640x360 output the bot asks for the layer that fits the
// participant's tile, which shrinks as people join.
func ExampleLayerHeight() {
	out := livekit.Output{Width: 640, Height: 360}
	for _, present := range []int{1, 2, 4} {
		fmt.Printf("%d on screen: %dp\n", present, livekit.LayerHeight(out, present, 640, 360, []int{90, 180, 360}))
	}
	// Output:
	// 1 on screen: 360p
	// 2 on screen: 180p
	// 4 on screen: 90p
}
