package service

import (
	"bytes"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/redact"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// FuzzVerifySignature: no header makes VerifySignature panic or accept a
// body it was not signed for; what Sign makes verifies.
func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	f.Add("t=1700000000,v1=00", []byte(`{}`))
	f.Add(Sign("secret-0123456789", now, []byte(`{"a":1}`)), []byte(`{"a":1}`))
	f.Add("v1=zz,t=x,,=", []byte(nil))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		const secret = "secret-0123456789"
		if err := VerifySignature(secret, header, body, now, 0); err == nil && header != Sign(secret, now, body) {
			// Accepted: it must hold the right HMAC for its own t.
			var ts string
			for part := range strings.SplitSeq(header, ",") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(part), "t="); ok {
					ts = v
				}
			}
			if !strings.Contains(header, "v1="+hexOf(mac(secret, ts, body))) {
				t.Fatalf("accepted %q for %q", header, body)
			}
		}
		sig := Sign(secret, now, body)
		if err := VerifySignature(secret, sig, body, now, 0); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
		if err := VerifySignature(secret, sig, append(bytes.Clone(body), 'x'), now, 0); err == nil {
			t.Fatal("a changed body verified")
		}
		if err := VerifySignature(secret, sig, body, now.Add(2*DefaultSignatureTolerance), 0); err == nil {
			t.Fatal("an old signature verified")
		}
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// fuzzPart builds a part's manifest from bytes: participants (keys a-d)
// with ordered presence intervals and one track each.
func fuzzPart(data []byte) *manifest.Session {
	s := &manifest.Session{SessionID: "s"}
	var t float64
	for i := 0; i+2 < len(data); i += 3 {
		key := string(rune('a' + data[i]%4))
		join := t + float64(data[i+1]%8)/2
		leave := join + float64(data[i+2]%8)/2
		t = leave
		var p *manifest.Participant
		for k := range s.Participants {
			if s.Participants[k].Key() == key {
				p = &s.Participants[k]
			}
		}
		if p == nil {
			s.Participants = append(s.Participants, manifest.Participant{ID: key, Name: key})
			p = &s.Participants[len(s.Participants)-1]
			p.SetPresence([]manifest.Interval{{JoinS: join, LeaveS: leave}})
		} else {
			p.SetPresence(append(p.Intervals(), manifest.Interval{JoinS: join, LeaveS: leave}))
		}
		end := leave
		p.Tracks = append(p.Tracks, manifest.Track{Kind: manifest.KindVideo, Path: "/v" + key, StartS: join, EndS: &end})
	}
	return s
}

// FuzzMergeParts: merged manifests validate, keep every interval and
// track, and shift each part by its offset (never before the previous
// part's end).
func FuzzMergeParts(f *testing.F) {
	f.Add([]byte{0, 1, 4, 1, 2, 3}, []byte{0, 0, 2, 2, 1, 1}, uint16(10))
	f.Add([]byte{3, 7, 7}, []byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, a, b []byte, gap uint16) {
		p1, p2 := fuzzPart(a), fuzzPart(b)
		off := p1.End() + time.Duration(gap)*time.Millisecond
		m, err := mergeParts([]*manifest.Session{p1, p2}, []time.Duration{0, off})
		if err != nil {
			t.Fatal(err)
		}
		ivs, tracks := 0, 0
		for _, p := range m.Participants {
			ivs += len(p.Intervals())
			tracks += len(p.Tracks)
		}
		want, wantTracks := 0, 0
		for _, s := range []*manifest.Session{p1, p2} {
			for _, p := range s.Participants {
				want += len(p.Intervals())
				wantTracks += len(p.Tracks)
			}
		}
		if ivs != want || tracks != wantTracks {
			t.Fatalf("%d intervals and %d tracks, want %d and %d", ivs, tracks, want, wantTracks)
		}
		if len(p2.Participants) > 0 && m.End() < off {
			t.Fatalf("end %v before the second part's start %v", m.End(), off)
		}
	})
}

// FuzzRecordingRequest: any body either is refused with a field or makes
// a job with a known room type and a token per WHIP participant.
func FuzzRecordingRequest(f *testing.F) {
	f.Add(`{"room":{"type":"whip","participants":[{"id":"a"}]}}`)
	f.Add(`{"room":{"type":"livekit","name":"x"},"output":{"width":2,"height":2}}`)
	f.Add(`{"room":{"type":"whip","participants":[{"id":"a"},{"id":"a"}]},"output":{"layout":"grid"}}`)
	f.Add(`{"room":{"type":"whip","participants":[{"id":"a"}]},"output":{"rtmp":["rtmp://h:1935/live/key","rtmps://h/app/k2?x=1"],"hls":true}}`)
	f.Add(`{"room":{"type":"daily","url":"https://acme.daily.co/standup","token":"a.b.c"}}`)
	f.Add(`{"room":{"type":"daily","url":"https://acme.daily.co/standup"},"output":{"compose":"none","rtmp":["rtmp://h/l/k"]}}`)
	s := &Service{cfg: Config{LiveKit: LiveKit{URL: "ws://127.0.0.1:1", APIKey: "k", APISecret: "s"}}}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/recordings", strings.NewReader(body))
		var req RecordingRequest
		if ferr := decode(r, &req); ferr != nil {
			if ferr.Field == "" {
				t.Fatalf("refusal without a field: %v", ferr)
			}
			return
		}
		j, tokens, ferr := s.newRecordJob(req)
		if ferr != nil {
			if ferr.Field == "" || ferr.Msg == "" {
				t.Fatalf("refusal without a field: %+v", ferr)
			}
			return
		}
		if j.Room.Type != RoomWHIP && j.Room.Type != RoomLiveKit && j.Room.Type != RoomDaily {
			t.Fatalf("room type %q accepted", j.Room.Type)
		}
		// The secrets leave the job: what is stored and shown has no
		// token and only redacted RTMP URLs.
		sec := takeSecrets(j)
		if j.Room.Token != "" || len(sec.RTMP) != len(j.Output.RTMP) {
			t.Fatalf("secrets left in the job: %+v", j)
		}
		for i, u := range sec.RTMP {
			if checkRTMPTarget(u) != "" {
				t.Fatalf("RTMP target %d accepted: %s", i, checkRTMPTarget(u))
			}
			shown, err := url.Parse(j.Output.RTMP[i])
			if err != nil || !strings.HasSuffix(shown.Path, "/"+redact.Mark) || j.Output.RTMP[i] != redact.StreamTarget(u) {
				t.Fatalf("RTMP target %d shown as %q", i, j.Output.RTMP[i])
			}
		}
		if j.Room.Type == RoomWHIP && len(tokens) != len(j.Room.Participants) {
			t.Fatalf("%d tokens for %d participants", len(tokens), len(j.Room.Participants))
		}
		if !idPattern.MatchString(j.Room.Name) {
			t.Fatalf("room name %q accepted", j.Room.Name)
		}
	})
}

func TestRetryDelay(t *testing.T) {
	prev := time.Duration(0)
	for n := uint64(1); n <= webhookAttempts+5; n++ {
		d := retryDelay(n)
		if d < prev || d > webhookMaxRetry || d < webhookFirstRetry {
			t.Fatalf("attempt %d: %v after %v", n, d, prev)
		}
		prev = d
	}
	if retryDelay(1) != webhookFirstRetry || retryDelay(2) != 2*webhookFirstRetry {
		t.Errorf("backoff %v, %v", retryDelay(1), retryDelay(2))
	}
}

func TestAutoRecords(t *testing.T) {
	for _, c := range []struct {
		rule, room string
		want       bool
	}{
		{"", "x", false},
		{"*", "x", true},
		{"*", "", false},
		{"sales-*", "sales-42", true},
		{"sales-*", "ops-1", false},
		{"[", "x", false},
	} {
		if got := autoRecords(c.rule, c.room); got != c.want {
			t.Errorf("rule %q room %q: %v", c.rule, c.room, got)
		}
	}
}

// FuzzRTMPTarget: an accepted target is rtmp or rtmps with a host, an
// application and a key; no verdict, nor the target as the job shows it,
// holds the key.
func FuzzRTMPTarget(f *testing.F) {
	for _, s := range []string{"rtmp://h:1935/live/k3y", "rtmps://h/app/k3y?x=1", "http://h/live/k3y", "rtmp://h/live", "rtmp:///live/k3y", "RTMP://h/a/b/k3y", "rtmp://h/%6c/k3y"} {
		f.Add(strings.TrimSuffix(s, "/live/k3y"), "k3y-secret")
	}
	f.Fuzz(func(t *testing.T, host, key string) {
		if len(key) < 4 || strings.ContainsAny(key, "/?#%") || strings.Contains(host+"/live/", key) {
			return // a key not one path element, or not told apart from the rest
		}
		raw := host + "/live/" + key
		msg := checkRTMPTarget(raw)
		if strings.Contains(msg, key) {
			t.Fatalf("verdict on %q shows the key: %s", raw, msg)
		}
		if msg != "" {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || !strings.EqualFold(u.Scheme, "rtmp") && !strings.EqualFold(u.Scheme, "rtmps") || u.Host == "" {
			t.Fatalf("%q accepted", raw)
		}
		if shown := redact.StreamTarget(raw); strings.Contains(shown, key) {
			t.Fatalf("%q shown as %q", raw, shown)
		}
	})
}
