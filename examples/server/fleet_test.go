package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/roomtape/roomtape/recorder/service"
)

// TestFleetCommand: `server fleet` prints the API's fleet view and sends
// a drain request, with the key from the environment.
func TestFleetCommand(t *testing.T) {
	const key = "test-key-0123456789abcdef"
	view := service.FleetView{
		Workers: []service.WorkerStatus{{
			ID: "w1", Role: service.RoleWorker, Capacity: service.Cost{CPU: 2, Memory: 4 << 30},
			Used: service.Cost{CPU: 0.98, Memory: 214 << 20}, Jobs: []service.WorkerJob{{ID: "rec_1", Kind: service.KindRecord}},
		}},
		Capacity: service.Cost{CPU: 2, Memory: 4 << 30}, Used: service.Cost{CPU: 0.98},
		Queued:      []service.QueuedJob{{ID: "rec_2", Kind: service.KindRecord, Cost: service.Cost{CPU: 1.5}, Reason: "needs 1.50 cores"}},
		Unplaceable: 1,
	}
	var drained string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/fleet":
			_ = json.NewEncoder(w).Encode(view)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/drain"):
			drained = r.URL.Path
			w.WriteHeader(http.StatusAccepted)
			_ = json.NewEncoder(w).Encode(service.WorkerStatus{ID: "w1", Draining: true, Jobs: view.Workers[0].Jobs})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	t.Setenv("ROOMTAPE_API_KEY", key)
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"fleet", "--api", srv.URL}, &out, &errs); err != nil {
		t.Fatalf("fleet: %v (%s)", err, errs.String())
	}
	for _, want := range []string{"w1", "0.98/2.00", "rec_1", "1 queued, 1 unplaceable", "needs 1.50 cores"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("fleet output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"fleet", "--api", srv.URL, "drain", "w1"}, &out, &errs); err != nil {
		t.Fatalf("fleet drain: %v", err)
	}
	if drained != "/v1/fleet/workers/w1/drain" || !strings.Contains(out.String(), "w1 draining: 1 jobs left") {
		t.Errorf("drain: path %q, output %q", drained, out.String())
	}
	t.Setenv("ROOMTAPE_API_KEY", "wrong-key-0123456789abc")
	if err := run(context.Background(), []string{"fleet", "--api", srv.URL}, &out, &errs); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong key: %v", err)
	}
}

// TestRoleFlags: a bad role, and a worker or API without a NATS cluster,
// are refused before anything runs.
func TestRoleFlags(t *testing.T) {
	t.Setenv("ROOMTAPE_API_KEYS", "test-key-0123456789abcdef")
	for _, c := range []struct{ role, want string }{{"bogus", "role"}, {"worker", "NATS"}, {"api", "NATS"}} {
		var out, errs bytes.Buffer
		err := run(context.Background(), []string{"--env-file", "", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--role", c.role}, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--role %s: %v, want an error naming %s", c.role, err, c.want)
		}
	}
}
