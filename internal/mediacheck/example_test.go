package mediacheck_test

import (
	"fmt"
	"time"

	"github.com/roomtape/roomtape/internal/mediacheck"
)

// Pair the flashes found in a tile with the beeps found in the audio and
// take the worst A/V offset.
func ExampleOffsets() {
	flashes := []time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second}
	beeps := []time.Duration{2010 * time.Millisecond, 3990 * time.Millisecond}
	offs := mediacheck.Offsets(flashes, beeps, mediacheck.PairWindow)
	for _, o := range offs {
		fmt.Println(o.Flash, o.AV)
	}
	fmt.Println("max", mediacheck.MaxAbsAV(offs))
	// Output:
	// 2s 10ms
	// 4s -10ms
	// max 10ms
}

// Tell which participant's tint fills a tile.
func ExampleNearest() {
	palette := []mediacheck.RGB{{R: 1, G: .25, B: .25}, {R: .25, G: 1, B: .25}}
	k, sim := mediacheck.Nearest(mediacheck.RGB{R: 60, G: 150, B: 45}, palette)
	fmt.Printf("%d %.2f\n", k, sim)
	// Output:
	// 1 0.99
}
