package whip_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/syncbuf"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/pionrec"
	"github.com/roomtape/roomtape/recorder/whip"
)

// pcmuOffer is a well-formed offer whose only codec the recorder does not
// store.
const pcmuOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n"

// noMediaOffer parses but offers nothing.
const noMediaOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

// pionOffer returns a real offer (VP8/H.264 video and Opus, send-only) from
// a pion peer connection that is closed at the end of the test.
func pionOffer(t *testing.T) string {
	t.Helper()
	api, err := pionrec.NewAPI(pionrec.APIConfig{LoopbackOnly: true})
	require.NoError(t, err)
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		_, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		require.NoError(t, err)
	}
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	return pc.LocalDescription().SDP
}

// reply is a response read whole.
type reply struct {
	StatusCode int
	Header     http.Header
	loc        string
}

// Location returns the Location header resolved against the request URL.
func (r reply) Location() (*url.URL, error) {
	return url.Parse(r.loc)
}

// do sends a request and returns the response and its body; a "Host"
// entry of hdr sets the Host header.
func do(t *testing.T, method, target, ctype, body string, hdr map[string]string) (reply, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body))
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	rep := reply{StatusCode: resp.StatusCode, Header: resp.Header}
	if loc, err := resp.Location(); err == nil {
		rep.loc = loc.String()
	}
	return rep, string(b)
}

// TestHTTPStatuses checks every refusal of the WHIP endpoint, the CORS
// preflight, and a resource's creation and deletion.
func TestHTTPStatuses(t *testing.T) {
	const token = "s3cret-token"
	var logs syncbuf.Buffer
	cfg := whip.Config{
		MaxOfferBytes: 64 << 10,
		Logger:        slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Authenticate: func(r *http.Request) (string, string, error) {
			switch r.Header.Get("Authorization") {
			case "Bearer " + token:
				return "tok-user", "Token User", nil
			case "Bearer dup-token":
				return "dup", "Dup", nil
			case "":
				return "", "", nil
			default:
				return "", "", whip.ErrUnauthorized
			}
		},
	}
	r := newRig(t, cfg)
	offer := pionOffer(t)
	_, err := r.s.Join("dup", "Already Here")
	require.NoError(t, err)

	for _, tc := range []struct {
		name, method, path, ctype, body string
		hdr                             map[string]string
		status                          int
		msg                             string
	}{
		{"get endpoint", http.MethodGet, "", "", "", nil, http.StatusMethodNotAllowed, "POST"},
		{"wrong content type", http.MethodPost, "", "application/json", "{}", nil, http.StatusUnsupportedMediaType, "application/sdp"},
		{"not sdp", http.MethodPost, "", "application/sdp", "hello", nil, http.StatusBadRequest, "not valid SDP"},
		{"no media", http.MethodPost, "", "application/sdp", noMediaOffer, nil, http.StatusBadRequest, "no media"},
		{"unsupported codec", http.MethodPost, "", "application/sdp", pcmuOffer, nil, http.StatusNotAcceptable, "pcmu"},
		{"too large", http.MethodPost, "", "application/sdp", strings.Repeat("a=x\r\n", 20000), nil, http.StatusRequestEntityTooLarge, "larger"},
		{"bad token", http.MethodPost, "", "application/sdp", offer, map[string]string{"Authorization": "Bearer wrong-" + token}, http.StatusUnauthorized, "unauthorized"},
		{"already present", http.MethodPost, "", "application/sdp", offer, map[string]string{"Authorization": "Bearer dup-token"}, http.StatusConflict, "dup"},
		{"unknown resource", http.MethodDelete, "/r-0000000000000000", "", "", nil, http.StatusNotFound, "no resource"},
		{"patch unknown", http.MethodPatch, "/r-0000000000000000", "application/trickle-ice-sdpfrag", "a=x", nil, http.StatusNotFound, "no resource"},
		{"get resource", http.MethodGet, "/r-0000000000000000", "", "", nil, http.StatusMethodNotAllowed, "only DELETE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.method, r.url+tc.path, tc.ctype, tc.body, tc.hdr)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Contains(t, strings.ToLower(body), strings.ToLower(tc.msg))
			require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "no origin is allowed by default")
		})
	}

	t.Run("preflight", func(t *testing.T) {
		resp, _ := do(t, http.MethodOptions, r.url, "", "", map[string]string{
			"Access-Control-Request-Method": "POST",
		})
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")
		require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "Authorization")
		require.Equal(t, "application/sdp", resp.Header.Get("Accept-Post"))
	})

	t.Run("create and delete", func(t *testing.T) {
		resp, answer := do(t, http.MethodPost, r.url, "application/sdp", offer, map[string]string{"Authorization": "Bearer " + token})
		require.Equal(t, http.StatusCreated, resp.StatusCode, answer)
		require.Equal(t, "application/sdp", resp.Header.Get("Content-Type"))
		require.Contains(t, answer, "a=candidate:")
		require.Contains(t, answer, "127.0.0.1")
		loc, err := resp.Location()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(loc.Path, "/whip/r-"), loc.Path)
		require.NotEmpty(t, resp.Header.Get("ETag"))
		require.Equal(t, 1, r.h.Resources())

		auth := map[string]string{"Authorization": "Bearer " + token}
		resp, body := do(t, http.MethodDelete, loc.String(), "", "", nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
		require.Equal(t, 1, r.h.Resources(), "a DELETE without the token ended the resource")
		resp, body = do(t, http.MethodDelete, loc.String(), "", "", auth)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.Equal(t, 0, r.h.Resources())
		resp, _ = do(t, http.MethodDelete, loc.String(), "", "", auth)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	t.Run("closed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
		defer cancel()
		require.NoError(t, r.h.Close(ctx))
		resp, body := do(t, http.MethodPost, r.url, "application/sdp", offer, nil)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	})

	require.NotContains(t, logs.String(), token, "a token was logged")
}

// TestListen checks that ListenAndServe's listener defaults to 127.0.0.1.
func TestListen(t *testing.T) {
	for _, addr := range []string{":0", "127.0.0.1:0"} {
		ln, err := whip.Listen(addr)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(ln.Addr().String(), "127.0.0.1:"), ln.Addr().String())
		require.NoError(t, ln.Close())
	}
	_, err := whip.Listen("no-port")
	require.Error(t, err)
}

// TestServe serves a handler until its context ends; the endpoint answers
// in between and Serve returns cleanly.
func TestServe(t *testing.T) {
	s, err := recorder.NewSession(recorder.Config{ID: "serve", Dir: t.TempDir()})
	require.NoError(t, err)
	defer func() { _ = s.Close(context.Background()) }()
	ln, err := whip.Listen(":0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- whip.Serve(ctx, ln, whip.NewHandler(s, whip.Config{})) }()
	resp, _ := do(t, http.MethodOptions, "http://"+ln.Addr().String()+"/whip", "", "", nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	cancel()
	require.NoError(t, <-served)
}
