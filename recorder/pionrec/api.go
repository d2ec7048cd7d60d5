package pionrec

import (
	"fmt"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// APIConfig configures [NewAPI]. The zero value works.
type APIConfig struct {
	// SettingEngine (optional) defaults to a zero SettingEngine. NewAPI
	// modifies it: loopback candidates are included, and with LoopbackOnly
	// the interface and IP filters are replaced. A host that must not offer
	// some addresses restricts them here with SetInterfaceFilter and
	// SetIPFilter (or sets LoopbackOnly).
	SettingEngine *webrtc.SettingEngine
	// LoopbackOnly (optional) defaults to false; true restricts ICE to
	// 127.0.0.0/8 over UDP4 on the loopback interface and turns mDNS off, so
	// that no other address is offered or contacted.
	LoopbackOnly bool
	// ICEDisconnectedTimeout (optional) defaults to pion's (5 s).
	ICEDisconnectedTimeout time.Duration
	// ICEFailedTimeout (optional) defaults to pion's (25 s).
	ICEFailedTimeout time.Duration
	// OwnSenderReports (optional) defaults to false; true leaves out pion's
	// RTCP Sender Report generator, for a sender that writes its own
	// reports from its capture clock (pion's maps RTP time to the time a
	// packet was written, which lags capture under load).
	OwnSenderReports bool
	// UDPReadBuffer (optional) is the receive buffer of every ICE UDP
	// socket, in bytes; defaults to DefaultUDPReadBuffer (the kernel caps
	// it at net.core.rmem_max). A large buffer absorbs the bursts of
	// keyframes and the moments the recorder is not scheduled, which
	// otherwise overflow the kernel's default of about 200 KiB. Setting it
	// replaces the SettingEngine's Net with the standard network; negative
	// keeps the system default and leaves the SettingEngine's Net alone.
	UDPReadBuffer int
	// Interceptors (optional) are added before the default ones, i.e.
	// closest to the network: on the sending side they see what the NACK
	// responder sends, including retransmissions.
	Interceptors []interceptor.Factory
}

// DefaultUDPReadBuffer is the default of APIConfig.UDPReadBuffer: 4 MiB
// holds about 1 s of 16 publishers at 1.5 Mbit/s.
const DefaultUDPReadBuffer = 4 << 20

// iceKeepalive is pion's default ICE keepalive interval, used when only the
// timeouts are overridden.
const iceKeepalive = 2 * time.Second

// Codecs returns the codecs [NewAPI] registers: Opus, VP8, VP9 (profile 0),
// H.264 (constrained baseline, baseline, main and high profiles,
// packetization-mode 1) and AV1 (main profile), with NACK, PLI and FIR
// feedback for video.
func Codecs() []webrtc.RTPCodecParameters {
	fb := []webrtc.RTCPFeedback{
		{Type: "goog-remb"},
		{Type: "ccm", Parameter: "fir"},
		{Type: "nack"},
		{Type: "nack", Parameter: "pli"},
	}
	video := func(pt webrtc.PayloadType, mime, fmtp string) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: fb,
			},
			PayloadType: pt,
		}
	}
	h264 := func(pt webrtc.PayloadType, profile string) webrtc.RTPCodecParameters {
		return video(pt, webrtc.MimeTypeH264,
			"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id="+profile)
	}

	return []webrtc.RTPCodecParameters{
		{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
				SDPFmtpLine: "minptime=10;useinbandfec=1",
			},
			PayloadType: 111,
		},
		video(96, webrtc.MimeTypeVP8, ""),
		video(98, webrtc.MimeTypeVP9, "profile-id=0"),
		h264(102, "42001f"),
		h264(125, "42e01f"),
		h264(123, "4d001f"),
		h264(112, "64001f"),
		video(45, webrtc.MimeTypeAV1, "level-idx=5;profile=0;tier=0"),
	}
}

// NewAPI returns a pion API with the codecs of [Codecs], the RFC 6464
// audio-level header extension ([AudioLevelURI]) for audio, the NACK
// generator and responder and RTCP sender and receiver reports, and ICE
// settings from cfg. The same API serves receiving (the recorder) and
// sending (a publisher).
func NewAPI(cfg APIConfig) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range Codecs() {
		kind := webrtc.RTPCodecTypeVideo
		if c.MimeType == webrtc.MimeTypeOpus {
			kind = webrtc.RTPCodecTypeAudio
		}
		if err := me.RegisterCodec(c, kind); err != nil {
			return nil, fmt.Errorf("pionrec: register codec %s: %w", c.MimeType, err)
		}
	}

	// Publishers that send RFC 6464 levels (browsers, pion senders that
	// set it) tell the recorder who speaks without decoding (Config.OnLevel).
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("pionrec: register audio level extension: %w", err)
	}

	reg := &interceptor.Registry{}
	for _, f := range cfg.Interceptors {
		reg.Add(f)
	}
	if err := webrtc.ConfigureNack(me, reg); err != nil {
		return nil, fmt.Errorf("pionrec: nack interceptors: %w", err)
	}
	if cfg.OwnSenderReports {
		rr, err := report.NewReceiverInterceptor()
		if err != nil {
			return nil, fmt.Errorf("pionrec: receiver report interceptor: %w", err)
		}
		reg.Add(rr)
	} else if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("pionrec: rtcp report interceptors: %w", err)
	}

	se := cfg.SettingEngine
	if se == nil {
		se = &webrtc.SettingEngine{}
	}
	se.SetIncludeLoopbackCandidate(true)
	// SRTP's default replay window (64 packets) rejects a NACK
	// retransmission that comes after more than 64 newer packets, e.g.
	// behind the burst of a keyframe; accept what the reorder window can
	// still use.
	se.SetSRTPReplayProtectionWindow(ringSize)
	if cfg.LoopbackOnly {
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if size := cfg.UDPReadBuffer; size >= 0 {
		if size == 0 {
			size = DefaultUDPReadBuffer
		}
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, fmt.Errorf("pionrec: network: %w", err)
		}
		se.SetNet(&bufferedNet{Net: n, size: size})
	}
	if cfg.ICEDisconnectedTimeout > 0 || cfg.ICEFailedTimeout > 0 {
		disc, failed := cfg.ICEDisconnectedTimeout, cfg.ICEFailedTimeout
		if disc <= 0 {
			disc = 5 * time.Second
		}
		if failed <= 0 {
			failed = 25 * time.Second
		}
		se.SetICETimeouts(disc, failed, iceKeepalive)
	}

	return webrtc.NewAPI(
		webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(*se),
	), nil
}

// bufferedNet is the standard network with large UDP receive buffers.
type bufferedNet struct {
	transport.Net
	size int
}

// ListenUDP listens and sets the receive buffer (best effort: the kernel
// may cap it).
func (n *bufferedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err //nolint:wrapcheck // the standard network's error
	}
	_ = c.SetReadBuffer(n.size)
	return c, nil
}
