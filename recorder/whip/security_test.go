package whip_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/syncbuf"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/pionrec"
	"github.com/roomtape/roomtape/recorder/whip"
)

// sharedToken is the tests' Config.Token (at least MinTokenBytes).
const sharedToken = "shared-token-0123456789"

// bearer returns the Authorization header of a token.
func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// offerWith returns a real pion offer sending video and audio tracks
// (send-only m-sections) and receive-only extra ones.
func offerWith(t *testing.T, video, audio, recvonly int) string {
	t.Helper()
	api, err := pionrec.NewAPI(pionrec.APIConfig{LoopbackOnly: true})
	require.NoError(t, err)
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	add := func(k webrtc.RTPCodecType, n int, dir webrtc.RTPTransceiverDirection) {
		for range n {
			_, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: dir})
			require.NoError(t, err)
		}
	}
	add(webrtc.RTPCodecTypeVideo, video, webrtc.RTPTransceiverDirectionSendonly)
	add(webrtc.RTPCodecTypeAudio, audio, webrtc.RTPTransceiverDirectionSendonly)
	add(webrtc.RTPCodecTypeVideo, recvonly, webrtc.RTPTransceiverDirectionRecvonly)
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	require.NoError(t, pc.SetLocalDescription(offer))
	return offer.SDP
}

// TestTokens publishes real participants with the shared token and with
// per-participant tokens: identity comes from the token, the query
// cannot override it, and no token reaches the logs.
func TestTokens(t *testing.T) {
	var logs syncbuf.Buffer
	r := newRig(t, whip.Config{
		Token:  sharedToken,
		Limits: whip.Limits{PostRate: -1},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	carolTok, err := r.h.IssueToken("carol", "Carol")
	require.NoError(t, err)
	_, err = r.h.IssueToken("bad\xff", "x")
	require.ErrorIs(t, err, whip.ErrInvalidIdentity)
	offer := pionOffer(t)

	for _, tc := range []struct {
		name, query string
		hdr         map[string]string
		status      int
		msg         string
	}{
		{"no token", "?name=Anon", nil, http.StatusUnauthorized, "needs a token"},
		{"wrong token", "", bearer("wrong-token-0123456789"), http.StatusUnauthorized, "not valid"},
		{"basic auth", "", map[string]string{"Authorization": "Basic " + sharedToken}, http.StatusUnauthorized, "not valid"},
		{"shared token with id", "?id=carol&name=Mallory", bearer(sharedToken), http.StatusBadRequest, "?id= is not accepted"},
		{"carol's token renamed", "?name=Mallory", bearer(carolTok), http.StatusBadRequest, "differs from the token's display name"},
		{"carol's token other id", "?id=dave", bearer(carolTok), http.StatusBadRequest, "differs from the token's participant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, http.MethodPost, r.url+tc.query, "application/sdp", offer, tc.hdr)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Contains(t, body, tc.msg)
			if tc.status == http.StatusUnauthorized {
				require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
			}
			require.Zero(t, r.h.Resources(), "a refused POST left a resource")
		})
	}

	// Carol with her token; a shared-token holder gets a generated ID and
	// cannot take hers.
	carol := r.publish(t, synth.Participant{Name: "Carol", Index: 1, Token: carolTok})
	guest := r.publish(t, synth.Participant{Name: "Guest", Index: 2, Token: sharedToken})
	p, ok := r.s.Participant("carol")
	require.True(t, ok)
	require.True(t, p.Present())
	_, err = synth.Publish(t.Context(), r.url, synth.Participant{Name: "Carol", Index: 3, Token: carolTok})
	require.ErrorIs(t, err, synth.ErrWHIP)
	require.ErrorContains(t, err, "409")

	ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
	defer cancel()
	require.NoError(t, carol.Close(ctx))
	require.Eventually(t, func() bool { return !p.Present() }, 5*time.Second, 10*time.Millisecond)
	// After Carol left, nobody else can append to her record or rename her.
	resp, body := do(t, http.MethodPost, r.url+"?id=carol&name=Mallory", "application/sdp", offer, bearer(sharedToken))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	// Carol comes back with her token: the same participant, two intervals.
	carol2 := r.publish(t, synth.Participant{Name: "Carol", Index: 1, Token: carolTok})
	time.Sleep(time.Second)
	require.NoError(t, carol2.Close(ctx))
	require.NoError(t, guest.Close(ctx))
	require.True(t, r.h.RevokeToken(carolTok))
	resp, body = do(t, http.MethodPost, r.url, "application/sdp", offer, bearer(carolTok))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)

	m := r.finish(t)
	require.Len(t, m.Participants, 2)
	c := participantNamed(t, m, "Carol")
	require.Equal(t, "carol", c.ID)
	require.Len(t, c.Intervals(), 2)
	g := participantNamed(t, m, "Guest")
	require.True(t, strings.HasPrefix(g.ID, "whip-"), g.ID)
	for _, secret := range []string{sharedToken, carolTok} {
		require.NotContains(t, logs.String(), secret, "a token was logged")
	}
}

// TestResourceOwner checks that only the publisher that created a
// resource can PATCH or DELETE it, and that refused attempts change
// nothing.
func TestResourceOwner(t *testing.T) {
	r := newRig(t, whip.Config{Token: sharedToken})
	aliceTok, err := r.h.IssueToken("alice", "Alice")
	require.NoError(t, err)
	bobTok, err := r.h.IssueToken("bob", "Bob")
	require.NoError(t, err)
	alice := r.publish(t, synth.Participant{Name: "Alice", Index: 1, Token: aliceTok})
	loc := alice.Resource()

	for _, tc := range []struct {
		name, method string
		hdr          map[string]string
		status       int
	}{
		{"delete without token", http.MethodDelete, nil, http.StatusUnauthorized},
		{"delete with another participant's token", http.MethodDelete, bearer(bobTok), http.StatusForbidden},
		{"delete with the shared token", http.MethodDelete, bearer(sharedToken), http.StatusForbidden},
		{"patch with another token", http.MethodPatch, bearer(bobTok), http.StatusForbidden},
		{"patch by the owner", http.MethodPatch, bearer(aliceTok), http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.method, loc, "application/trickle-ice-sdpfrag", "a=x", tc.hdr)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Equal(t, 1, r.h.Resources())
			p, _ := r.s.Participant("alice")
			require.True(t, p.Present(), "a refused request ended Alice")
		})
	}
	resp, body := do(t, http.MethodDelete, loc, "", "", bearer(aliceTok))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Zero(t, r.h.Resources())
}

// TestOriginAndHost checks the CORS allow-list and the Host check.
func TestOriginAndHost(t *testing.T) {
	const page = "http://127.0.0.1:5555"
	r := newRig(t, whip.Config{AllowOrigins: []string{page}, AllowHosts: []string{"rec.example"}})
	offer := pionOffer(t)
	for _, tc := range []struct {
		name, method string
		hdr          map[string]string
		status       int
		acao         string
	}{
		{"no origin (not a browser)", http.MethodOptions, nil, http.StatusNoContent, ""},
		{"allowed origin", http.MethodOptions, map[string]string{"Origin": page}, http.StatusNoContent, page},
		{"other origin preflight", http.MethodOptions, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden, ""},
		{"other origin post", http.MethodPost, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden, ""},
		{"null origin", http.MethodPost, map[string]string{"Origin": "null"}, http.StatusForbidden, ""},
		{"rebound host", http.MethodPost, map[string]string{"Host": "evil.example:8080"}, http.StatusMisdirectedRequest, ""},
		{"other ip host", http.MethodPost, map[string]string{"Host": "10.1.2.3"}, http.StatusMisdirectedRequest, ""},
		{"localhost", http.MethodOptions, map[string]string{"Host": "localhost:1"}, http.StatusNoContent, ""},
		{"allowed host", http.MethodOptions, map[string]string{"Host": "REC.example:443"}, http.StatusNoContent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.method, r.url, "application/sdp", offer, tc.hdr)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Equal(t, tc.acao, resp.Header.Get("Access-Control-Allow-Origin"))
			require.Zero(t, r.h.Resources())
		})
	}
	s, err := recorder.NewSession(recorder.Config{ID: "star", Dir: t.TempDir()})
	require.NoError(t, err)
	defer func() { _ = s.Close(context.Background()) }()
	ln, err := whip.Listen("127.0.0.1:0")
	require.NoError(t, err)
	err = whip.Serve(t.Context(), ln, whip.NewHandler(s, whip.Config{AllowOrigins: []string{"*"}}))
	require.ErrorIs(t, err, whip.ErrConfig)
}

// fakeAddrListener is a loopback listener that claims another address:
// Serve's refusal is tested without listening beyond loopback.
type fakeAddrListener struct {
	net.Listener
	addr net.Addr
}

func (l fakeAddrListener) Addr() net.Addr { return l.addr }

// TestServeNeedsToken checks that Serve refuses an unauthenticated
// handler on a non-loopback address, and a short token.
func TestServeNeedsToken(t *testing.T) {
	s, err := recorder.NewSession(recorder.Config{ID: "auth", Dir: t.TempDir()})
	require.NoError(t, err)
	defer func() { _ = s.Close(context.Background()) }()
	public := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	for _, tc := range []struct {
		name string
		cfg  whip.Config
		addr net.Addr
		ok   bool
		msg  string
	}{
		{"anonymous on 0.0.0.0", whip.Config{}, public, false, "not a loopback address"},
		{"short token", whip.Config{Token: "short"}, public, false, "at least 16"},
		{"token on 0.0.0.0", whip.Config{Token: sharedToken}, public, true, ""},
		{"require token on 0.0.0.0", whip.Config{RequireToken: true}, public, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := whip.Listen("127.0.0.1:0")
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(t.Context())
			served := make(chan error, 1)
			go func() { served <- whip.Serve(ctx, fakeAddrListener{ln, tc.addr}, whip.NewHandler(s, tc.cfg)) }()
			if !tc.ok {
				err := <-served
				cancel()
				require.ErrorIs(t, err, whip.ErrConfig)
				require.ErrorContains(t, err, tc.msg)
				return
			}
			resp, _ := do(t, http.MethodOptions, "http://"+ln.Addr().String()+"/whip", "", "", nil)
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			cancel()
			require.NoError(t, <-served)
		})
	}
}

// errorsIsTimeout reports whether err is a network timeout.
func errorsIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
