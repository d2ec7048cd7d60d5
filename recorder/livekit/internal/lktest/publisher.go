package lktest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/auth"
	lkproto "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Publisher is a synthetic LiveKit participant: it joins a room and
// publishes looped clips in real time.
type Publisher struct {
	// Identity and Name are the participant's.
	Identity, Name string
	room           *lksdk.Room
	origin         time.Time

	mu     sync.Mutex
	tracks map[string]*sender // by track SID
}

// sender writes one published track.
type sender struct {
	stop chan struct{}
	done chan struct{}
}

// Token returns an access token for identity in room, with the given
// grants.
func Token(room, identity, name string, publish bool, ttl time.Duration) (string, error) {
	g := &auth.VideoGrant{RoomJoin: true, Room: room}
	g.SetCanPublish(publish)
	g.SetCanSubscribe(!publish)
	at := auth.NewAccessToken(APIKey, APISecret).SetVideoGrant(g).SetIdentity(identity).SetName(name).SetValidFor(ttl)
	return at.ToJWT()
}

// Join connects a publisher to room on the server at url. Its media clock
// starts now: every clip it publishes is looped in phase with Origin, so
// its markers sit at Origin + 2k s whatever the track.
func Join(ctx context.Context, url, room, identity, name string) (*Publisher, error) {
	tok, err := Token(room, identity, name, true, time.Hour)
	if err != nil {
		return nil, err
	}
	r := lksdk.NewRoom(lksdk.NewRoomCallback())
	if err := r.JoinWithContextAndToken(ctx, url, tok, lksdk.WithAutoSubscribe(false)); err != nil {
		return nil, fmt.Errorf("lktest: %s joins %s: %w", identity, room, err)
	}
	return &Publisher{Identity: identity, Name: name, room: r, origin: time.Now(), tracks: map[string]*sender{}}, nil
}

// Origin is the publisher's media time 0.
func (p *Publisher) Origin() time.Time { return p.origin }

// PublishVideo publishes the clip's video layers (simulcast when there are
// several) from source, named name, and returns the track SID.
func (p *Publisher) PublishVideo(c *Clip, source lkproto.TrackSource, name string) (string, error) {
	capab := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	top := c.Layers[0]
	opts := &lksdk.TrackPublicationOptions{Name: name, Source: source, VideoWidth: top.Width, VideoHeight: top.Height}
	var (
		pub    *lksdk.LocalTrackPublication
		tracks []*lksdk.LocalTrack
		err    error
	)
	if len(c.Layers) == 1 {
		var t *lksdk.LocalTrack
		if t, err = lksdk.NewLocalSampleTrack(capab); err != nil {
			return "", err
		}
		tracks = []*lksdk.LocalTrack{t}
		pub, err = p.room.LocalParticipant.PublishTrack(t, opts)
	} else {
		qualities := []lkproto.VideoQuality{lkproto.VideoQuality_HIGH, lkproto.VideoQuality_MEDIUM, lkproto.VideoQuality_LOW}
		id := p.Identity + "-" + name
		for i, l := range c.Layers {
			t, err := lksdk.NewLocalSampleTrack(capab, lksdk.WithSimulcast(id, &lkproto.VideoLayer{
				Quality: qualities[i], Width: uint32(l.Width), Height: uint32(l.Height),
			}))
			if err != nil {
				return "", err
			}
			tracks = append(tracks, t)
		}
		pub, err = p.room.LocalParticipant.PublishSimulcastTrack(tracks, opts)
	}
	if err != nil {
		return "", fmt.Errorf("lktest: %s publishes %s: %w", p.Identity, name, err)
	}
	p.start(pub.SID(), VideoFrame, len(top.Frames), func(k int) {
		for i, t := range tracks {
			frames := c.Layers[i].Frames
			_ = t.WriteSample(media.Sample{Data: frames[k%len(frames)], Duration: VideoFrame}, nil)
		}
	}, true)
	return pub.SID(), nil
}

// PublishAudio publishes the clip's audio from source and returns the
// track SID.
func (p *Publisher) PublishAudio(c *Clip, source lkproto.TrackSource, name string) (string, error) {
	t, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		return "", err
	}
	pub, err := p.room.LocalParticipant.PublishTrack(t, &lksdk.TrackPublicationOptions{Name: name, Source: source, DisableDTX: true})
	if err != nil {
		return "", fmt.Errorf("lktest: %s publishes %s: %w", p.Identity, name, err)
	}
	p.start(pub.SID(), AudioFrame, len(c.Audio), func(k int) {
		_ = t.WriteSample(media.Sample{Data: c.Audio[k%len(c.Audio)], Duration: AudioFrame}, nil)
	}, false)
	return pub.SID(), nil
}

// start writes frame k of a loop of n frames at Origin + k*dur; video
// starts at a loop boundary (a keyframe).
func (p *Publisher) start(sid string, dur time.Duration, n int, write func(k int), video bool) {
	s := &sender{stop: make(chan struct{}), done: make(chan struct{})}
	p.mu.Lock()
	p.tracks[sid] = s
	p.mu.Unlock()
	go func() {
		defer close(s.done)
		k := int((time.Since(p.origin) + dur - 1) / dur)
		if video && k%n != 0 {
			k += n - k%n
		}
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			timer.Reset(time.Until(p.origin.Add(time.Duration(k) * dur)))
			select {
			case <-s.stop:
				return
			case <-timer.C:
			}
			write(k)
			k++
		}
	}()
}

// Unpublish stops and unpublishes the track with the given SID.
func (p *Publisher) Unpublish(sid string) error {
	p.stopSender(sid)
	return p.room.LocalParticipant.UnpublishTrack(sid)
}

func (p *Publisher) stopSender(sid string) {
	p.mu.Lock()
	s := p.tracks[sid]
	delete(p.tracks, sid)
	p.mu.Unlock()
	if s != nil {
		close(s.stop)
		<-s.done
	}
}

// Leave stops publishing and disconnects; it is idempotent.
func (p *Publisher) Leave() {
	p.mu.Lock()
	var sids []string
	for sid := range p.tracks {
		sids = append(sids, sid)
	}
	p.mu.Unlock()
	for _, sid := range sids {
		p.stopSender(sid)
	}
	p.room.Disconnect()
}
