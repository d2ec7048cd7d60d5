// Package rtmptest runs a real RTMP server for tests: Debian's nginx with
// libnginx-mod-rtmp on 127.0.0.1, with its own configuration in a
// temporary directory, recording every published stream as FLV.
package rtmptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
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
	// TLSPort (StartTLS) is a TLS port on 127.0.0.1 in front of Port
	// (nginx's stream module), for rtmps://; Roots trusts its
	// certificate (127.0.0.1, self-signed).
	TLSPort int
	Roots   *x509.CertPool
	// CertFile (StartTLS) is that certificate in PEM, for a process that
	// takes its roots from SSL_CERT_FILE.
	CertFile string
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
	return start(tb, false)
}

// StartTLS is Start with a TLS port in front of the RTMP one.
func StartTLS(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, true)
}

func start(tb testing.TB, withTLS bool) *Server {
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
	if withTLS {
		if err := s.writeCert(); err != nil {
			tb.Fatal(err)
		}
	}
	var err error
	for range 5 { // the free port may be taken in between
		if s.Port, err = freePort(); err != nil {
			tb.Fatal(err)
		}
		if withTLS {
			if s.TLSPort, err = freePort(); err != nil {
				tb.Fatal(err)
			}
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

// StreamModulePath is nginx's stream module (TLS in front of RTMP).
const StreamModulePath = "/usr/lib/nginx/modules/ngx_stream_module.so"

func (s *Server) conf() string {
	tlsLoad, tlsConf := "", ""
	if s.TLSPort != 0 {
		tlsLoad = "load_module " + StreamModulePath + ";\n"
		tlsConf = fmt.Sprintf(`stream {
	server {
		listen 127.0.0.1:%[1]d ssl;
		ssl_certificate %[2]s/cert.pem;
		ssl_certificate_key %[2]s/key.pem;
		proxy_pass 127.0.0.1:%[3]d;
	}
}
`, s.TLSPort, s.dir, s.Port)
	}
	return tlsLoad + fmt.Sprintf(`daemon off;
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
`, s.dir, ModulePath, s.Port, App, s.RecordDir) + tlsConf
}

// writeCert writes a self-signed certificate for 127.0.0.1 and trusts it
// in Roots.
func (s *Server) writeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rtmptest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	s.Roots = x509.NewCertPool()
	s.Roots.AddCert(cert)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	s.CertFile = filepath.Join(s.dir, "cert.pem")
	if err := os.WriteFile(s.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// TLSURL is the rtmps:// publishing URL of stream key (StartTLS).
func (s *Server) TLSURL(key string) string {
	return "rtmps://127.0.0.1:" + strconv.Itoa(s.TLSPort) + "/" + App + "/" + key
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

// Restart starts the server again on the same port after Kill. It may
// run on any goroutine.
func (s *Server) Restart() error {
	var err error
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) { // the port may linger a moment
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("rtmptest: restart: %w", err)
}

// Recordings returns the FLV files recorded so far, oldest first.
func (s *Server) Recordings() []string {
	files, _ := filepath.Glob(filepath.Join(s.RecordDir, "*.flv"))
	return files
}

// Staller is a TCP relay in front of a Server whose Freeze stops reading
// what the publisher sends, as a congested link or an overloaded server
// does: the relay's receive buffer is small, so the publisher's writes
// block within a fraction of a second (a frozen nginx, behind the
// kernels' large default buffers, would absorb many seconds). Its
// goroutines end when the test does.
type Staller struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	frozen bool
	thawed chan struct{} // closed at Thaw; replaced at Freeze
	conns  []net.Conn
}

// stallerBuffer is the relay's socket receive buffer.
const stallerBuffer = 4 << 10

// Staller starts a relay to s on 127.0.0.1.
func (s *Server) Staller(tb testing.TB) *Staller {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Staller{ln: ln, target: s.addr(), thawed: make(chan struct{})}
	close(p.thawed)
	var wg sync.WaitGroup
	tb.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		if p.frozen {
			close(p.thawed)
			p.frozen = false
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(stallerBuffer)
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			wg.Add(2)
			go func() {
				defer wg.Done()
				p.relay(up, c)
			}()
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, up)
				_ = c.Close()
			}()
		}
	}()
	return p
}

// relay copies from the publisher to the server, waiting while frozen.
func (p *Staller) relay(dst, src net.Conn) {
	defer func() { _ = dst.Close() }()
	buf := make([]byte, stallerBuffer)
	for {
		p.mu.Lock()
		thawed := p.thawed
		p.mu.Unlock()
		<-thawed
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// URL is the publishing URL of stream key through the relay.
func (p *Staller) URL(key string) string {
	return "rtmp://" + p.ln.Addr().String() + "/" + App + "/" + key
}

// Freeze stops reading from publishers (existing and new connections).
func (p *Staller) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen, p.thawed = true, make(chan struct{})
	}
}

// Thaw resumes reading.
func (p *Staller) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thawed)
	}
}
