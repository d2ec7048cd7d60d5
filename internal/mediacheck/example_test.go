package mediacheck_test

import (
	"errors"
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

// Check A/V sync where three markers were sent: two pairs at least, each
// within 20 ms; a check that finds no pair fails.
func ExampleCheckAV() {
	flashes := []time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second}
	beeps := []time.Duration{2010 * time.Millisecond, 3990 * time.Millisecond}
	offs, err := mediacheck.CheckAV(flashes, beeps, mediacheck.MinPairs(3), 20*time.Millisecond)
	fmt.Println(len(offs), err)
	_, err = mediacheck.CheckAV(nil, nil, mediacheck.MinPairs(0), 20*time.Millisecond)
	fmt.Println(errors.Is(err, mediacheck.ErrTooFewPairs))
	// Output:
	// 2 <nil>
	// true
}
