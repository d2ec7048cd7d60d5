package speaker_test

import (
	"fmt"
	"time"

	"github.com/roomtape/roomtape/timeline/speaker"
)

// Alice talks, then Bob answers while Alice says a word over him: the main
// area goes to Bob when Alice stops, and Alice's short remark does not take
// it back.
func ExampleDetect() {
	end := 20 * time.Second
	alice := levels("alice", end, true, talk{sec(1), sec(6)}, talk{sec(11), sec(11.5)})
	bob := levels("bob", end, true, talk{sec(6.5), sec(14)})
	turns, err := speaker.Detect([]speaker.Track{alice, bob}, end, speaker.Config{Lookahead: speaker.Unbounded})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range turns {
		fmt.Printf("%s %.1fs-%.1fs\n", t.ID, t.Start.Seconds(), t.End.Seconds())
	}
	// Output:
	// alice 1.0s-6.5s
	// bob 6.5s-20.0s
}
