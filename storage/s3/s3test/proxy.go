package s3test

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// Proxy is a reverse proxy on 127.0.0.1 in front of a Server that breaks
// the connections of chosen requests, as a flaky network would. Clients
// use Proxy.Endpoint instead of Server.Endpoint; request signatures stay
// valid because the Host header is passed through.
type Proxy struct {
	// Endpoint is the proxy's base URL.
	Endpoint string

	mu     sync.Mutex
	faults []*Fault
}

// Fault breaks the connection of the next Times requests that Match.
type Fault struct {
	// Match selects the requests to break.
	Match func(*http.Request) bool
	// Times is how many matching requests break.
	Times int
	// AfterServer forwards the request to the server and loses its
	// response (the server acted, the client does not know); otherwise
	// the request is dropped before reaching the server.
	AfterServer bool
	// Status and Body, when Status is set, answer the request in place of
	// the server (after forwarding it with AfterServer), as another S3
	// implementation would, instead of breaking the connection.
	Status int
	Body   string

	hits int
}

// Hits returns how many requests the fault broke.
func (p *Proxy) Hits(f *Fault) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return f.hits
}

// Proxy starts a Proxy in front of s for the duration of the test.
func (s *Server) Proxy(tb testing.TB) *Proxy {
	tb.Helper()
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	p := &Proxy{Endpoint: "http://" + ln.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(target) // Keeps the Host header.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := p.take(r)
		if f == nil {
			rp.ServeHTTP(w, r)
			return
		}
		if f.AfterServer {
			rp.ServeHTTP(discard{header: http.Header{}}, r)
		}
		if f.Status == 0 {
			breakConn(w)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
	})}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	return p
}

// Inject adds a fault.
func (p *Proxy) Inject(f *Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
}

// take returns the fault that breaks r, if any, and counts it.
func (p *Proxy) take(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if f.hits < f.Times && f.Match(r) {
			f.hits++
			return f
		}
	}
	return nil
}

// breakConn closes the client's connection without a response.
func breakConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
		}
	}
}

// discard is a ResponseWriter that drops the response.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}
