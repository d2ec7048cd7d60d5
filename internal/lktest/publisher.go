package lktest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/auth"
	lkproto "github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
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

	mu      sync.Mutex
	tracks  map[string]*sender     // by track SID
	markers map[string][]time.Time // send times, by track name
	media   map[string][]time.Time // media times, by track name
}

// sender writes one published track.
type sender struct {
	stop   chan struct{}
	done   chan struct{}
	paused atomic.Bool // muted: frames are not sent
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

// joinTimeout bounds a publisher's connection: generous, since a test
// machine running the whole suite with the race detector can take seconds
// to complete a DTLS handshake.
const joinTimeout = 20 * time.Second

// Join connects a publisher to room on the server at url. Its media clock
// starts now: every clip it publishes is looped in phase with Origin, so
// its markers sit at Origin + 2k s whatever the track.
func Join(ctx context.Context, url, room, identity, name string) (*Publisher, error) {
	tok, err := Token(room, identity, name, true, time.Hour)
	if err != nil {
		return nil, err
	}
	r := lksdk.NewRoom(lksdk.NewRoomCallback())
	if err := r.JoinWithContextAndToken(ctx, url, tok, lksdk.WithAutoSubscribe(false), lksdk.WithConnectTimeout(joinTimeout),
		lksdk.WithLogger(protologger.GetDiscardLogger())); err != nil {
		return nil, fmt.Errorf("lktest: %s joins %s: %w", identity, room, err)
	}
	return &Publisher{
		Identity: identity, Name: name, room: r, origin: time.Now(),
		tracks: map[string]*sender{}, markers: map[string][]time.Time{}, media: map[string][]time.Time{},
	}, nil
}

// JoinAndPublish joins like [Join] and publishes the clip's camera (when
// it has video layers, as track "camera") and microphone (when it has
// audio, as track "mic").
func JoinAndPublish(ctx context.Context, url, room, identity, name string, c *Clip) (*Publisher, error) {
	p, err := Join(ctx, url, room, identity, name)
	if err != nil {
		return nil, err
	}
	if len(c.Layers) > 0 {
		if _, err := p.PublishVideo(c, lkproto.TrackSource_CAMERA, "camera"); err != nil {
			p.Leave()
			return nil, err
		}
	}
	if len(c.Audio) > 0 {
		if _, err := p.PublishAudio(c, lkproto.TrackSource_MICROPHONE, "mic"); err != nil {
			p.Leave()
			return nil, err
		}
	}
	return p, nil
}

// Origin is the publisher's media time 0.
func (p *Publisher) Origin() time.Time { return p.origin }

// PublishVideo publishes video of the clip's participant (simulcast when
// the clip has several layers) from source, named name, and returns the
// track SID. Frames are drawn and encoded live at FPS; a PLI from the
// server makes the next frame of that layer a keyframe.
func (p *Publisher) PublishVideo(c *Clip, source lkproto.TrackSource, name string) (string, error) {
	capab := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	top := c.Layers[0]
	opts := &lksdk.TrackPublicationOptions{Name: name, Source: source, VideoWidth: top.W, VideoHeight: top.H}
	qualities := []lkproto.VideoQuality{lkproto.VideoQuality_HIGH, lkproto.VideoQuality_MEDIUM, lkproto.VideoQuality_LOW}
	var (
		encs   []*liveVideo
		tracks []*lksdk.LocalTrack
	)
	closeAll := func() {
		for _, e := range encs {
			e.close()
		}
	}
	for i, l := range c.Layers {
		enc, err := newLiveVideo(c.Index, l.W, l.H)
		if err != nil {
			closeAll()
			return "", err
		}
		encs = append(encs, enc)
		topts := []lksdk.LocalTrackOptions{lksdk.WithRTCPHandler(func(pkt rtcp.Packet) {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				enc.key.Store(true)
			}
		})}
		if len(c.Layers) > 1 {
			topts = append(topts, lksdk.WithSimulcast(p.Identity+"-"+name, &lkproto.VideoLayer{
				Quality: qualities[i], Width: uint32(l.W), Height: uint32(l.H),
			}))
		}
		t, err := lksdk.NewLocalSampleTrack(capab, topts...)
		if err != nil {
			closeAll()
			return "", err
		}
		tracks = append(tracks, t)
	}
	var (
		pub *lksdk.LocalTrackPublication
		err error
	)
	if len(tracks) == 1 {
		pub, err = p.room.LocalParticipant.PublishTrack(tracks[0], opts)
	} else {
		pub, err = p.room.LocalParticipant.PublishSimulcastTrack(tracks, opts)
	}
	if err != nil {
		closeAll()
		return "", fmt.Errorf("lktest: %s publishes %s: %w", p.Identity, name, err)
	}
	const frameDur = time.Second / FPS
	isMarker := func(k int) bool { return k%int(ClipLength/frameDur) == 0 }
	// encode encodes frame k of every layer. Every layer is encoded
	// before any is sent, so that all layers of a frame leave together
	// and the marker's send time holds for whichever layer a subscriber
	// receives.
	encode := func(k int) [][]byte {
		frames := make([][]byte, len(tracks))
		for i := range tracks {
			if isMarker(k) {
				// A flash is a scene cut: coded as a keyframe its first
				// frame is fully white whatever the rate control does.
				encs[i].key.Store(true)
			}
			data, err := encs[i].frame(time.Duration(k) * frameDur)
			if err == nil {
				frames[i] = data
			}
		}
		return frames
	}
	// Frames are encoded one ahead, as a camera pipeline captures before
	// it sends: frame k leaves at its instant, and encoding k+1 follows.
	// Encoding at the instant itself would send every frame late by the
	// encoding time, which the Sender Reports then carry as an A/V skew
	// of the source (60-110 ms on a loaded machine). ahead and aheadK are
	// owned by the sending goroutine (start's); a pause skips instants,
	// and a frame encoded for a skipped instant is encoded again.
	var (
		ahead  [][]byte
		aheadK = -1
	)
	p.start(pub.SID(), frameDur, func(k int) {
		frames := ahead
		if aheadK != k {
			frames = encode(k)
		}
		if isMarker(k) && len(frames[0]) > 0 {
			p.marker(name, time.Duration(k)*frameDur)
		}
		for i, t := range tracks {
			if len(frames[i]) == 0 {
				continue // a dropped frame
			}
			_ = t.WriteSample(media.Sample{Data: frames[i], Duration: frameDur}, nil)
		}
		ahead, aheadK = encode(k+1), k+1
	}, closeAll)
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
	p.start(pub.SID(), AudioFrame, func(k int) {
		if k%len(c.Audio) == 0 {
			p.marker(name, time.Duration(k)*AudioFrame)
		}
		var opts *lksdk.SampleWriteOptions
		if c.Level != nil {
			level := c.Level(p.origin.Add(time.Duration(k) * AudioFrame))
			opts = &lksdk.SampleWriteOptions{AudioLevel: &level}
		}
		_ = t.WriteSample(media.Sample{Data: c.Audio[k%len(c.Audio)], Duration: AudioFrame}, opts)
	}, nil)
	return pub.SID(), nil
}

// marker notes that the track named name sends a marker (the first frame
// of a flash, the first packet of a beep) now, at media time at after
// the origin.
func (p *Publisher) marker(name string, at time.Duration) {
	p.mu.Lock()
	p.markers[name] = append(p.markers[name], time.Now())
	p.media[name] = append(p.media[name], p.origin.Add(at))
	p.mu.Unlock()
}

// MediaMarkers returns the media times of the markers Markers lists: the
// instants on the publisher's media clock (Origin + the frame's RTP time)
// they were due, whenever they left.
func (p *Publisher) MediaMarkers(name string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.media[name]...)
}

// Markers returns when the track published under name sent its markers:
// the instants the first frame of each flash (top layer) or the first
// packet of each beep went to the network stack. On a loaded machine they
// lag the marker's media time; the RTCP Sender Reports, and so the
// recorder, follow the send times.
func (p *Publisher) Markers(name string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.markers[name]...)
}

// start calls write(k) at Origin + k*dur from the next such instant on,
// until the track is unpublished; then it calls done (if not nil).
func (p *Publisher) start(sid string, dur time.Duration, write func(k int), done func()) {
	s := &sender{stop: make(chan struct{}), done: make(chan struct{})}
	p.mu.Lock()
	p.tracks[sid] = s
	p.mu.Unlock()
	go func() {
		defer close(s.done)
		if done != nil {
			defer done()
		}
		k := int((time.Since(p.origin) + dur - 1) / dur)
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			timer.Reset(time.Until(p.origin.Add(time.Duration(k) * dur)))
			select {
			case <-s.stop:
				return
			case <-timer.C:
			}
			if !s.paused.Load() {
				write(k)
			}
			k++
		}
	}()
}

// Mute mutes or unmutes the track with the given SID, as a browser does:
// the server is told, and no media is sent while muted.
func (p *Publisher) Mute(sid string, muted bool) error {
	p.mu.Lock()
	s := p.tracks[sid]
	p.mu.Unlock()
	var pub *lksdk.LocalTrackPublication
	for _, tp := range p.room.LocalParticipant.TrackPublications() {
		if lp, ok := tp.(*lksdk.LocalTrackPublication); ok && tp.SID() == sid {
			pub = lp
		}
	}
	if s == nil || pub == nil {
		return fmt.Errorf("lktest: %s has no track %s", p.Identity, sid)
	}
	s.paused.Store(muted)
	pub.SetMuted(muted)
	return nil
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
