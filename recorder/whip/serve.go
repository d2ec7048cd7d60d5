package whip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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

// Serve serves h on ln at path "/whip" (and its resources under "/whip/")
// until ctx ends, then shuts the server down and closes h.
func Serve(ctx context.Context, ln net.Listener, h *Handler) error {
	mux := http.NewServeMux()
	mux.Handle("/whip", h)
	mux.Handle("/whip/", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
