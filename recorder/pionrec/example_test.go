package pionrec_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/pionrec"
)

// A Go service that terminates WebRTC with pion hands each incoming track
// to the recorder from OnTrack. Here the sender is a second, in-process
// peer connection on 127.0.0.1 sending one second of VP8.
func Example() {
	ctx := context.Background()
	s, err := recorder.NewSession(recorder.Config{
		ID: "example", DisableFiles: true,
		Sinks: []recorder.Sink{recorder.EventFunc(func(e recorder.Event) {
			switch e.Kind {
			case recorder.TrackStarted, recorder.TrackStopped:
				fmt.Println(e.Kind, e.ParticipantID, e.Track.Source, e.Track.Codec)
			case recorder.ResolutionChanged:
				fmt.Printf("%v %s %dx%d\n", e.Kind, e.ParticipantID, e.Width, e.Height)
			}
		})},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = s.Close(ctx) }()
	api, err := pionrec.NewAPI(pionrec.APIConfig{LoopbackOnly: true})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The service's side: record every track of the peer as "alice".
	recv, _ := api.NewPeerConnection(webrtc.Configuration{})
	defer func() { _ = recv.Close() }()
	alice, _ := s.Join("alice", "Alice")
	recorded := make(chan error, 1)
	recv.OnTrack(func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		go func() {
			recorded <- pionrec.Record(ctx, alice, track, receiver, recv, pionrec.Config{})
		}()
	})

	// The peer's side: one VP8 camera track.
	send, _ := api.NewPeerConnection(webrtc.Configuration{})
	camera, _ := webrtc.NewTrackLocalStaticSample(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "camera", "alice")
	if _, err := send.AddTrack(camera); err != nil {
		fmt.Println(err)
		return
	}
	if err := connect(send, recv); err != nil {
		fmt.Println(err)
		return
	}
	clip, err := synth.EncodeClip(synth.Participant{Video: true, Width: 160, Height: 120}, time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, frame := range clip.Video[:30] {
		_ = camera.WriteSample(media.Sample{Data: frame, Duration: time.Second / 30})
		time.Sleep(time.Second / 30)
	}
	_ = send.Close() // the track ends, Record returns
	fmt.Println("record:", <-recorded)
	// Output:
	// track_started alice camera vp8
	// resolution_changed alice 160x120
	// track_stopped alice camera vp8
	// record: <nil>
}

// connect runs an offer/answer exchange between two peer connections with
// complete ICE gathering (no trickle).
func connect(offerer, answerer *webrtc.PeerConnection) error {
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		return err
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		return err
	}
	<-gathered
	return offerer.SetRemoteDescription(*answerer.LocalDescription())
}
