// Package lktest runs a real livekit-server and synthetic LiveKit
// publishers for the tests of recorder/livekit.
//
// Everything runs inside the private network namespace of
// internal/netns: the LiveKit SDK leaves loopback out of ICE, so the
// server, the publishers and the bot talk over the namespace's veth
// addresses, which exist nowhere else.
package lktest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/roomtape/roomtape/internal/syncbuf"
)

// ServerEnv names the livekit-server binary (the Makefile exports it).
const ServerEnv = "ROOMTAPE_LIVEKIT_SERVER"

// requireEnv, set to 1, fails instead of skipping when the server binary
// is missing.
const requireEnv = "ROOMTAPE_REQUIRE_LIVEKIT"

// Ports the server listens on inside the namespace (which has a port
// space of its own, so fixed ports cannot collide with other tests).
const (
	SignalPort = 7880
	tcpPort    = 7881
	udpPort    = 7882
)

// Test credentials (the server wants a secret of at least 32 bytes).
const (
	APIKey    = "roomtapetest"
	APISecret = "roomtape-test-secret-0123456789abcdef"
)

// startTimeout bounds the server's start-up.
const startTimeout = 20 * time.Second

// Server is a running livekit-server.
type Server struct {
	// URL is the WebSocket URL clients join with.
	URL string
	// HTTPURL is the URL of the room service API.
	HTTPURL string
	// Addr is the address it listens on.
	Addr netip.Addr

	cmd  *exec.Cmd
	logs *syncbuf.Buffer
	done chan struct{}
	once sync.Once
}

// ServerBinary returns the livekit-server binary to run: $ROOMTAPE_LIVEKIT_SERVER,
// else the project's cache, else livekit-server on PATH.
func ServerBinary() (string, error) {
	if p := os.Getenv(ServerEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", ServerEnv, err)
		}
		return p, nil
	}
	if home, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(home, "roomtape", "bin", "server")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("livekit-server")
	if err != nil {
		return "", fmt.Errorf("livekit-server not found (run scripts/setup.sh or set %s): %w", ServerEnv, err)
	}
	return p, nil
}

// StartServer starts livekit-server listening on addr (an address of the
// test's namespace) and stops it when the test ends. Congestion control is
// off: on a loaded test machine its bandwidth estimate would pick
// simulcast layers of its own, and the tests check the layers the bot
// asks for. It skips the test
// when no server binary is installed, unless ROOMTAPE_REQUIRE_LIVEKIT=1
// or ROOMTAPE_LIVEKIT_SERVER is set.
func StartServer(tb testing.TB, addr netip.Addr) *Server {
	tb.Helper()
	return StartServerWebhooks(tb, addr)
}

// StartServerWebhooks is [StartServer] with the server's webhooks sent to
// urls, signed with APIKey.
func StartServerWebhooks(tb testing.TB, addr netip.Addr, urls ...string) *Server {
	tb.Helper()
	bin, err := ServerBinary()
	if err != nil {
		if os.Getenv(requireEnv) == "1" || os.Getenv(ServerEnv) != "" {
			tb.Fatal(err)
		}
		tb.Skip(err)
	}
	cfg := fmt.Sprintf(`port: %d
bind_addresses: [%q]
rtc:
  tcp_port: %d
  udp_port: %d
  use_external_ip: false
  node_ip: %s
  congestion_control:
    enabled: false
keys:
  %s: %s
logging:
  level: info
  json: false
room:
  empty_timeout: 300
  departure_timeout: 5
`, SignalPort, addr, tcpPort, udpPort, addr, APIKey, APISecret)
	if len(urls) > 0 {
		cfg += fmt.Sprintf("webhook:\n  api_key: %s\n  urls:\n", APIKey)
		for _, u := range urls {
			cfg += fmt.Sprintf("    - %q\n", u)
		}
	}
	path := filepath.Join(tb.TempDir(), "livekit.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &Server{
		URL:     "ws://" + net.JoinHostPort(addr.String(), strconv.Itoa(SignalPort)),
		HTTPURL: "http://" + net.JoinHostPort(addr.String(), strconv.Itoa(SignalPort)),
		Addr:    addr,
		logs:    &syncbuf.Buffer{},
		done:    make(chan struct{}),
	}
	s.cmd = exec.Command(bin, "--config", path)
	s.cmd.Stdout = s.logs
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		tb.Fatalf("start livekit-server: %v", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	tb.Cleanup(func() {
		s.Stop()
		if tb.Failed() {
			tb.Logf("livekit-server log:\n%s", s.logs.String())
		}
	})
	if err := s.waitReady(tb.Context()); err != nil {
		tb.Fatalf("livekit-server: %v\n%s", err, s.logs.String())
	}
	return s
}

// waitReady polls the server's health endpoint.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL+"/", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return errors.New("exited during start-up")
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the server and is idempotent. A first SIGTERM asks for a
// graceful shutdown, which waits for rooms to drain; a second one, a
// second later, forces it; SIGKILL ends a server that still hangs.
func (s *Server) Stop() {
	s.once.Do(func() {
		for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGTERM, syscall.SIGKILL} {
			_ = s.cmd.Process.Signal(sig)
			select {
			case <-s.done:
				return
			case <-time.After(time.Second):
			}
		}
		<-s.done
	})
}

// Kill ends the server at once (SIGKILL), as a crash or a network cut
// would: clients get no leave message and try to reconnect. Stop after
// Kill does nothing.
func (s *Server) Kill() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

// Logs returns what the server printed so far.
func (s *Server) Logs() string { return s.logs.String() }

// RoomService returns a client of the server's room service.
func (s *Server) RoomService() *lksdk.RoomServiceClient {
	return lksdk.NewRoomServiceClient(s.HTTPURL, APIKey, APISecret)
}
