package whip

import (
	"strings"
	"testing"
)

// screenOffer is an offer with a camera, a screen (a=content:slides) and a
// microphone.
const screenOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=content:slides\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n"

func TestScreenMids(t *testing.T) {
	got := screenMids(screenOffer)
	if len(got) != 1 || !got["1"] {
		t.Fatalf("got %v, want mid 1 only", got)
	}
	if got := screenMids("not sdp"); len(got) != 0 {
		t.Fatalf("garbage: %v", got)
	}
}

// FuzzScreenMids checks that screenMids never panics and only names mids
// of sections that carry a=content:slides.
func FuzzScreenMids(f *testing.F) {
	f.Add(screenOffer)
	f.Add(strings.ReplaceAll(screenOffer, "slides", "SLIDES "))
	f.Add("v=0\r\n")
	f.Fuzz(func(t *testing.T, offer string) {
		for mid := range screenMids(offer) {
			if mid == "" || !strings.Contains(offer, "a=mid:"+mid) {
				t.Fatalf("mid %q is not in the offer", mid)
			}
			if !strings.Contains(strings.ToLower(offer), "a=content:") {
				t.Fatalf("mid %q without a content attribute", mid)
			}
		}
	})
}
