package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/syncbuf"
	"github.com/roomtape/roomtape/recorder/service"
)

// Test timing, each bound with its reason.
const (
	// serverStart bounds the server's start (build excluded): the
	// embedded NATS server recovers its store, which is small here.
	serverStart = 20 * time.Second
	// jobDone bounds a short recording's composition and upload after
	// the call on a loaded 2-core machine (live composition lags behind,
	// an offline one runs at a few times real time at 320x180).
	jobDone = 120 * time.Second
	// testAckWait is the takeover time the restart tests run with:
	// short, so that a resumed recording's gap stays a few seconds.
	testAckWait = 3 * time.Second
)

// testKey is the API key of the test servers (16+ bytes); readKey a
// read-only one.
const (
	testKey = "test-key-0123456789abcdef"
	readKey = "read-key-0123456789abcdef"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serverBinary builds examples/server once per test run.
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "roomtape-server-*")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "server")
		args := []string{"build", "-o", binPath}
		if raceBuild {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/roomtape/roomtape/examples/server")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build examples/server: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freePort returns a loopback port free now (the restart tests need the
// same address twice: the job's WHIP URL is built on it).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// server is a running examples/server process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	URL  string
	logs *syncbuf.Buffer
	done chan struct{}
}

var serviceLine = regexp.MustCompile(`roomtape service on (http://\S+) `)

// startServer runs examples/server on addr with dataDir and extra args;
// env adds variables (the API keys are set). It is killed at the end of
// the test if still running.
func startServer(t *testing.T, addr, dataDir string, env []string, args ...string) *server {
	t.Helper()
	bin := serverBinary(t)
	all := append([]string{"--listen", addr, "--data-dir", dataDir, "--env-file", "", "--takeover", testAckWait.String()}, args...)
	cmd := exec.Command(bin, all...)
	cmd.Env = append(os.Environ(), "ROOMTAPE_API_KEYS="+testKey+","+readKey+":ro")
	cmd.Env = append(cmd.Env, env...)
	return runServer(t, cmd)
}

// kill sends SIGKILL and waits for the process.
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop sends SIGTERM and waits.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(serverStart):
		s.t.Errorf("server did not stop on SIGTERM in %v", serverStart)
		s.kill()
	}
}

// do sends a request with key (empty: none) and returns the status and
// body.
func (s *server) do(method, path, key string, body any) (int, []byte) {
	s.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// createRecording posts req and decodes the answer (201 expected).
func (s *server) createRecording(req service.RecordingRequest) service.RecordingResponse {
	s.t.Helper()
	code, body := s.do("POST", "/v1/recordings", testKey, req)
	if code != http.StatusCreated {
		s.t.Fatalf("create recording: %d %s", code, body)
	}
	var resp service.RecordingResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		s.t.Fatal(err)
	}
	return resp
}

// job reads a job by its API path.
func (s *server) job(path string) service.Job {
	s.t.Helper()
	code, body := s.do("GET", path, testKey, nil)
	if code != 200 {
		s.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	var j service.Job
	if err := json.Unmarshal(body, &j); err != nil {
		s.t.Fatal(err)
	}
	return j
}

// waitJob polls path until the job is final (or fails the test after
// timeout); it returns the job and every state seen.
func (s *server) waitJob(path string, timeout time.Duration) (service.Job, []service.State) {
	s.t.Helper()
	var seen []service.State
	deadline := time.Now().Add(timeout)
	for {
		j := s.job(path)
		if len(seen) == 0 || seen[len(seen)-1] != j.State {
			seen = append(seen, j.State)
		}
		if j.State.Final() {
			return j, seen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s still %s after %v (states %v): %+v", path, j.State, timeout, seen, j)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// list reads a list endpoint.
func (s *server) list(path string) []service.Job {
	s.t.Helper()
	code, body := s.do("GET", path, testKey, nil)
	if code != 200 {
		s.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	var l service.JobList
	if err := json.Unmarshal(body, &l); err != nil {
		s.t.Fatal(err)
	}
	return l.Jobs
}
