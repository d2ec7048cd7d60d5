package manifest_test

import (
	"fmt"
	"path/filepath"

	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// The session.json of the prototype's README, as the Python bot wrote it.
func ExampleLoad() {
	s, err := manifest.Load(filepath.Join("testdata", "prototype_session.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range s.Participants {
		video, _ := p.VideoTrack()
		fmt.Printf("%s: video starts at %v\n", p.Name, video.Start())
	}
	windows, err := s.Windows(timeline.Options{TrimEmpty: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range windows {
		fmt.Printf("%v → %v: %d on screen\n", w.Start, w.End, len(w.Participants))
	}
	// Output:
	// Aditya: video starts at 4.46s
	// iPhone: video starts at 39.01s
	// 4.46s → 39.01s: 1 on screen
	// 39.01s → 51.49s: 2 on screen
	// 51.49s → 54.27s: 1 on screen
}

func ExampleSession_WriteFile() {
	s := &manifest.Session{SessionID: "demo", Format: manifest.FormatVersion}
	s.Participants = append(s.Participants, manifest.Participant{ID: "p1", Name: "Ann", AudioPath: "Ann_audio.wav"})
	s.Participants[0].SetPresence([]manifest.Interval{
		{JoinS: 0, LeaveS: manifest.ToSeconds(20e9)},
		{JoinS: 25, LeaveS: 60},
	})
	events, _ := s.Events()
	for _, e := range events {
		fmt.Println(e.Kind == timeline.Join, e.At)
	}
	// s.WriteFile(filepath.Join(dir, "session.json")) would now replace the
	// file atomically.
	// Output:
	// true 0s
	// false 20s
	// true 25s
	// false 1m0s
}
