package timeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// flappingSession is a 2-hour session of people participants, each
// leaving for 10 s every minute (staggered); events grouped by participant,
// not sorted by time.
func flappingSession(people int) ([]Event, time.Duration) {
	const session = 2 * time.Hour
	var events []Event
	for p := range people {
		id, name := fmt.Sprintf("p%d", p), fmt.Sprintf("P%d", p)
		offset := time.Duration(p) * 7 * time.Second
		events = append(events, Event{Kind: Join, At: offset, ParticipantID: id, Name: name})
		for at := offset + time.Minute; at+10*time.Second < session; at += time.Minute {
			events = append(events,
				Event{Kind: Leave, At: at, ParticipantID: id},
				Event{Kind: Join, At: at + 10*time.Second, ParticipantID: id, Name: name})
		}
	}
	return events, session
}

func TestWindowsLargeSession(t *testing.T) {
	events, end := flappingSession(16)
	ws, err := Windows(events, end, Options{Layout: Grid})
	require.NoError(t, err)
	checkInvariants(t, ws, end, Options{Layout: Grid})
	require.Greater(t, len(ws), 1000)
}

func BenchmarkWindows(b *testing.B) {
	for _, people := range []int{4, 16} {
		events, end := flappingSession(people)
		b.Run(fmt.Sprintf("%d-people-%d-events", people, len(events)), func(b *testing.B) {
			for b.Loop() {
				if _, err := Windows(events, end, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
