// Package rtmptest runs a real RTMP server for tests: Debian's nginx with
// libnginx-mod-rtmp on 127.0.0.1, with its own configuration in a
// temporary directory, recording every published stream as FLV.
package rtmptest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Where Debian installs them (scripts/setup.sh, SETUP_FOR=tests).
const (
	NginxPath  = "/usr/sbin/nginx"
	ModulePath = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
)

// App is the RTMP application the server runs.
const App = "live"

// startTimeout bounds the wait for nginx to listen.
const startTimeout = 10 * time.Second

// Server is one nginx-rtmp on 127.0.0.1. Its methods are for the test's
// goroutine; mu guards cmd (Kill may race the cleanup).
type Server struct {
	// Port is the RTMP port on 127.0.0.1.
	Port int
	// RecordDir holds the FLV recordings, one per publication
	// (KEY-UNIXTIME.flv).
	RecordDir string
	dir       string
	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{} // closed once cmd has been waited for
	log       bytes.Buffer
}

// Missing says why nginx-rtmp cannot run here, or "" when it can.
func Missing() string {
	for _, p := range []string{NginxPath, ModulePath} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Sprintf("%s missing (apt-get install nginx-core libnginx-mod-rtmp; scripts/setup.sh does it)", p)
		}
	}
	return ""
}

// Start starts a server on a free port; it fails the test when nginx or
// its RTMP module is missing. It is stopped at the end of the test.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if why := Missing(); why != "" {
		tb.Fatalf("rtmptest: %s", why)
	}
	s := &Server{dir: tb.TempDir()}
	s.RecordDir = filepath.Join(s.dir, "rec")
	if err := os.MkdirAll(s.RecordDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Kill)
	var err error
	for range 5 { // the free port may be taken in between
		if s.Port, err = freePort(); err != nil {
			tb.Fatal(err)
		}
		if err = s.start(); err == nil {
			return s
		}
	}
	tb.Fatalf("rtmptest: %v\n%s", err, s.log.String())
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

func (s *Server) conf() string {
	return fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
load_module %[2]s;
events { worker_connections 64; }
rtmp {
	server {
		listen 127.0.0.1:%[3]d;
		chunk_size 4096;
		application %[4]s {
			live on;
			record all;
			record_path %[5]s;
			record_unique on;
		}
	}
}
`, s.dir, ModulePath, s.Port, App, s.RecordDir)
}

// start runs nginx and waits until it accepts connections.
func (s *Server) start() error {
	conf := filepath.Join(s.dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(s.conf()), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(NginxPath, "-p", s.dir, "-e", filepath.Join(s.dir, "error.log"), "-c", conf)
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
			return fmt.Errorf("nginx exited: %w: %s", waitErr, b)
		default:
		}
		c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			s.mu.Lock()
			s.cmd, s.exited = cmd, exited
			s.mu.Unlock()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return errors.New("nginx did not listen within " + startTimeout.String())
}

func (s *Server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is the publishing URL of stream key.
func (s *Server) URL(key string) string {
	return "rtmp://" + s.addr() + "/" + App + "/" + key
}

// Kill stops the server with SIGKILL (as a crash would); idempotent.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart starts the server again on the same port after Kill.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	var err error
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) { // the port may linger a moment
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	tb.Fatalf("rtmptest: restart: %v", err)
}

// Recordings returns the FLV files recorded so far, oldest first.
func (s *Server) Recordings() []string {
	files, _ := filepath.Glob(filepath.Join(s.RecordDir, "*.flv"))
	return files
}
