package pionrec

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

// TestNewAPILoopbackOnly checks that a loopback-only API offers host
// candidates on 127.0.0.1 and nothing else, with every codec of Codecs.
func TestNewAPILoopbackOnly(t *testing.T) {
	api, err := NewAPI(APIConfig{LoopbackOnly: true})
	require.NoError(t, err)
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	defer func() { _ = pc.Close() }()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		_, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
		require.NoError(t, err)
	}
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered

	var sd sdp.SessionDescription
	require.NoError(t, sd.UnmarshalString(pc.LocalDescription().SDP))
	candidates := 0
	codecs := map[string]bool{}
	for _, md := range sd.MediaDescriptions {
		for _, a := range md.Attributes {
			switch a.Key {
			case "candidate":
				candidates++
				f := strings.Fields(a.Value)
				require.GreaterOrEqual(t, len(f), 8, a.Value)
				require.Equal(t, "127.0.0.1", f[4], a.Value)
				require.Equal(t, "host", f[7], a.Value)
			case "rtpmap":
				_, enc, _ := strings.Cut(a.Value, " ")
				name, _, _ := strings.Cut(enc, "/")
				codecs[strings.ToLower(name)] = true
			}
		}
	}
	require.Positive(t, candidates)
	require.Equal(t, map[string]bool{"vp8": true, "vp9": true, "h264": true, "av1": true, "opus": true}, codecs)
}
