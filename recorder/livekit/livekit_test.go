package livekit

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/timeline"
)

func TestConfigDefaults(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		err  error
	}{
		{"key and secret", Config{URL: "ws://h:7880", APIKey: "k", APISecret: "s", Room: "r"}, nil},
		{"token", Config{URL: "wss://h", Token: "x.y.z"}, nil},
		{"https", Config{URL: "https://h", Token: "x.y.z"}, nil},
		{"no url", Config{Token: "x.y.z"}, ErrBadConfig},
		{"bad scheme", Config{URL: "ftp://h", Token: "x.y.z"}, ErrBadConfig},
		{"no host", Config{URL: "ws://", Token: "x.y.z"}, ErrBadConfig},
		{"no credentials", Config{URL: "ws://h"}, ErrBadConfig},
		{"no secret", Config{URL: "ws://h", APIKey: "k", Room: "r"}, ErrBadConfig},
		{"no room", Config{URL: "ws://h", APIKey: "k", APISecret: "s"}, ErrBadConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.cfg.withDefaults()
			if !errors.Is(err, c.err) {
				t.Fatalf("withDefaults() error %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if got.Identity != DefaultIdentity || got.Name != DefaultIdentity || got.TokenTTL != DefaultTokenTTL ||
				got.ConnectTimeout != DefaultConnectTimeout || got.Logger == nil ||
				got.Output.Width != DefaultOutputWidth || got.Output.Height != DefaultOutputHeight {
				t.Errorf("defaults not filled: %+v", got)
			}
		})
	}
}

func TestBotToken(t *testing.T) {
	tok, err := BotToken("key", "secret-secret-secret-secret-secret", "standup", "bot", "Bot", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.ParseAPIToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	_, grants, err := v.Verify("secret-secret-secret-secret-secret")
	if err != nil {
		t.Fatal(err)
	}
	g := grants.Video
	if v.Identity() != "bot" || grants.Name != "Bot" || g.Room != "standup" || !g.RoomJoin ||
		!g.Hidden || !g.Recorder || g.GetCanPublish() || g.GetCanPublishData() || !g.GetCanSubscribe() {
		t.Errorf("grants %+v of identity %q, want a hidden subscribe-only recorder in standup", g, v.Identity())
	}
	exp, ok, err := tokenExpiry(tok)
	if err != nil || !ok {
		t.Fatalf("tokenExpiry = %v, %v, %v", exp, ok, err)
	}
	if d := time.Until(exp); d < 59*time.Minute || d > time.Hour+time.Second {
		t.Errorf("token expires in %v, want 1h", d)
	}
}

// jwt builds an unsigned JWT with the given claims JSON.
func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(claims)) + ".sig"
}

var expiryCases = []struct {
	name  string
	token string
	exp   time.Time
	ok    bool
	err   bool
}{
	{"exp", jwt(`{"exp":1700000000,"sub":"a"}`), time.Unix(1700000000, 0), true, false},
	{"float exp", jwt(`{"exp":1700000000.5}`), time.Unix(1700000000, 0), true, false},
	{"no exp", jwt(`{"sub":"a"}`), time.Time{}, false, false},
	{"two parts", "a.b", time.Time{}, false, true},
	{"bad base64", "a.!!!.c", time.Time{}, false, true},
	{"not json", "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c", time.Time{}, false, true},
	{"negative exp", jwt(`{"exp":-5}`), time.Time{}, false, true},
	{"huge exp", jwt(`{"exp":1e300}`), time.Time{}, false, true},
	{"string exp", jwt(`{"exp":"soon"}`), time.Time{}, false, true},
}

func TestTokenExpiry(t *testing.T) {
	for _, c := range expiryCases {
		t.Run(c.name, func(t *testing.T) {
			exp, ok, err := tokenExpiry(c.token)
			if (err != nil) != c.err || ok != c.ok || !exp.Equal(c.exp) {
				t.Fatalf("tokenExpiry = %v, %v, %v; want %v, %v, error %v", exp, ok, err, c.exp, c.ok, c.err)
			}
			if err != nil && !errors.Is(err, errMalformedToken) {
				t.Errorf("error %v does not wrap errMalformedToken", err)
			}
		})
	}
}

func FuzzTokenExpiry(f *testing.F) {
	for _, c := range expiryCases {
		f.Add(c.token)
	}
	f.Fuzz(func(t *testing.T, token string) {
		exp, ok, err := tokenExpiry(token)
		if err != nil && (ok || !exp.IsZero()) {
			t.Fatalf("error %v with a result %v, %v", err, exp, ok)
		}
		if ok && (exp.Before(time.Unix(0, 0)) || exp.After(time.Unix(maxUnixSeconds, 0))) {
			t.Fatalf("expiry %v out of range", exp)
		}
	})
}

// TestRecordRefuses covers the errors Record returns before it connects
// anywhere, and a server that does not answer (a closed port on 127.0.0.1).
func TestRecordRefuses(t *testing.T) {
	s, err := recorder.NewSession(recorder.Config{DisableFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(context.Background()) }()
	expired := jwt(`{"exp":1000}`)
	cases := []struct {
		name string
		s    *recorder.Session
		cfg  Config
		err  error
	}{
		{"nil session", nil, Config{URL: "ws://127.0.0.1:1", Token: expired}, ErrBadConfig},
		{"bad config", s, Config{URL: "ws://127.0.0.1:1"}, ErrBadConfig},
		{"malformed token", s, Config{URL: "ws://127.0.0.1:1", Token: "junk"}, ErrBadConfig},
		{"expired token", s, Config{URL: "ws://127.0.0.1:1", Token: expired}, ErrTokenExpired},
		{"no server", s, Config{
			URL: "ws://127.0.0.1:1", APIKey: "k", APISecret: "s", Room: "r",
			ConnectTimeout: 2 * time.Second,
		}, ErrJoin},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Record(t.Context(), c.s, c.cfg)
			if !errors.Is(err, c.err) {
				t.Fatalf("Record error %v, want %v", err, c.err)
			}
		})
	}
	if n := s.Present(); n != 0 {
		t.Errorf("%d participants present after failed Records", n)
	}
}

var sizeCases = []struct {
	name       string
	out        Output
	present    int
	srcW, srcH int
	w, h       int
}{
	{"alone", Output{Width: 1280, Height: 720}, 1, 1920, 1080, 1280, 720},
	{"alone small source", Output{Width: 1280, Height: 720}, 1, 640, 360, 640, 360},
	{"two columns", Output{Width: 1280, Height: 720}, 2, 1280, 720, 640, 360},
	{"three columns", Output{Width: 640, Height: 360}, 3, 640, 360, 214, 120},
	{"four columns", Output{Width: 640, Height: 360}, 4, 640, 360, 160, 90},
	{"portrait letterboxed", Output{Width: 1280, Height: 720}, 1, 720, 1280, 406, 720},
	{"crop covers the tile", Output{Width: 640, Height: 360, Fit: timeline.Crop}, 2, 640, 360, 640, 360},
	{"grid of four", Output{Width: 1280, Height: 720, Layout: timeline.Grid}, 4, 1280, 720, 640, 360},
	{"grid capped", Output{Width: 1280, Height: 720, Layout: timeline.Grid, MaxTiles: 4}, 9, 1280, 720, 640, 360},
	{"unknown source size", Output{Width: 640, Height: 360}, 2, 0, 0, 320, 360},
	{"nobody", Output{Width: 640, Height: 360}, 0, 640, 360, 0, 0},
}

func TestWantedSize(t *testing.T) {
	for _, c := range sizeCases {
		t.Run(c.name, func(t *testing.T) {
			w, h := wantedSize(c.out, c.present, c.srcW, c.srcH)
			if w != c.w || h != c.h {
				t.Fatalf("wantedSize = %dx%d, want %dx%d", w, h, c.w, c.h)
			}
		})
	}
}

func FuzzWantedSize(f *testing.F) {
	for _, c := range sizeCases {
		f.Add(c.out.Width, c.out.Height, int(c.out.Layout), int(c.out.Fit), c.out.MaxTiles, c.present, c.srcW, c.srcH)
	}
	f.Fuzz(func(t *testing.T, ow, oh, layout, fit, maxTiles, present, srcW, srcH int) {
		const limit = 1 << 14
		if ow <= 0 || oh <= 0 || ow > limit || oh > limit || present > 64 || srcW > limit || srcH > limit {
			t.Skip()
		}
		o := Output{Width: ow, Height: oh, Layout: timeline.LayoutKind(layout & 1), Fit: timeline.Fit(fit & 1), MaxTiles: maxTiles}
		w, h := wantedSize(o, present, srcW, srcH)
		if w < 0 || h < 0 || w > max(ow, srcW) || h > max(oh, srcH) {
			t.Fatalf("wantedSize(%+v, %d, %d, %d) = %dx%d", o, present, srcW, srcH, w, h)
		}
		if srcW > 0 && srcH > 0 && (w > srcW || h > srcH) {
			t.Fatalf("asks %dx%d of a %dx%d source", w, h, srcW, srcH)
		}
		if present <= 0 && (w != 0 || h != 0) {
			t.Fatalf("asks %dx%d with nobody present", w, h)
		}
	})
}

func TestLayerHeight(t *testing.T) {
	layers := []int{90, 180, 360}
	o := Output{Width: 640, Height: 360}
	for _, c := range []struct{ present, want int }{{1, 360}, {2, 180}, {3, 180}, {4, 90}, {8, 90}} {
		if got := LayerHeight(o, c.present, 640, 360, layers); got != c.want {
			t.Errorf("%d tiles: layer %d, want %d", c.present, got, c.want)
		}
	}
	if got := LayerHeight(Output{Width: 3840, Height: 2160}, 1, 3840, 2160, layers); got != 360 {
		t.Errorf("larger than every layer: %d, want the tallest", got)
	}
}

func TestRedactHandler(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	secret := "s3cr3t-api-secret"
	token := jwt(`{"exp":1}`)
	l := slog.New(&redactHandler{inner: base.Handler(), secrets: []string{secret}})
	type attempt struct{ Token string }
	l.With("key", secret).WithGroup("g").Info("joining with "+token,
		"attempt", attempt{token}, slog.Group("inner", "s", "x"+secret+"y"), "ok", "visible")
	out := buf.String()
	if strings.Contains(out, secret) || strings.Contains(out, token) {
		t.Fatalf("secret leaked: %s", out)
	}
	if !strings.Contains(out, "visible") || strings.Count(out, redacted) != 4 {
		t.Fatalf("want 4 redactions and the rest kept: %s", out)
	}
}
