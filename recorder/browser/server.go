package browser

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// pageFiles are the bridge page's files; page/sdk holds the room SDK
// bundles that scripts/fetch-js.sh copies from recorder/browser/js's
// pinned npm packages (they are not committed).
//
//go:embed page
var pageFiles embed.FS

// sdkBundle reports whether the SDK bundle name was built in.
func sdkBundle(name string) error {
	if _, err := fs.Stat(pageFiles, "page/sdk/"+name); err != nil {
		return fmt.Errorf("%w: page/sdk/%s (run scripts/fetch-js.sh, then rebuild)", ErrSDKMissing, name)
	}
	return nil
}

// maxMessage bounds one WebSocket message: a frame of a 4K keyframe
// stays well under it.
const maxMessage = 8 << 20

// server serves the page and its sockets on 127.0.0.1 for one Record
// call. Each browser launch is an instance with its own secret: requests
// under another secret (an earlier, killed browser) get 404.
type server struct {
	ln   net.Listener
	srv  *http.Server
	log  *slog.Logger
	page fs.FS
	cur  atomic.Pointer[instance]
	wg   sync.WaitGroup // socket readers
}

// instance is one launch's view of the server. Its events channel is read
// by Record's owner goroutine; readers stop sending once done is closed.
type instance struct {
	secret string
	config []byte // config.json
	events chan any
	done   chan struct{}

	mu    sync.Mutex // guards conns
	conns []*websocket.Conn
}

// socketEvent says that the page's control socket connected; the owner
// goroutine writes commands to it from then on.
type socketEvent struct{ conn *websocket.Conn }

// closedEvent says that a socket of the page closed.
type closedEvent struct {
	control bool
	err     error
}

func newServer(log *slog.Logger) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%w: listen on 127.0.0.1: %w", ErrBrowser, err)
	}
	page, err := fs.Sub(pageFiles, "page")
	if err != nil {
		return nil, errors.Join(err, ln.Close())
	}
	s := &server{ln: ln, log: log, page: page}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("bridge server", "err", err)
		}
	}()
	return s, nil
}

// origin is the page's origin.
func (s *server) origin() string { return "http://" + s.ln.Addr().String() }

// start makes a new instance current and returns the page URL.
func (s *server) start(config []byte) (*instance, string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, "", err
	}
	in := &instance{
		secret: base64.RawURLEncoding.EncodeToString(b),
		config: config,
		events: make(chan any, 1024),
		done:   make(chan struct{}),
	}
	if old := s.cur.Swap(in); old != nil {
		old.stop()
	}
	return in, s.origin() + "/s/" + in.secret + "/", nil
}

// stop ends the instance: its sockets close and its readers stop.
func (in *instance) stop() {
	in.mu.Lock()
	defer in.mu.Unlock()
	select {
	case <-in.done:
		return
	default:
	}
	close(in.done)
	for _, c := range in.conns {
		_ = c.Close()
	}
}

// send delivers an event to the owner unless the instance stopped.
func (in *instance) send(ev any) bool {
	select {
	case in.events <- ev:
		return true
	case <-in.done:
		return false
	}
}

// close stops the server and waits for its socket readers.
func (s *server) close() {
	if in := s.cur.Swap(nil); in != nil {
		in.stop()
	}
	_ = s.srv.Close()
	s.wg.Wait()
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/s/")
	in := s.cur.Load()
	secret, file, _ := strings.Cut(rest, "/")
	if !ok || in == nil || subtle.ConstantTimeCompare([]byte(secret), []byte(in.secret)) != 1 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch file {
	case "config.json":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(in.config)
	case "control", "frames":
		s.serveSocket(w, r, in, file == "control")
	default:
		s.serveFile(w, r, file)
	}
}

// contentTypes are the types of the page's files.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
}

// serveFile serves one of the page's files ("" is index.html).
func (s *server) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	if name == "" {
		name = "index.html"
	}
	ct, ok := contentTypes[path.Ext(name)]
	b, err := fs.ReadFile(s.page, name)
	if !ok || err != nil || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(b)
}

// serveSocket upgrades a page socket and reads it until it or the
// instance closes.
func (s *server) serveSocket(w http.ResponseWriter, r *http.Request, in *instance, isControl bool) {
	up := websocket.Upgrader{
		CheckOrigin:     func(r *http.Request) bool { return r.Header.Get("Origin") == s.origin() },
		ReadBufferSize:  64 << 10,
		WriteBufferSize: 4 << 10,
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.log.Warn("page socket refused", "err", err)
		return
	}
	conn.SetReadLimit(maxMessage)
	s.log.Debug("page socket connected", "control", isControl)
	in.mu.Lock()
	select {
	case <-in.done:
		in.mu.Unlock()
		_ = conn.Close()
		return
	default:
	}
	in.conns = append(in.conns, conn)
	s.wg.Add(1)
	in.mu.Unlock()
	defer s.wg.Done()
	if isControl && !in.send(socketEvent{conn}) {
		return
	}
	for {
		typ, b, err := conn.ReadMessage()
		if err != nil {
			in.send(closedEvent{control: isControl, err: err})
			return
		}
		var ev any
		switch {
		case typ == websocket.BinaryMessage && !isControl:
			f, err := parseFrame(b)
			if err != nil {
				s.log.Warn("bad frame message", "err", err)
				continue
			}
			ev = f
		case typ == websocket.TextMessage && isControl:
			var c control
			if err := json.Unmarshal(b, &c); err != nil {
				s.log.Warn("bad control message", "err", err)
				continue
			}
			ev = c
		default:
			continue
		}
		if !in.send(ev) {
			return
		}
	}
}
