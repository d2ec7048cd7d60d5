package whip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultAddr is where ListenAndServe listens when addr is empty.
const DefaultAddr = "127.0.0.1:8080"

// shutdownTimeout bounds the graceful shutdown of ListenAndServe.
const shutdownTimeout = 5 * time.Second

// Listen listens on addr, on 127.0.0.1 when addr has no host (":8080") and
// on DefaultAddr when addr is empty.
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("whip: listen address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("whip: listen: %w", err)
	}
	return ln, nil
}

// ListenAndServe serves h on addr (see [Listen]) at path "/whip" until ctx
// ends, then shuts the server down and closes h.
func ListenAndServe(ctx context.Context, addr string, h *Handler) error {
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, h)
}

// Serve serves h on ln at path "/whip" (and its resources at
// "/whip/r-...", nothing else) until ctx ends, then shuts the server down
// and closes h. It refuses, with an error wrapping ErrConfig, to serve a
// handler without authentication (Config.Token, RequireToken,
// Authenticate or an issued token) on a non-loopback address, or a
// handler whose configuration is bad. The server applies h's Limits:
// MaxConns open connections (more are closed at once) and the
// ReadHeader/Read/Write/Idle timeouts.
func Serve(ctx context.Context, ln net.Listener, h *Handler) error {
	if err := h.checkServe(ln.Addr()); err != nil {
		return errors.Join(err, ln.Close(), h.Close(context.WithoutCancel(ctx)))
	}
	mux := http.NewServeMux()
	mux.Handle("/whip", h)
	mux.HandleFunc("/whip/{resource}", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := resourceID(r.URL.Path); !ok {
			http.Error(w, fmt.Sprintf("whip: no resource %q; POST offers to /whip", truncate(r.PathValue("resource"), 100)), http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("whip: no route %q; the WHIP endpoint is /whip", truncate(r.URL.Path, 100)), http.StatusNotFound)
	})
	lim := h.lim
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(newLimitListener(ln, lim.MaxConns)) }()
	select {
	case err := <-errc:
		return errors.Join(fmt.Errorf("whip: serve: %w", err), h.Close(context.WithoutCancel(ctx)))
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := errors.Join(srv.Shutdown(sctx), h.Close(sctx))
	if errors.Is(<-errc, http.ErrServerClosed) && err == nil {
		return nil
	}
	return err
}

// maxHeaderBytes bounds a request's headers (a WHIP request has a few).
const maxHeaderBytes = 16 << 10

// checkServe refuses a bad configuration, and an unauthenticated handler
// on an address other hosts can reach.
func (h *Handler) checkServe(addr net.Addr) error {
	if h.err != nil {
		return h.err
	}
	ta, ok := addr.(*net.TCPAddr)
	if ok && ta.IP.IsLoopback() {
		return nil
	}
	if !h.authenticated() {
		return fmt.Errorf("%w: %s is not a loopback address: set Config.Token (the bot's WHIP_TOKEN), RequireToken or Authenticate", ErrConfig, addr)
	}
	return nil
}

// limitListener closes the connections accepted beyond max open ones
// right away (instead of queueing them), so that idle or slow clients
// cannot hold more.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func newLimitListener(ln net.Listener, maxConns int) net.Listener {
	if maxConns >= unlimited {
		return ln
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, maxConns)}
}

// Accept returns the next connection within the limit.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
			_ = c.Close()
		}
	}
}

// limitConn gives its place back once, on the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and frees its place.
func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
