package compose

import (
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/internal/rtmptest"
)

// pushCaptured sends packets through a fanout to one RTMP target and
// returns the output's events.
func pushCaptured(t *testing.T, o *output, cfg Config, pkts []streamPacket, target string, tc *tls.Config) []StreamEvent {
	t.Helper()
	f, err := newEncoderFanout(cfg.FPS, o.venc, o.aenc)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []StreamEvent
	onEvent := func(e StreamEvent) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}
	f.start(len(pkts)+1, onEvent, []*streamOut{{name: "rtmps", s: &rtmpSink{url: target, name: "rtmps", tls: tc, params: &f.params}}})
	for _, p := range pkts {
		f.send(p.pkt, p.video)
	}
	f.finish()
	mu.Lock()
	defer mu.Unlock()
	return events
}

// TestRTMPS pushes a stream over TLS (rtmps://, through the Go TLS relay)
// to a real nginx-rtmp behind nginx's TLS terminator: the server records
// every frame; with an untrusted certificate the push fails with a TLS
// error and nothing is recorded.
func TestRTMPS(t *testing.T) {
	srv := rtmptest.StartTLS(t)
	o, cfg, capture := capturePackets(t, Config{Width: 320, Height: 180, Preset: "ultrafast"})
	var frames int
	for _, p := range capture.pkts {
		if p.video {
			frames++
		}
	}

	// Untrusted: the system's roots do not know the test's certificate.
	ev := pushCaptured(t, o, cfg, capture.pkts, srv.TLSURL("untrusted"), nil)
	var failed error
	for _, e := range ev {
		if e.Kind == StreamConnected {
			t.Errorf("connected with an untrusted certificate")
		}
		if e.Kind == StreamFailed && failed == nil {
			failed = e.Err
		}
	}
	t.Logf("untrusted server: %v", failed)
	if failed == nil || !strings.Contains(failed.Error(), "certificate") || strings.Contains(failed.Error(), "untrusted") {
		t.Errorf("untrusted server: first failure %v, want a certificate error without the key", failed)
	}

	ev = pushCaptured(t, o, cfg, capture.pkts, srv.TLSURL("tlskey"), &tls.Config{RootCAs: srv.Roots})
	for _, e := range ev {
		if e.Kind == StreamFailed {
			t.Errorf("push over TLS failed: %v", e.Err)
		}
	}
	// nginx closes the recording when the publisher leaves.
	var recs []string
	deadline := time.Now().Add(5 * time.Second)
	for len(recs) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		for _, r := range srv.Recordings() {
			if strings.Contains(r, "tlskey") {
				recs = append(recs, r)
			}
		}
	}
	if len(recs) != 1 {
		t.Fatalf("recordings %v, want one of the TLS push", srv.Recordings())
	}
	d, err := demux.Open(recs[0], demux.Video, demux.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fr := astiav.AllocFrame()
	defer fr.Free()
	got := 0
	for {
		err := d.Next(fr)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got++
		fr.Unref()
	}
	t.Logf("pushed %d video frames over TLS, nginx recorded %d", frames, got)
	if got != frames {
		t.Errorf("nginx recorded %d video frames of the %d pushed over TLS", got, frames)
	}
}
