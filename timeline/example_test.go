package timeline_test

import (
	"fmt"
	"time"

	"github.com/roomtape/roomtape/timeline"
)

// The prototype's README example: Aditya joins at 0, iPhone joins at 40 s
// and leaves at 55 s, the session ends at 65 s.
func ExampleWindows() {
	events := []timeline.Event{
		{Kind: timeline.Join, At: 0, ParticipantID: "a", Name: "Aditya"},
		{Kind: timeline.Join, At: 40 * time.Second, ParticipantID: "i", Name: "iPhone"},
		{Kind: timeline.Leave, At: 55 * time.Second, ParticipantID: "i"},
	}
	windows, err := timeline.Windows(events, 65*time.Second, timeline.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range windows {
		fmt.Printf("%v → %v:", w.Start, w.End)
		for i, p := range w.Participants {
			fmt.Printf(" %s %+v", p.Name, w.Tiles(1280, 720)[i])
		}
		fmt.Println()
	}
	// Output:
	// 0s → 40s: Aditya {X:0 Y:0 W:1280 H:720}
	// 40s → 55s: Aditya {X:0 Y:0 W:640 H:720} iPhone {X:640 Y:0 W:640 H:720}
	// 55s → 1m5s: Aditya {X:0 Y:0 W:1280 H:720}
}

// A participant who drops for less than MinWindow keeps their tile.
func ExampleWindows_reconnect() {
	events := []timeline.Event{
		{Kind: timeline.Join, At: 0, ParticipantID: "a", Name: "Ann"},
		{Kind: timeline.Join, At: 10 * time.Second, ParticipantID: "b", Name: "Bo"},
		{Kind: timeline.Leave, At: 20 * time.Second, ParticipantID: "b"},
		{Kind: timeline.Join, At: 21 * time.Second, ParticipantID: "b", Name: "Bo"},
	}
	windows, _ := timeline.Windows(events, 30*time.Second, timeline.Options{MinWindow: 2 * time.Second})
	for _, w := range windows {
		fmt.Println(w.Start, w.End, len(w.Participants))
	}
	// Output:
	// 0s 10s 1
	// 10s 30s 2
}

// Ten people in a grid capped at four tiles: the first four to join are on
// screen, the others are heard but listed in Hidden.
func ExampleWindows_overflow() {
	var events []timeline.Event
	for i := range 10 {
		id := fmt.Sprintf("p%d", i)
		events = append(events, timeline.Event{Kind: timeline.Join, At: time.Duration(i) * time.Millisecond, ParticipantID: id})
	}
	windows, err := timeline.Windows(events, time.Minute, timeline.Options{Layout: timeline.Grid, MaxTiles: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range windows {
		fmt.Printf("%v → %v: %d tiles, %d hidden, first tile %+v\n",
			w.Start, w.End, len(w.Participants), len(w.Hidden), w.Tiles(1280, 720)[0])
	}
	// Output:
	// 0s → 1m0s: 4 tiles, 6 hidden, first tile {X:0 Y:0 W:640 H:360}
}

func ExampleTiles() {
	for _, r := range timeline.Tiles(timeline.Grid, 5, 1280, 720) {
		fmt.Printf("%+v\n", r)
	}
	// Output:
	// {X:0 Y:0 W:428 H:360}
	// {X:428 Y:0 W:426 H:360}
	// {X:854 Y:0 W:426 H:360}
	// {X:212 Y:360 W:428 H:360}
	// {X:640 Y:360 W:426 H:360}
}

// A portrait phone picture in the right half of a 1280x720 canvas.
func ExamplePlace() {
	tile := timeline.Rect{X: 640, Y: 0, W: 640, H: 720}
	dst, crop := timeline.Place(tile, 720, 1280, timeline.Letterbox)
	fmt.Printf("letterbox: draw %+v from %+v\n", dst, crop)
	dst, crop = timeline.Place(tile, 720, 1280, timeline.Crop)
	fmt.Printf("crop: draw %+v from %+v\n", dst, crop)
	// Output:
	// letterbox: draw {X:756 Y:0 W:406 H:720} from {X:0 Y:0 W:720 H:1280}
	// crop: draw {X:640 Y:0 W:640 H:720} from {X:0 Y:234 W:720 H:810}
}
