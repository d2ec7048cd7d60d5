package synth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/roomtape/roomtape/recorder/pionrec"
)

// Errors returned by the publishers; test them with errors.Is.
var (
	// ErrWHIP is returned when the WHIP endpoint refuses a request; the
	// error text carries the status and the server's message.
	ErrWHIP = errors.New("synth: whip request failed")
	// ErrNotConnected is returned when the peer connection does not
	// connect in time.
	ErrNotConnected = errors.New("synth: not connected")
	// ErrBadParticipant is returned for unusable Participant fields.
	ErrBadParticipant = errors.New("synth: bad participant")
)

// Video codecs a live publisher can encode.
const (
	VP8  = "vp8"
	VP9  = "vp9"
	H264 = "h264"
	// AV1 is encoded with SVT-AV1 through FFmpeg.
	AV1 = "av1"
	// H264BFrames is H.264 Main profile with B-frames (x264 through
	// FFmpeg), as OBS-style encoders send: RTP timestamps go back in
	// decode order.
	H264BFrames = "h264-bframes"
)

// Defaults of [Participant].
const (
	DefaultWidth  = 320
	DefaultHeight = 240
	DefaultFPS    = 30
	// DefaultKeyframeInterval is in frames (4 s at 30 fps): long enough
	// that recovery after a loss visibly comes from PLI, not from a
	// periodic keyframe.
	DefaultKeyframeInterval = 120
	// DefaultConnectTimeout bounds WHIP signalling plus ICE and DTLS.
	DefaultConnectTimeout = 10 * time.Second
	// audioFrame is the Opus packet duration.
	audioFrame = 20 * time.Millisecond
	// mtu is the RTP packet size budget (pion's default receive MTU is
	// 1460).
	mtu = 1200
)

// Interval is a span of participant-local time.
type Interval struct {
	Start, End time.Duration
}

// Resize changes the picture size at participant-local time At.
type Resize struct {
	At            time.Duration
	Width, Height int
}

// Participant describes a synthetic participant. The zero value publishes
// participant 0's picture (320x240 VP8 at 30 fps) and tone.
type Participant struct {
	// Name is the display name, sent as ?name= (optional).
	Name string
	// ID (optional) is the participant's stable ID, sent as ?id=; a
	// participant that rejoins with the same ID keeps its identity.
	ID string
	// Token (optional) is sent as "Authorization: Bearer <Token>".
	Token string
	// Index selects the tint and tone (Tints[Index%8], Freqs[Index%8]).
	Index int
	// Width and Height (optional) default to 320x240.
	Width, Height int
	// FPS (optional) defaults to DefaultFPS.
	FPS int
	// VideoCodec (optional) is VP8, VP9, H264, H264BFrames or AV1;
	// defaults to VP8.
	VideoCodec string
	// Audio and Video select what is published; when both are false, both
	// are published.
	Audio, Video bool
	// KeyframeInterval (optional) in frames defaults to
	// DefaultKeyframeInterval.
	KeyframeInterval int
	// BitRate (optional) is the video bitrate in bit/s; defaults to 300
	// kbit/s.
	BitRate int
	// Detail (optional) adds a moving texture to the picture (see
	// AddDetail) so that high bitrates are reached; for load tests.
	Detail bool

	// Loss (optional) is the fraction of outgoing RTP packets dropped
	// (test knob; retransmissions can be dropped too).
	Loss float64
	// Reorder (optional) is the fraction of RTP packets sent after the
	// following one (test knob).
	Reorder float64
	// Jitter (optional) delays every outgoing RTP packet by a random time
	// drawn from an exponential distribution of this mean, capped at
	// maxJitterFactor times it, so that packets arrive late and out of
	// order as over a congested path (test knob); exclusive with Reorder.
	Jitter time.Duration
	// InitialTimestamp (optional) is the first RTP timestamp of every
	// track; 0 picks a random one (test knob for the 32-bit wrap).
	InitialTimestamp uint32
	// AudioGaps (optional) are participant-local spans during which no
	// audio packet is sent, as with Opus DTX (test knob).
	AudioGaps []Interval
	// ScreenShare (optional) announces the video as a screen share: its
	// m-section carries "a=content:slides" (RFC 4796), as recorder/whip
	// documents.
	ScreenShare bool
	// Talk (optional) are participant-local spans in which the participant
	// talks: its tone at testmedia.TalkAmplitude under the beeps (the
	// speaker layouts' tests).
	Talk []Interval
	// AudioLevels (optional) sends the RFC 6464 audio-level header
	// extension on every audio packet when the answer accepts it, as
	// browsers do: the RMS level of the packet's audio in -dBov (the
	// speaker hints' tests).
	AudioLevels bool
	// LevelTalk (optional), with AudioLevels, computes the levels sent as
	// if the participant talked in these spans instead of Talk, so that
	// the levels disagree with the audio (test knob).
	LevelTalk []Interval
	// Resizes (optional) change the picture size mid-stream (test knob).
	Resizes []Resize
	// NoSenderReports (optional) sends no RTCP Sender Report, as a
	// sender whose reports never reach the recorder (test knob).
	NoSenderReports bool
	// FirstSenderReport (optional) delays the first Sender Report to
	// this participant-local time; defaults to 0, a report at the start
	// (test knob).
	FirstSenderReport time.Duration

	// ClockSkew (optional) makes the sender's clock run fast (positive)
	// or slow (negative) by this fraction against real time, e.g. 0.001
	// for 0.1 % fast: its media clocks, RTP timestamps and the NTP time of
	// its Sender Reports all follow that clock, which is consistent in
	// itself, as a device whose crystal is off (test knob; |ClockSkew| at
	// most maxClockSkew).
	ClockSkew float64

	// AnyInterface (optional) offers and uses every interface's ICE
	// candidates instead of loopback only: a publisher reaching a
	// recorder in another network namespace of its test (internal/netns).
	AnyInterface bool

	// ConnectTimeout (optional) defaults to DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// HTTPClient (optional) defaults to http.DefaultClient.
	HTTPClient *http.Client
	// Logger (optional) defaults to a logger that discards everything.
	Logger *slog.Logger
}

// withDefaults validates p and fills its defaults.
func (p Participant) withDefaults() (Participant, error) {
	if !p.Audio && !p.Video {
		p.Audio, p.Video = true, true
	}
	if p.Width == 0 && p.Height == 0 {
		p.Width, p.Height = DefaultWidth, DefaultHeight
	}
	if p.Width <= 0 || p.Height <= 0 || p.Width%2 != 0 || p.Height%2 != 0 {
		return p, fmt.Errorf("%w: size %dx%d must be positive and even", ErrBadParticipant, p.Width, p.Height)
	}
	for _, r := range p.Resizes {
		if r.Width <= 0 || r.Height <= 0 || r.Width%2 != 0 || r.Height%2 != 0 {
			return p, fmt.Errorf("%w: resize to %dx%d must be positive and even", ErrBadParticipant, r.Width, r.Height)
		}
	}
	if p.FPS == 0 {
		p.FPS = DefaultFPS
	}
	if p.FPS < 1 || p.FPS > 120 {
		return p, fmt.Errorf("%w: fps %d", ErrBadParticipant, p.FPS)
	}
	switch strings.ToLower(p.VideoCodec) {
	case "", VP8:
		p.VideoCodec = VP8
	case H264, VP9, AV1, H264BFrames:
		p.VideoCodec = strings.ToLower(p.VideoCodec)
	default:
		return p, fmt.Errorf("%w: video codec %q (want vp8, vp9, h264, h264-bframes or av1)", ErrBadParticipant, p.VideoCodec)
	}
	if (p.VideoCodec == AV1 || p.VideoCodec == H264BFrames) && len(p.Resizes) > 0 {
		return p, fmt.Errorf("%w: resizes are not supported with %s", ErrBadParticipant, p.VideoCodec)
	}
	if p.KeyframeInterval == 0 {
		p.KeyframeInterval = DefaultKeyframeInterval
	}
	if p.BitRate == 0 {
		p.BitRate = 300_000
	}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = DefaultConnectTimeout
	}
	if p.HTTPClient == nil {
		p.HTTPClient = http.DefaultClient
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Jitter < 0 || (p.Jitter > 0 && p.Reorder > 0) {
		return p, fmt.Errorf("%w: jitter %v (with reorder %g)", ErrBadParticipant, p.Jitter, p.Reorder)
	}
	if p.ClockSkew < -maxClockSkew || p.ClockSkew > maxClockSkew {
		return p, fmt.Errorf("%w: clock skew %g beyond ±%g", ErrBadParticipant, p.ClockSkew, maxClockSkew)
	}
	if p.Loss < 0 || p.Reorder < 0 || p.Loss+p.Reorder > 1 {
		return p, fmt.Errorf("%w: loss %g and reorder %g", ErrBadParticipant, p.Loss, p.Reorder)
	}
	return p, nil
}

// maxClockSkew bounds Participant.ClockSkew: 10 %, far beyond any real
// crystal (tens of ppm) and any test's need.
const maxClockSkew = 0.1

// wall returns the real time at which the sender's clock reads at (from
// its start).
func (pub *Publisher) wall(at time.Duration) time.Time {
	if pub.p.ClockSkew == 0 {
		return pub.start.Add(at)
	}
	return pub.start.Add(time.Duration(float64(at) / (1 + pub.p.ClockSkew)))
}

// clock returns the sender's clock at real time now (from its start).
func (pub *Publisher) clock(now time.Time) time.Duration {
	d := now.Sub(pub.start)
	if pub.p.ClockSkew == 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + pub.p.ClockSkew))
}

// Stats are a publisher's counters.
type Stats struct {
	// VideoFrames and AudioPackets count media units sent.
	VideoFrames, AudioPackets int64
	// Keyframes counts video keyframes sent.
	Keyframes int64
	// PLIs, FIRs and NACKs count feedback received from the recorder.
	PLIs, FIRs, NACKs int64
	// Dropped counts RTP packets dropped by the Loss knob.
	Dropped int64
	// AudioDelivered counts the audio RTP packets handed to the network
	// (with an impairment knob set; 0 otherwise), and AudioKnownLost the
	// audio packets the Loss knob dropped before a delivered one: the
	// losses a receiver can see. (Opus is never retransmitted.)
	AudioDelivered, AudioKnownLost int64
	// SenderReports counts the rounds of RTCP Sender Reports sent (one
	// report per track each).
	SenderReports int64
}

// Publisher is one publishing participant. Its methods are safe for
// concurrent use.
type Publisher struct {
	p        Participant
	pc       *webrtc.PeerConnection
	resource string
	start    time.Time
	imp      *impairment
	cut      atomic.Bool

	cancel context.CancelFunc
	wg     sync.WaitGroup

	tracks []*rtpTrack

	forceKey atomic.Bool
	stats    struct {
		video, audio, keys, plis, firs, nacks, srs atomic.Int64
	}

	closeOnce sync.Once
	closeErr  error

	// gone is closed (once, by goneOnce) when the connection leaves the
	// connected state for good.
	gone     chan struct{}
	goneOnce sync.Once
}

// videoSource yields the encoded frame for content time t.
type videoSource interface {
	// frame returns frame i (content time t) and whether it is a
	// keyframe; forceKey asks for a keyframe.
	frame(i int, t time.Duration, forceKey bool) ([]byte, bool, error)
	// skippable reports whether frames may be skipped to catch up.
	skippable() bool
	close()
}

// presenter is a videoSource whose frames come in decode order (B-frames)
// or out of its encoder some frames late: presented gives the picture
// index of the frame just returned, whose content time is its RTP time,
// and latency how many frame periods after its decode slot it is sent.
type presenter interface {
	presented() int
	latency() int
}

// audioSource yields the encoded Opus packet k (content time k*20 ms).
type audioSource interface {
	packet(k int) ([]byte, error)
	close()
}

// Publish connects participant p to the WHIP endpoint whipURL and starts
// sending its live synthetic media. It returns once the peer connection is
// connected; participant-local time 0 is then ([Publisher.Start]). ctx
// bounds the whole publication: when it is cancelled, media stops. Call
// [Publisher.Close] to leave.
func Publish(ctx context.Context, whipURL string, p Participant) (*Publisher, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	var vs videoSource
	var as audioSource
	if p.Video {
		if vs, err = newVideoSource(p, false); err != nil {
			return nil, err
		}
	}
	if p.Audio {
		if as, err = newLiveAudio(p); err != nil {
			if vs != nil {
				vs.close()
			}
			return nil, err
		}
	}
	return publish(ctx, whipURL, p, vs, as)
}

// publish signals over WHIP and runs the sources.
func publish(ctx context.Context, whipURL string, p Participant, vs videoSource, as audioSource) (*Publisher, error) {
	closeSources := func() {
		if vs != nil {
			vs.close()
		}
		if as != nil {
			as.close()
		}
	}
	pub := &Publisher{p: p, gone: make(chan struct{})}
	if p.Loss > 0 || p.Reorder > 0 || p.Jitter > 0 {
		pub.imp = &impairment{
			loss: p.Loss, reorder: p.Reorder, jitter: p.Jitter,
			rng: rand.New(rand.NewPCG(uint64(p.Index)+1, 0x5eed)), //nolint:gosec // test randomness
		}
	}
	stdNet, err := stdnet.NewNet()
	if err != nil {
		closeSources()
		return nil, fmt.Errorf("synth: network: %w", err)
	}
	se := &webrtc.SettingEngine{}
	se.SetNet(&severableNet{Net: stdNet, cut: &pub.cut})
	cfg := pionrec.APIConfig{SettingEngine: se, LoopbackOnly: !p.AnyInterface, OwnSenderReports: true, UDPReadBuffer: -1}
	if pub.imp != nil {
		cfg.Interceptors = append(cfg.Interceptors, pub.imp)
	}
	api, err := pionrec.NewAPI(cfg)
	if err != nil {
		closeSources()
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		closeSources()
		return nil, fmt.Errorf("synth: peer connection: %w", err)
	}
	pub.pc = pc
	fail := func(err error) (*Publisher, error) {
		closeSources()
		return nil, errors.Join(err, pc.Close())
	}

	ts0 := p.InitialTimestamp
	if ts0 == 0 {
		ts0 = rand.Uint32() //nolint:gosec // RTP timestamps need no crypto
	}
	var vt, at *rtpTrack
	if vs != nil {
		capab := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
		var pay rtp.Payloader = &codecs.VP8Payloader{EnablePictureID: true}
		switch p.VideoCodec {
		case H264:
			capab = webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			}
			pay = &codecs.H264Payloader{}
		case VP9:
			capab = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"}
			pay = &codecs.VP9Payloader{}
		case H264BFrames:
			capab = webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f",
			}
			pay = &codecs.H264Payloader{}
		case AV1:
			capab = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000, SDPFmtpLine: "level-idx=5;profile=0;tier=0"}
			pay = &codecs.AV1Payloader{}
		}
		if vt, err = pub.addTrack(capab, "video", pay, ts0); err != nil {
			return fail(err)
		}
	}
	if as != nil {
		capab := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
		if at, err = pub.addTrack(capab, "audio", &codecs.OpusPayloader{}, ts0); err != nil {
			return fail(err)
		}
	}

	// Encode the first frame now: an encoder's start-up (x264's is slow)
	// must not delay the first picture past participant-local time 0.
	var first preparedFrame
	if vs != nil {
		if first.data, first.key, err = vs.frame(0, 0, false); err != nil {
			return fail(err)
		}
		if ps, ok := vs.(presenter); ok {
			first.shown = frameTime(ps.presented(), p.FPS)
		}
	}

	connected := make(chan struct{})
	var connOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.Logger.Debug("publisher connection state", "name", p.Name, "state", s)
		switch s {
		case webrtc.PeerConnectionStateConnected:
			connOnce.Do(func() { close(connected) })
		case webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			pub.goneOnce.Do(func() { close(pub.gone) })
		}
	})
	sctx, cancelSignal := context.WithTimeout(ctx, p.ConnectTimeout)
	defer cancelSignal()
	if err := pub.signal(sctx, whipURL); err != nil {
		return fail(err)
	}
	select {
	case <-connected:
	case <-sctx.Done():
		return fail(errors.Join(fmt.Errorf("participant %q: %w", p.Name, ErrNotConnected), pub.deleteResource(ctx)))
	}

	if at != nil && p.AudioLevels {
		for _, h := range at.sender.GetParameters().HeaderExtensions {
			if h.URI == pionrec.AudioLevelURI && h.ID > 0 && h.ID < 15 {
				at.levelID = uint8(h.ID)
			}
		}
	}
	mctx, cancel := context.WithCancel(ctx)
	pub.cancel = cancel
	pub.start = time.Now()
	if vs != nil {
		pub.wg.Go(func() {
			defer vs.close()
			pub.runVideo(mctx, vs, vt, first)
		})
	}
	if as != nil {
		pub.wg.Go(func() {
			defer as.close()
			pub.runAudio(mctx, as, at)
		})
	}
	if !p.NoSenderReports {
		pub.wg.Go(func() { pub.runSenderReports(mctx) })
	}
	return pub, nil
}

// addTrack adds a send-only track and starts reading its RTCP.
func (pub *Publisher) addTrack(c webrtc.RTPCodecCapability, kind string, pay rtp.Payloader, ts0 uint32) (*rtpTrack, error) {
	stream := "synth-" + strings.ToLower(strings.ReplaceAll(pub.p.Name, " ", "-"))
	tr, err := webrtc.NewTrackLocalStaticRTP(c, kind, stream)
	if err != nil {
		return nil, fmt.Errorf("synth: %s track: %w", kind, err)
	}
	t, err := pub.pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("synth: add %s track: %w", kind, err)
	}
	sender := t.Sender()
	go pub.readRTCP(sender)
	enc := sender.GetParameters().Encodings
	if len(enc) == 0 {
		return nil, fmt.Errorf("synth: %s track has no SSRC", kind)
	}
	rt := &rtpTrack{
		track: tr, sender: sender, payloader: pay, rate: c.ClockRate, ts0: ts0, ssrc: uint32(enc[0].SSRC),
		seq: uint16(rand.Uint32()), //nolint:gosec // RTP sequence numbers need no crypto
	}
	pub.tracks = append(pub.tracks, rt)
	return rt, nil
}

// readRTCP counts the recorder's feedback and honours PLI and FIR; it ends
// when the sender stops.
func (pub *Publisher) readRTCP(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication:
				pub.stats.plis.Add(1)
				pub.forceKey.Store(true)
			case *rtcp.FullIntraRequest:
				pub.stats.firs.Add(1)
				pub.forceKey.Store(true)
			case *rtcp.TransportLayerNack:
				pub.stats.nacks.Add(1)
			}
		}
	}
}

// markSlides adds "a=content:slides" to every video m-section of offer.
func markSlides(offer string) string {
	lines := strings.SplitAfter(offer, "\r\n")
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		if strings.HasPrefix(l, "m=video ") {
			b.WriteString("a=content:slides\r\n")
		}
	}
	return b.String()
}

// signal runs the WHIP offer/answer exchange.
func (pub *Publisher) signal(ctx context.Context, whipURL string) error {
	offer, err := pub.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("synth: create offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pub.pc)
	if err := pub.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("synth: set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fmt.Errorf("synth: gather candidates: %w", ctx.Err())
	}
	u, err := url.Parse(whipURL)
	if err != nil {
		return fmt.Errorf("synth: whip url: %w", err)
	}
	q := u.Query()
	if pub.p.Name != "" {
		q.Set("name", pub.p.Name)
	}
	if pub.p.ID != "" {
		q.Set("id", pub.p.ID)
	}
	u.RawQuery = q.Encode()
	sdpOffer := pub.pc.LocalDescription().SDP
	if pub.p.ScreenShare {
		sdpOffer = markSlides(sdpOffer)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(),
		strings.NewReader(sdpOffer))
	if err != nil {
		return fmt.Errorf("synth: whip request: %w", err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	if pub.p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+pub.p.Token)
	}
	resp, err := pub.p.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("synth: whip post: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("synth: whip answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("%w: POST %s: %s: %s", ErrWHIP, u.Redacted(), resp.Status, bytes.TrimSpace(body))
	}
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("%w: POST %s: no Location: %w", ErrWHIP, u.Redacted(), err)
	}
	pub.resource = loc.String()
	answer := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}
	if err := pub.pc.SetRemoteDescription(answer); err != nil {
		return fmt.Errorf("synth: set answer: %w", err)
	}
	return nil
}

// deleteResource ends the WHIP session; a missing resource is not an
// error (the server may have dropped it already).
func (pub *Publisher) deleteResource(ctx context.Context) error {
	if pub.resource == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, pub.resource, nil)
	if err != nil {
		return fmt.Errorf("synth: whip delete: %w", err)
	}
	if pub.p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+pub.p.Token)
	}
	resp, err := pub.p.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("synth: whip delete: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("%w: DELETE: %s", ErrWHIP, resp.Status)
	}
	return nil
}

// Start returns the wall-clock instant of participant-local time 0.
func (pub *Publisher) Start() time.Time { return pub.start }

// WallTime returns the real instant at which the sender's clock reads
// participant-local time at: Start().Add(at) unless ClockSkew is set.
func (pub *Publisher) WallTime(at time.Duration) time.Time { return pub.wall(at) }

// Done returns a channel closed when the connection to the recorder is
// lost (disconnected, failed or closed): a publisher that should stay in
// the call publishes again then.
func (pub *Publisher) Done() <-chan struct{} { return pub.gone }

// Resource returns the WHIP resource URL.
func (pub *Publisher) Resource() string { return pub.resource }

// Stats returns the publisher's counters.
func (pub *Publisher) Stats() Stats {
	st := Stats{
		VideoFrames:   pub.stats.video.Load(),
		AudioPackets:  pub.stats.audio.Load(),
		Keyframes:     pub.stats.keys.Load(),
		PLIs:          pub.stats.plis.Load(),
		FIRs:          pub.stats.firs.Load(),
		NACKs:         pub.stats.nacks.Load(),
		SenderReports: pub.stats.srs.Load(),
	}
	if pub.imp != nil {
		st.Dropped = pub.imp.dropped.Load()
		st.AudioDelivered, st.AudioKnownLost = pub.imp.audioCount()
	}
	return st
}

// Sever cuts the publisher's network without a goodbye: media stops and no
// datagram goes in or out, as when a participant's network goes away. The
// recorder sees the connection fail. Close still releases the resources.
func (pub *Publisher) Sever() {
	pub.cut.Store(true)
	pub.stopMedia()
}

// stopMedia stops the media goroutines and waits for them.
func (pub *Publisher) stopMedia() {
	if pub.cancel != nil {
		pub.cancel()
	}
	pub.wg.Wait()
}

// Close leaves: media stops, the packets an impairment knob delayed are
// sent, the WHIP resource is deleted (unless the network was severed) and
// the peer connection is closed. It is idempotent.
func (pub *Publisher) Close(ctx context.Context) error {
	pub.closeOnce.Do(func() {
		pub.stopMedia()
		if pub.imp != nil {
			// Every packet sent before the leave is on the wire
			// before it, as when a client's last packets precede
			// its DELETE.
			pub.imp.wait()
		}
		var errs []error
		if !pub.cut.Load() {
			errs = append(errs, pub.deleteResource(ctx))
		}
		errs = append(errs, pub.pc.Close())
		pub.closeErr = errors.Join(errs...)
	})
	return pub.closeErr
}

// senderReportInterval is how often Sender Reports are sent (as pion's
// generator does).
const senderReportInterval = time.Second

// runSenderReports sends each track's RTP↔NTP mapping on the capture
// clock: RTP time ts0 is Start, advancing at the clock rate.
func (pub *Publisher) runSenderReports(ctx context.Context) {
	if d := pub.p.FirstSenderReport; d > 0 && !sleepUntil(ctx, pub.wall(d)) {
		return
	}
	ticker := time.NewTicker(senderReportInterval)
	defer ticker.Stop()
	for {
		now := time.Now()
		pkts := make([]rtcp.Packet, 0, len(pub.tracks))
		for _, t := range pub.tracks {
			// The sender's wall clock runs with its media clock.
			at := pub.clock(now)
			pkts = append(pkts, t.senderReport(pub.start.Add(at), at))
		}
		if err := pub.pc.WriteRTCP(pkts); err != nil {
			pub.p.Logger.Debug("synth: send sender reports", "name", pub.p.Name, "err", err)
		} else {
			pub.stats.srs.Add(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// runVideo sends frame i at Start + i/FPS with RTP time i/FPS.
func (pub *Publisher) runVideo(ctx context.Context, vs videoSource, t *rtpTrack, first preparedFrame) {
	fps := pub.p.FPS
	for i := 0; ; i++ {
		at := frameTime(i, fps)
		if vs.skippable() && i > 0 {
			if behind := pub.clock(time.Now()) - at; behind > frameTime(1, fps) {
				i = catchUp(i, i+int(int64(behind)*int64(fps)/int64(time.Second)), fps)
				at = frameTime(i, fps)
			}
		}
		data, key, shown := first.data, first.key, first.shown
		if i > 0 {
			var err error
			data, key, err = vs.frame(i, at, pub.forceKey.Swap(false))
			if err != nil {
				pub.p.Logger.Warn("synth: encode video", "name", pub.p.Name, "err", err)
				return
			}
			shown = at
			if ps, ok := vs.(presenter); ok {
				shown = frameTime(ps.presented(), fps)
			}
		}
		send := at
		if ps, ok := vs.(presenter); ok {
			send = frameTime(i+ps.latency(), fps)
		}
		if !sleepUntil(ctx, pub.wall(send)) {
			return
		}
		if len(data) == 0 {
			continue
		}
		if err := t.write(data, shown); err != nil {
			pub.p.Logger.Debug("synth: send video", "name", pub.p.Name, "err", err)
		}
		pub.stats.video.Add(1)
		if key {
			pub.stats.keys.Add(1)
		}
	}
}

// preparedFrame is an encoded frame waiting to be sent.
type preparedFrame struct {
	data []byte
	key  bool
	// shown is the content time of the frame's picture.
	shown time.Duration
}

// frameTime is the content time of frame i at fps, exact to the
// nanosecond (a rounded period would drift off the marker instants).
func frameTime(i, fps int) time.Duration {
	return time.Duration(i) * time.Second / time.Duration(fps)
}

// runAudio sends packet k at Start + k*20 ms, skipping the AudioGaps.
func (pub *Publisher) runAudio(ctx context.Context, as audioSource, t *rtpTrack) {
	for k := 0; ; k++ {
		at := time.Duration(k) * audioFrame
		data, err := as.packet(k)
		if err != nil {
			pub.p.Logger.Warn("synth: encode audio", "name", pub.p.Name, "err", err)
			return
		}
		if !sleepUntil(ctx, pub.wall(at)) {
			return
		}
		if inGap(pub.p.AudioGaps, at) || len(data) == 0 {
			continue
		}
		level := -1
		if pub.p.AudioLevels && t.levelID != 0 {
			talk := pub.p.Talk
			if pub.p.LevelTalk != nil {
				talk = pub.p.LevelTalk
			}
			level = int(ToneLevel(pub.p.Index, at, talk...))
		}
		if err := t.writeLevel(data, at, level); err != nil {
			pub.p.Logger.Debug("synth: send audio", "name", pub.p.Name, "err", err)
		}
		pub.stats.audio.Add(1)
	}
}

// catchUp returns the frame to encode instead of from when running late
// enough to skip to target: target, unless a flash starts in between, in
// which case its first frame, so that no marker is ever skipped.
func catchUp(from, target, fps int) int {
	for j := from; j < target; j++ {
		if Flashing(frameTime(j, fps)) && (j == 0 || !Flashing(frameTime(j-1, fps))) {
			return j
		}
	}
	return target
}

// inGap reports whether t falls in one of gaps.
func inGap(gaps []Interval, t time.Duration) bool {
	for _, g := range gaps {
		if t >= g.Start && t < g.End {
			return true
		}
	}
	return false
}

// sleepUntil waits until deadline; false if ctx ended first.
func sleepUntil(ctx context.Context, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// rtpTrack packetises frames with RTP timestamps chosen by the caller.
type rtpTrack struct {
	track     *webrtc.TrackLocalStaticRTP
	sender    *webrtc.RTPSender
	levelID   uint8 // the negotiated audio-level extension, 0 for none; set before media starts
	payloader rtp.Payloader
	rate      uint32
	ts0       uint32
	ssrc      uint32
	seq       uint16

	packets, octets atomic.Uint32
}

// rtpTime returns the RTP timestamp of content time at.
func (t *rtpTrack) rtpTime(at time.Duration) uint32 {
	return t.ts0 + uint32(int64(at)*int64(t.rate)/int64(time.Second))
}

// senderReport maps wall-clock now, content time at, to RTP time.
func (t *rtpTrack) senderReport(now time.Time, at time.Duration) *rtcp.SenderReport {
	return &rtcp.SenderReport{
		SSRC:        t.ssrc,
		NTPTime:     toNTP(now),
		RTPTime:     t.rtpTime(at),
		PacketCount: t.packets.Load(),
		OctetCount:  t.octets.Load(),
	}
}

// toNTP converts a wall-clock time to a 64-bit NTP timestamp.
func toNTP(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// write sends one frame whose content time is at.
func (t *rtpTrack) write(frame []byte, at time.Duration) error {
	return t.writeLevel(frame, at, -1)
}

// writeLevel sends one frame whose content time is at, with the RFC 6464
// audio level (-dBov) in the negotiated extension when level >= 0.
func (t *rtpTrack) writeLevel(frame []byte, at time.Duration, level int) error {
	ts := t.rtpTime(at)
	payloads := t.payloader.Payload(mtu-12, frame)
	for i, pl := range payloads {
		pkt := &rtp.Packet{
			Header: rtp.Header{
				Version: 2, Marker: i == len(payloads)-1,
				SequenceNumber: t.seq, Timestamp: ts,
			},
			Payload: pl,
		}
		if level >= 0 {
			ext, err := rtp.AudioLevelExtension{Level: uint8(min(level, 127)), Voice: level < voiceBelow}.Marshal()
			if err != nil {
				return fmt.Errorf("synth: audio level: %w", err)
			}
			if err := pkt.SetExtension(t.levelID, ext); err != nil {
				return fmt.Errorf("synth: audio level: %w", err)
			}
		}
		t.seq++
		t.packets.Add(1)
		t.octets.Add(uint32(len(pl)))
		if err := t.track.WriteRTP(pkt); err != nil {
			return fmt.Errorf("synth: write rtp: %w", err)
		}
	}
	return nil
}

// pictureSize returns the picture size in force at participant-local t.
func pictureSize(p Participant, t time.Duration) (int, int) {
	w, h := p.Width, p.Height
	var best time.Duration = -1
	for _, r := range p.Resizes {
		if r.At <= t && r.At > best {
			best, w, h = r.At, r.Width, r.Height
		}
	}
	return w, h
}
