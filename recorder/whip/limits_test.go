package whip_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/whip"
)

// TestPostRate sends 500 POSTs in 2 s from one client and counts the
// 429s, with the default limits and with the per-client rate removed
// (then the overall rate answers).
func TestPostRate(t *testing.T) {
	const posts, over = 500, 2 * time.Second
	// rateSlack allows the tokens refilled while the requests are sent
	// and a second of Retry-After rounding.
	const rateSlack = 2
	for _, tc := range []struct {
		name        string
		lim         whip.Limits
		rate, burst float64
	}{
		{"per client", whip.Limits{}, whip.DefaultPostRate, whip.DefaultPostBurst},
		{"overall", whip.Limits{PostRate: -1}, whip.DefaultTotalPostRate, whip.DefaultTotalPostBurst},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, whip.Config{Limits: tc.lim})
			start := time.Now()
			counts := map[int]int{}
			var retry string
			for i := range posts {
				time.Sleep(time.Until(start.Add(over * time.Duration(i) / posts)))
				// Not SDP: an admitted POST is answered 400, cheaply.
				resp, body := do(t, http.MethodPost, r.url, "application/sdp", "not sdp", nil)
				counts[resp.StatusCode]++
				if resp.StatusCode == http.StatusTooManyRequests {
					retry = resp.Header.Get("Retry-After")
					require.Contains(t, body, "too many POSTs")
				}
			}
			elapsed := time.Since(start)
			admitted := counts[http.StatusBadRequest]
			t.Logf("%d POSTs in %v: %d admitted (400), %d refused 429 (Retry-After %s s)",
				posts, elapsed.Round(time.Millisecond), admitted, counts[http.StatusTooManyRequests], retry)
			require.Equal(t, posts, admitted+counts[http.StatusTooManyRequests], "%v", counts)
			want := tc.burst + tc.rate*elapsed.Seconds()
			require.InDelta(t, want, float64(admitted), rateSlack+tc.rate*0.1)
			require.NotEmpty(t, retry)
		})
	}
}

// TestResourceLimits fills each count limit with real offers (resources
// that never connect) and checks the refusal; a participant that already
// has a resource gets 409 even while the first has not connected.
func TestResourceLimits(t *testing.T) {
	offer := pionOffer(t)
	post := func(t *testing.T, r *rig, query string) (reply, string) {
		t.Helper()
		return do(t, http.MethodPost, r.url+query, "application/sdp", offer, nil)
	}
	t.Run("overall", func(t *testing.T) {
		r := newRig(t, whip.Config{Limits: whip.Limits{MaxResources: 3, PostRate: -1}})
		for i := range 3 {
			resp, body := post(t, r, fmt.Sprintf("?id=p%d", i))
			require.Equal(t, http.StatusCreated, resp.StatusCode, body)
		}
		resp, body := post(t, r, "?id=p9")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, body)
		require.Contains(t, body, "Limits.MaxResources")
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
		require.Equal(t, 3, r.h.Resources())
	})
	t.Run("per client", func(t *testing.T) {
		r := newRig(t, whip.Config{Limits: whip.Limits{MaxResourcesPerClient: 2, PostRate: -1}})
		for i := range 2 {
			resp, body := post(t, r, fmt.Sprintf("?id=p%d", i))
			require.Equal(t, http.StatusCreated, resp.StatusCode, body)
		}
		resp, body := post(t, r, "?id=p9")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, body)
		require.Contains(t, body, "Limits.MaxResourcesPerClient")
	})
	t.Run("participants", func(t *testing.T) {
		r := newRig(t, whip.Config{Limits: whip.Limits{MaxParticipants: 2, PostRate: -1}})
		var locs []string
		for i := range 2 {
			resp, body := post(t, r, fmt.Sprintf("?id=p%d", i))
			require.Equal(t, http.StatusCreated, resp.StatusCode, body)
			locs = append(locs, resp.loc)
		}
		resp, body := post(t, r, "?id=p9")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, body)
		require.Contains(t, body, "Limits.MaxParticipants")
		// A resource that never joined frees its participant's place.
		resp, body = do(t, http.MethodDelete, locs[0], "", "", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		resp, body = post(t, r, "?id=p9")
		require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	})
	t.Run("racing for one id", func(t *testing.T) {
		r := newRig(t, whip.Config{Limits: whip.Limits{PostRate: -1}})
		const racers = 8
		var wg sync.WaitGroup
		codes := make([]int, racers)
		bodies := make([]string, racers)
		for i := range racers {
			wg.Go(func() {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.url+"?id=carol", strings.NewReader(offer))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/sdp")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				defer func() { _ = resp.Body.Close() }()
				b, _ := io.ReadAll(resp.Body)
				codes[i], bodies[i] = resp.StatusCode, string(b)
			})
		}
		wg.Wait()
		created := 0
		for i, c := range codes {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				require.Contains(t, bodies[i], "already publishing")
			default:
				require.Failf(t, "unexpected status", "%d: %s", c, bodies[i])
			}
		}
		require.Equal(t, 1, created)
		require.Equal(t, 1, r.h.Resources())
	})
}

// TestOfferLimits refuses offers, IDs and names beyond their limits with
// 400 before any peer connection exists.
func TestOfferLimits(t *testing.T) {
	r := newRig(t, whip.Config{Limits: whip.Limits{PostRate: -1}})
	big := offerWith(t, 1, 1, whip.DefaultMaxMediaSections) // 10 m-sections, 2 tracks
	many := offerWith(t, 5, 2, 0)                           // 7 tracks
	fits := offerWith(t, 4, 2, 2)                           // 6 tracks, 8 m-sections
	for _, tc := range []struct {
		name, query, offer string
		status             int
		msg                string
	}{
		{"m-sections", "", big, http.StatusBadRequest, "10 media sections"},
		{"tracks", "", many, http.StatusBadRequest, "sends 7 tracks"},
		{"long name", "?name=" + strings.Repeat("n", whip.DefaultMaxNameBytes+1), fits, http.StatusBadRequest, "display name of 257 bytes"},
		{"long id", "?id=" + strings.Repeat("i", whip.DefaultMaxIDBytes+1), fits, http.StatusBadRequest, "participant ID of 129 bytes"},
		{"invalid utf-8 id", "?id=%ff%fe", fits, http.StatusBadRequest, "not valid UTF-8"},
		{"newline in name", "?name=a%0Ab", fits, http.StatusBadRequest, "control characters"},
		{"at the limits", "?id=ok&name=" + strings.Repeat("n", whip.DefaultMaxNameBytes), fits, http.StatusCreated, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.h.Resources()
			resp, body := do(t, http.MethodPost, r.url+tc.query, "application/sdp", tc.offer, nil)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Contains(t, body, tc.msg)
			if tc.status != http.StatusCreated {
				require.Equal(t, before, r.h.Resources())
			}
		})
	}
	// The session holds nobody from the refused requests.
	require.Empty(t, r.s.Participants())
}

// serveRig serves a handler with Serve on 127.0.0.1; the base URL is
// returned.
func serveRig(t *testing.T, cfg whip.Config) (string, *whip.Handler) {
	t.Helper()
	s, err := recorder.NewSession(recorder.Config{ID: "serve", Dir: t.TempDir()})
	require.NoError(t, err)
	ln, err := whip.Listen("127.0.0.1:0")
	require.NoError(t, err)
	h := whip.NewHandler(s, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- whip.Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-served)
		_ = s.Close(context.Background())
	})
	return "http://" + ln.Addr().String(), h
}

// TestServeRoutes checks that only /whip and its resources are routes.
func TestServeRoutes(t *testing.T) {
	base, _ := serveRig(t, whip.Config{})
	for _, tc := range []struct {
		method, path string
		status       int
		msg          string
	}{
		{http.MethodOptions, "/whip", http.StatusNoContent, ""},
		{http.MethodGet, "/whip", http.StatusMethodNotAllowed, "POST an SDP offer"},
		{http.MethodPost, "/whip/anything", http.StatusNotFound, "no resource"},
		{http.MethodPost, "/whip/a/b", http.StatusNotFound, "no route"},
		{http.MethodPost, "/other", http.StatusNotFound, "no route"},
		{http.MethodDelete, "/whip/r-00", http.StatusNotFound, "no resource"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := do(t, tc.method, base+tc.path, "application/sdp", "x", nil)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Contains(t, body, tc.msg)
		})
	}
}

// TestServeConnections opens more idle connections than MaxConns (the
// excess is closed at once) and checks that the idle and slow-body
// connections are closed by the timeouts.
func TestServeConnections(t *testing.T) {
	const maxConns, extra = 8, 12
	// closeSlack allows the server's timer and the scheduling of its
	// connection goroutine (under load) past a timeout.
	const closeSlack = time.Second
	lim := whip.Limits{MaxConns: maxConns, ReadTimeout: time.Second, IdleTimeout: time.Second, ReadHeaderTimeout: time.Second}
	base, _ := serveRig(t, whip.Config{Limits: lim})
	addr := strings.TrimPrefix(base, "http://")

	// closedWithin reports whether the server closed c within d.
	closedWithin := func(c net.Conn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c) // an answer may come first
		return err == nil || !errorsIsTimeout(err)
	}
	conns := make([]net.Conn, 0, maxConns+extra)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range maxConns + extra {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	start := time.Now()
	refused := 0
	for _, c := range conns[maxConns:] {
		if closedWithin(c, 200*time.Millisecond) {
			refused++
		}
	}
	t.Logf("%d connections opened, limit %d: %d closed at once", len(conns), maxConns, refused)
	require.Equal(t, extra, refused)

	// The held ones send nothing: ReadHeaderTimeout closes them.
	for _, c := range conns[:maxConns] {
		require.True(t, closedWithin(c, lim.ReadHeaderTimeout+closeSlack), "idle connection still open after %v", time.Since(start))
	}

	// A body that never ends is cut by ReadTimeout.
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	conns = append(conns, c)
	_, err = fmt.Fprintf(c, "POST /whip HTTP/1.1\r\nHost: %s\r\nContent-Type: application/sdp\r\nContent-Length: 100000\r\n\r\nv=0\r\n", addr)
	require.NoError(t, err)
	start = time.Now()
	require.True(t, closedWithin(c, lim.ReadTimeout+closeSlack), "slow body still open")
	t.Logf("slow body closed after %v", time.Since(start).Round(time.Millisecond))

	// A kept-alive connection is closed IdleTimeout after its answer.
	c, err = net.Dial("tcp", addr)
	require.NoError(t, err)
	conns = append(conns, c)
	_, err = fmt.Fprintf(c, "OPTIONS /whip HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	require.NoError(t, err)
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	require.NoError(t, err)
	require.Contains(t, string(buf[:n]), "204 No Content")
	require.True(t, closedWithin(c, lim.IdleTimeout+closeSlack), "idle keep-alive still open")
}

// TestLimitsEffect measures what the limits save: the live heap of 200
// unconnected resources with MaxResources removed and with the default,
// and the cost of 200 offers of 1,000 m-sections (refused before any
// peer connection). Rates are removed so that every POST reaches the
// limit under test.
func TestLimitsEffect(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 264 peer connections")
	}
	const posts = 200
	offer := pionOffer(t)
	for _, tc := range []struct {
		name    string
		max     int
		created int
	}{
		{"default", 0, whip.DefaultMaxResources},
		{"unlimited", -1, posts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, whip.Config{Limits: whip.Limits{
				MaxResources: tc.max, MaxResourcesPerClient: -1, PostRate: -1, TotalPostRate: -1,
			}})
			heap0, rss0 := liveHeap(), rssBytes(t)
			counts := map[int]int{}
			for i := range posts {
				resp, body := do(t, http.MethodPost, fmt.Sprintf("%s?id=p%d", r.url, i), "application/sdp", offer, nil)
				counts[resp.StatusCode]++
				if resp.StatusCode != http.StatusCreated {
					require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, body)
				}
			}
			heap := liveHeap()
			t.Logf("MaxResources %s: %d POSTs: %d created, %d refused 429; live heap +%.1f MiB, RSS +%.1f MiB (%d resources live)",
				tc.name, posts, counts[http.StatusCreated], counts[http.StatusTooManyRequests],
				float64(heap-heap0)/(1<<20), float64(rssBytes(t)-rss0)/(1<<20), r.h.Resources())
			require.Equal(t, tc.created, counts[http.StatusCreated])
		})
	}
	t.Run("1000 m-sections", func(t *testing.T) {
		r := newRig(t, whip.Config{Limits: whip.Limits{PostRate: -1, TotalPostRate: -1}})
		base := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
		m := "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:96 VP8/90000\r\na=sendonly\r\n"
		huge := base + strings.Repeat(m, 1000)
		heap0, cpu0, wall0 := liveHeap(), cpuTime(t), time.Now()
		for range posts {
			resp, body := do(t, http.MethodPost, r.url, "application/sdp", huge, nil)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
			require.Contains(t, body, "1000 media sections")
		}
		t.Logf("%d offers of 1000 m-sections (%d kB each): all 400 in %v, CPU %v, live heap after %+.1f MiB",
			posts, len(huge)/1000, time.Since(wall0).Round(time.Millisecond), (cpuTime(t) - cpu0).Round(time.Millisecond),
			(float64(liveHeap())-float64(heap0))/(1<<20))
		require.Zero(t, r.h.Resources())
	})
}
