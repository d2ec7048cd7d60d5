package recorder_test

import (
	"context"
	"fmt"
	"time"

	"github.com/roomtape/roomtape/recorder"
)

// liveSink is a host's own sink: it could forward frames to a live stream;
// here it prints events and counts bytes.
type liveSink struct{ bytes int }

func (s *liveSink) OnEvent(e recorder.Event) {
	fmt.Printf("%v %s at %v\n", e.Kind, e.ParticipantID, e.At)
}

func (s *liveSink) WriteFrame(participantID string, track recorder.TrackInfo, f recorder.Frame) error {
	s.bytes += len(f.Payload) // f.Payload must not be kept after returning
	return nil
}

func (s *liveSink) Close() error {
	fmt.Println("sink closed,", s.bytes, "bytes")
	return nil
}

// A host attaches its own Sink. Here files are disabled so that the sink is
// the only output; with files enabled the same frames also go to Matroska
// files and session.json in Config.Dir.
func ExampleSession_sink() {
	clock := time.Date(2026, 3, 18, 13, 24, 16, 0, time.UTC)
	s, err := recorder.NewSession(recorder.Config{
		Sinks:        []recorder.Sink{&liveSink{}},
		DisableFiles: true,
		Now:          func() time.Time { return clock },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	clock = clock.Add(time.Second)
	p, _ := s.Join("alice-42", "Alice")
	mic, _ := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	for i := range 50 { // one second of 20 ms Opus packets (silence)
		_ = mic.WriteFrame(recorder.Frame{Payload: []byte{0xf8, 0xff, 0xfe}, PTS: time.Second + time.Duration(i)*20*time.Millisecond})
	}
	clock = clock.Add(2 * time.Second)
	_ = p.Leave()
	_ = s.Close(context.Background())
	// Output:
	// participant_joined alice-42 at 1s
	// track_started alice-42 at 1s
	// track_stopped alice-42 at 3s
	// participant_left alice-42 at 3s
	// session_ended  at 3s
	// sink closed, 150 bytes
}
