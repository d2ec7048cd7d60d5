package compose

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// tlsRelay carries one RTMP connection of FFmpeg's (whose build here has
// no TLS library) over TLS dialled in Go: FFmpeg connects to the relay's
// loopback port, the relay to the target. Owned by the rtmpSink that
// started it; its goroutine ends at close, which closes both connections.
type tlsRelay struct {
	ln     net.Listener
	mu     sync.Mutex
	conn   []net.Conn // guarded by mu
	closed bool       // guarded by mu
	done   chan struct{}
	err    error // why the relay ended, read after done
}

// defaultRTMPSPort is the port of an rtmps:// URL without one.
const defaultRTMPSPort = "443"

// rtmpsLocal rewrites an rtmps:// target for FFmpeg: the rtmp:// URL of
// the relay at addr and the tcUrl the server must see.
func rtmpsLocal(target *url.URL, addr string) (local, tcURL string) {
	l := *target
	l.Scheme, l.Host = "rtmp", addr
	app, _, _ := strings.Cut(strings.TrimPrefix(target.Path, "/"), "/")
	return l.String(), "rtmps://" + target.Host + "/" + app
}

// startTLSRelay listens on 127.0.0.1 and, for the first connection,
// dials host (host:port) over TLS with cfg (nil: the system's roots).
func startTLSRelay(host string, cfg *tls.Config) (*tlsRelay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &tlsRelay{ln: ln, done: make(chan struct{})}
	c := &tls.Config{}
	if cfg != nil {
		c = cfg.Clone()
	}
	if c.ServerName == "" {
		c.ServerName, _, _ = net.SplitHostPort(host)
	}
	go func() {
		defer close(r.done)
		r.err = r.serve(host, c)
	}()
	return r, nil
}

func (r *tlsRelay) serve(host string, cfg *tls.Config) error {
	local, err := r.ln.Accept()
	_ = r.ln.Close()
	if err != nil {
		return err
	}
	if !r.track(local) {
		return errors.New("relay closed")
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: streamStall}, Config: cfg}
	remote, err := d.Dial("tcp", host)
	if err != nil {
		_ = local.Close()
		return fmt.Errorf("TLS: %w", err)
	}
	if !r.track(remote) {
		return errors.New("relay closed")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(remote, local)
		_ = remote.Close()
	}()
	_, _ = io.Copy(local, remote)
	_ = local.Close()
	wg.Wait()
	return nil
}

// track registers c for close; false when the relay is closed already.
func (r *tlsRelay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		_ = c.Close()
		return false
	}
	r.conn = append(r.conn, c)
	return true
}

func (r *tlsRelay) addr() string { return r.ln.Addr().String() }

// close ends the relay and waits for its goroutine. Graceful, it first
// lets the relay forward what FFmpeg wrote before it closed its side (up
// to streamStall); then, or otherwise, it closes both connections, which
// unblocks the goroutine.
func (r *tlsRelay) close(graceful bool) {
	if graceful {
		select {
		case <-r.done:
		case <-time.After(streamStall):
		}
	}
	r.mu.Lock()
	r.closed = true
	_ = r.ln.Close()
	for _, c := range r.conn {
		_ = c.Close()
	}
	r.mu.Unlock()
	select {
	case <-r.done:
	case <-time.After(streamStall):
	}
}
