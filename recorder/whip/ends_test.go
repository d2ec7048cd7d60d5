package whip_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder/pionrec"
	"github.com/roomtape/roomtape/recorder/whip"
)

// endPublishFor is how long the end-of-track publishers send before they
// leave: past pionrec's one-second settle window, so that frames are both
// written and pending when the leave comes.
const endPublishFor = 1700 * time.Millisecond

// srPollInterval is how often the test looks whether the publisher sent
// its first Sender Report, to leave right after it.
const srPollInterval = 2 * time.Millisecond

// TestLeaveWritesPendingFrames checks that every frame received before a
// publisher leaves reaches its file whatever the Sender Report timing: a
// publisher that sends none (pionrec holds up to a second of frames
// pending a report), and one that leaves right after its first report
// (which may not have reached the recorder yet). Before the WHIP end path
// waited for the recordings, the frames still pending were dropped.
func TestLeaveWritesPendingFrames(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    synth.Participant
		// afterFirstReport leaves as soon as the first report is sent
		// instead of after endPublishFor.
		afterFirstReport bool
	}{
		{name: "no_sender_reports", p: synth.Participant{Name: "nosr", NoSenderReports: true}},
		{
			name: "leave_after_first_report", afterFirstReport: true,
			p: synth.Participant{Name: "onesr", FirstSenderReport: endPublishFor},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var stats []pionrec.Stats
			r := newRig(t, whip.Config{Record: pionrec.Config{Logger: testLogger(t), OnStats: func(s pionrec.Stats) {
				mu.Lock()
				stats = append(stats, s)
				mu.Unlock()
			}}})
			pub := r.publish(t, tc.p)
			if tc.afterFirstReport {
				deadline := time.Now().Add(endPublishFor + closeTimeout)
				for pub.Stats().SenderReports == 0 {
					require.True(t, time.Now().Before(deadline), "no Sender Report sent")
					time.Sleep(srPollInterval)
				}
			} else {
				time.Sleep(endPublishFor)
			}
			ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			defer cancel()
			require.NoError(t, pub.Close(ctx))
			sent := pub.Stats()
			m := r.finish(t)

			mu.Lock()
			defer mu.Unlock()
			require.Len(t, stats, 2, "one audio and one video track recorded")
			var audio, video pionrec.Stats
			for _, s := range stats {
				if s.FirstKeyframe > 0 {
					video = s
				} else {
					audio = s
				}
			}
			t.Logf("sent: %d video frames, %d audio packets; video %+v; audio %+v", sent.VideoFrames, sent.AudioPackets, video, audio)
			require.Zero(t, video.Unwritten+audio.Unwritten, "frames received but not written")
			// Loopback loses nothing: each audio packet received is
			// a frame, and all must be in the file.
			require.Positive(t, audio.Packets)
			require.Equal(t, audio.Packets, audio.Frames, "audio packets received vs frames written")
			require.Zero(t, audio.LostPackets+video.LostPackets)
			require.Equal(t, int(sent.AudioPackets), audio.Frames, "audio packets sent vs written")
			require.Equal(t, int(sent.VideoFrames), video.Frames+video.DroppedFrames, "video frames sent vs written")

			p := participantNamed(t, m, tc.p.Name)
			vt, at := tracksOf(p, "video"), tracksOf(p, "audio")
			require.Len(t, vt, 1)
			require.Len(t, at, 1)
			rep, err := mediacheck.Analyze(vt[0].Path, mediacheck.Options{})
			require.NoError(t, err)
			require.Equal(t, video.Frames, rep.Video.Frames, "video frames in the file")
		})
	}
}
