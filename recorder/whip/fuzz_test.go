package whip

import (
	"net"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/pion/sdp/v3"
)

// bearerCases are shared by the table test and the fuzz seeds.
var bearerCases = []struct {
	header, token string
	ok            bool
}{
	{"Bearer abc", "abc", true},
	{"bearer  abc", "abc", true},
	{"BEARER abc", "abc", true},
	{"Bearer", "", false},
	{"Bearer ", "", false},
	{"Bearer a b", "", false},
	{"Basic abc", "", false},
	{"", "", false},
	{"Bearer\tabc", "", false},
}

func TestBearerToken(t *testing.T) {
	for _, tc := range bearerCases {
		tok, ok := bearerToken(tc.header)
		if tok != tc.token || ok != tc.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tc.header, tok, ok, tc.token, tc.ok)
		}
	}
}

// FuzzBearerToken: a token found is non-empty, has no white space, and
// ends the header.
func FuzzBearerToken(f *testing.F) {
	for _, tc := range bearerCases {
		f.Add(tc.header)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := bearerToken(header)
		if !ok {
			if tok != "" {
				t.Fatalf("refused header %q returned token %q", header, tok)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") || !strings.HasSuffix(header, tok) {
			t.Fatalf("header %q gave token %q", header, tok)
		}
		if !strings.EqualFold(header[:6], "bearer") {
			t.Fatalf("header %q is not a bearer header", header)
		}
	})
}

// hostCases are shared by the table test and the fuzz seeds.
var hostCases = []struct {
	host, local string
	ok          bool
}{
	{"127.0.0.1:8080", "127.0.0.1", true},
	{"127.0.0.2", "127.0.0.1", true},
	{"localhost:8080", "127.0.0.1", true},
	{"[::1]:8080", "127.0.0.1", true},
	{"evil.example:8080", "127.0.0.1", false},
	{"localhost", "192.168.1.5", false},
	{"192.168.1.5:8080", "192.168.1.5", true},
	{"192.168.1.6", "192.168.1.5", false},
	{"127.0.0.1", "192.168.1.5", false},
	{"rec.example", "192.168.1.5", true},
	{"", "127.0.0.1", false},
}

func TestCheckHost(t *testing.T) {
	for _, tc := range hostCases {
		err := checkHost(tc.host, &net.TCPAddr{IP: net.ParseIP(tc.local)}, []string{"rec.example"})
		if (err == nil) != tc.ok {
			t.Errorf("checkHost(%q, %s) = %v, want ok %v", tc.host, tc.local, err, tc.ok)
		}
	}
}

// FuzzCheckHost: a host accepted on a non-loopback address is that
// address or an allowed name; the error quotes at most a bounded prefix.
func FuzzCheckHost(f *testing.F) {
	for _, tc := range hostCases {
		f.Add(tc.host, tc.local)
	}
	f.Fuzz(func(t *testing.T, host, local string) {
		ip := net.ParseIP(local)
		err := checkHost(host, &net.TCPAddr{IP: ip}, []string{"rec.example"})
		if err != nil {
			if len(err.Error()) > 100*4+200 { // 100 bytes quoted, each at most \xNN, and the text
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if ip == nil || ip.IsLoopback() {
			return
		}
		h := host
		if hh, _, e := net.SplitHostPort(host); e == nil {
			h = hh
		}
		h = strings.Trim(h, "[]")
		if got := net.ParseIP(h); !strings.EqualFold(h, "rec.example") && !strings.EqualFold(host, "rec.example") && (got == nil || !got.Equal(ip)) {
			t.Fatalf("host %q accepted on %s", host, local)
		}
	})
}

// FuzzCheckIdentity: an accepted ID and name are valid UTF-8 without
// control characters and within the limits.
func FuzzCheckIdentity(f *testing.F) {
	f.Add("carol", "Carol")
	f.Add("\xff", "")
	f.Add("a", "line\nbreak")
	f.Add(strings.Repeat("x", 200), "")
	lim := Limits{}.withDefaults()
	f.Fuzz(func(t *testing.T, id, name string) {
		if checkIdentity(id, name, lim, true) != nil {
			return
		}
		for _, v := range []string{id, name} {
			if !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
				t.Fatalf("accepted %q", v)
			}
		}
		if len(id) > lim.MaxIDBytes || len(name) > lim.MaxNameBytes {
			t.Fatalf("accepted %d/%d bytes", len(id), len(name))
		}
	})
}

// FuzzCheckOffer: an accepted offer is within the m-section and track
// limits; a refusal is a 4xx.
func FuzzCheckOffer(f *testing.F) {
	base := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	video := "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:96 VP8/90000\r\na=sendonly\r\n"
	f.Add(base + video)
	f.Add(base + strings.Repeat(video, 9))
	f.Add(base + video + "a=rid:h send\r\na=rid:m send\r\na=rid:l send\r\n")
	f.Add(base + "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n")
	lim := Limits{}.withDefaults()
	f.Fuzz(func(t *testing.T, offer string) {
		status, err := checkOffer([]byte(offer), lim)
		if err != nil {
			if status < 400 || status >= 500 {
				t.Fatalf("status %d for %v", status, err)
			}
			return
		}
		if status != 0 {
			t.Fatalf("status %d without error", status)
		}
		var sd sdp.SessionDescription
		if err := sd.Unmarshal([]byte(offer)); err != nil {
			t.Fatalf("accepted an offer that does not parse: %v", err)
		}
		if len(sd.MediaDescriptions) > lim.MaxMediaSections || sentTracks(&sd) > lim.MaxTracks {
			t.Fatalf("accepted %d m-sections, %d tracks", len(sd.MediaDescriptions), sentTracks(&sd))
		}
	})
}
