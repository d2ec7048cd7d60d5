package browser

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// dailyAPI is a local stand-in for Daily's REST API that checks each
// request the way Daily documents it (POST, JSON body, bearer API key)
// and answers as Daily does.
type dailyAPI struct {
	t      *testing.T
	key    string
	bodies map[string]map[string]any // by path
}

func newDailyAPI(t *testing.T, key string) (*dailyAPI, *httptest.Server) {
	t.Helper()
	a := &dailyAPI{t: t, key: key, bodies: map[string]map[string]any{}}
	return a, httptest.NewServer(a)
}

func (a *dailyAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+a.key {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"authentication-error","info":"bad API key"}`))
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		a.t.Errorf("%s %s with content type %q, want POST application/json", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		a.t.Errorf("%s: body is not JSON: %v", r.URL.Path, err)
	}
	a.bodies[r.URL.Path] = body
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/v1/rooms":
		name, _ := body["name"].(string)
		if name == "" {
			name = "Gen3rated"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "d61cd7b2", "name": name, "privacy": body["privacy"],
			"url": "https://roomtape.daily.co/" + name, "api_created": true,
		})
	case "/v1/meeting-tokens":
		_, _ = w.Write([]byte(`{"token":"eyJhbGciOi.test.token"}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"not-found"}`))
	}
}

func TestDailyCreateRoom(t *testing.T) {
	a, srv := newDailyAPI(t, "k3y")
	defer srv.Close()
	c := DailyClient{APIKey: "k3y", BaseURL: srv.URL + "/v1"}
	info, err := c.CreateRoom(t.Context(), "standup", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if info.URL != "https://roomtape.daily.co/standup" || info.Name != "standup" {
		t.Errorf("room %+v", info)
	}
	b := a.bodies["/v1/rooms"]
	props, _ := b["properties"].(map[string]any)
	exp, _ := props["exp"].(float64)
	if b["name"] != "standup" || b["privacy"] != "private" || exp < float64(time.Now().Add(59*time.Minute).Unix()) {
		t.Errorf("create room body %v: want name standup, private, exp in an hour", b)
	}
}

func TestDailyBotToken(t *testing.T) {
	a, srv := newDailyAPI(t, "k3y")
	defer srv.Close()
	c := DailyClient{APIKey: "k3y", BaseURL: srv.URL + "/v1/"}
	tok, err := c.BotToken(t.Context(), "standup", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "eyJhbGciOi.test.token" {
		t.Errorf("token %q", tok)
	}
	props, _ := a.bodies["/v1/meeting-tokens"]["properties"].(map[string]any)
	perms, _ := props["permissions"].(map[string]any)
	if props["room_name"] != "standup" || props["user_name"] != DailyBotName || props["is_owner"] != false ||
		perms["hasPresence"] != false || perms["canSend"] != false {
		t.Errorf("meeting token properties %v: want a hidden, non-sending roomtape-recorder in standup", props)
	}
}

func TestDailyErrors(t *testing.T) {
	_, srv := newDailyAPI(t, "k3y")
	defer srv.Close()
	_, err := DailyClient{APIKey: "wrong", BaseURL: srv.URL + "/v1"}.BotToken(t.Context(), "standup", 0)
	if !errors.Is(err, ErrDailyAPI) || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad key: %v (want ErrDailyAPI with the status, without the key)", err)
	}
	if _, err := (DailyClient{}).BotToken(t.Context(), "standup", 0); !errors.Is(err, ErrBadConfig) {
		t.Errorf("no key: %v", err)
	}
	if _, err := (DailyClient{APIKey: "k"}).BotToken(t.Context(), "bad/name", 0); !errors.Is(err, ErrBadConfig) {
		t.Errorf("bad room: %v", err)
	}
	_, err = DailyClient{APIKey: "k3y", BaseURL: "http://127.0.0.1:1/v1"}.CreateRoom(t.Context(), "", true, 0)
	if !errors.Is(err, ErrDailyAPI) {
		t.Errorf("unreachable API: %v", err)
	}
}

func TestDailyRoomName(t *testing.T) {
	for in, want := range map[string]string{
		"https://acme.daily.co/standup":  "standup",
		"https://acme.daily.co/a-b_c9":   "a-b_c9",
		"http://acme.daily.co/standup":   "",
		"https://acme.daily.co/":         "",
		"https://acme.daily.co/a/b":      "",
		"https://acme.daily.co/x?t=tok":  "",
		"acme.daily.co/standup":          "",
		"https://acme.daily.co/has%20sp": "",
	} {
		got, err := DailyRoomName(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("DailyRoomName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
