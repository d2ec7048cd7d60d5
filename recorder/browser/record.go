package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/internal/codec/red"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// ScreenSuffix and ScreenNameSuffix make the participant ID and name under
// which a participant's screen share is recorded, as recorder/livekit
// does, so that a composer shows the share as a tile of its own.
const (
	ScreenSuffix     = manifest.ScreenSuffix
	ScreenNameSuffix = manifest.ScreenNameSuffix
)

// Record joins cfg.Room through a managed headless Chromium and records
// every remote participant's audio and video into s, as received, until
// the room ends the bot's participation normally (the meeting ended, the
// bot was removed or ejected, its token expired) or ctx is cancelled; it
// returns nil in those cases. A crashed or hung browser is restarted (up
// to Config.MaxRestarts times): the tracks it was recording stop there
// and start again in new files once the new page has rejoined, so the
// outage is a gap in the recording while presence is kept. It returns an
// error wrapping ErrBadConfig, ErrSDKMissing, ErrBrowser, ErrJoin (the
// first join failed) or ErrDisconnected.
//
// Before returning, Record stops the tracks it recorded, makes every
// participant it joined leave s and kills the browser; it does not close
// s.
func Record(ctx context.Context, s *recorder.Session, cfg Config) error {
	if s == nil {
		return fmt.Errorf("%w: nil session", ErrBadConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	adapter, bundle, settings := cfg.Room.page()
	if err := sdkBundle(bundle); err != nil {
		return err
	}
	settings["sdk"], settings["bundle"], settings["passThrough"] = adapter, bundle, !cfg.NoDecode
	pageConfig, err := json.Marshal(settings)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	log := cfg.Logger.With("room", cfg.Room.String())
	srv, err := newServer(log)
	if err != nil {
		return err
	}
	defer srv.close()
	b := &bridge{s: s, cfg: cfg, log: log, entries: map[string]*entry{}, taps: map[uint32]*tap{}}
	defer b.finish()

	for launch := 0; ; launch++ {
		end := b.run(ctx, srv, pageConfig, launch)
		b.gap(end)
		switch end.kind {
		case endStopped:
			log.Info("recording stopped", "reason", context.Cause(ctx))
			return nil
		case endClean:
			log.Info("recording ended", "reason", end.reason)
			return nil
		case endFailed:
			return end.err
		}
		if launch >= cfg.MaxRestarts {
			return fmt.Errorf("%w: gave up after %d restarts: %s", ErrBrowser, launch, end.reason)
		}
		log.Warn("browser failed, restarting", "reason", end.reason, "restart", launch+1)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(restartDelay(launch)):
		}
	}
}

// restartDelay is the pause before restart n+1: 0.5 s, 1 s, 2 s ... 8 s.
func restartDelay(n int) time.Duration {
	return min(500*time.Millisecond<<min(n, 4), 8*time.Second)
}

// endKind says how one browser launch ended.
type endKind int

const (
	// endStopped: ctx was cancelled.
	endStopped endKind = iota + 1
	// endClean: the room ended the bot's participation normally.
	endClean
	// endFailed: an error that a restart would not cure.
	endFailed
	// endCrashed: the browser crashed, hung or lost its page.
	endCrashed
)

type runEnd struct {
	kind   endKind
	reason string
	err    error
}

// bridge is the state of one Record call. It is owned by Record's
// goroutine (run and what it calls); the server's socket readers only
// hand it events through the current instance's channel.
type bridge struct {
	s   *recorder.Session
	cfg Config
	log *slog.Logger

	ctl          *websocket.Conn // the current page's control socket
	reconnecting bool
	entries      map[string]*entry // by recorder participant ID
	taps         map[uint32]*tap   // by the current page's tap key
}

// entry is one recorder participant: a room participant, or the screen
// share of one.
type entry struct {
	id, name string
	base     string // the room participant's ID
	screen   bool
	p        *recorder.Participant
	present  bool
}

// tap is one tapped receiver of the current page.
type tap struct {
	key    uint32
	entry  *entry
	id     string // the SDK's track ID
	source string // the SDK's source name
	video  bool
	width  int // announced size, if any
	height int

	track   *recorder.Track // nil until the first frame tells the codec
	codec   recorder.Codec
	clock   *trackClock
	keyReq  time.Time // last keyframe request
	dropped uint64    // frames dropped before a keyframe at the last check
	layerW  int       // size last asked for
	layerH  int
	bad     bool // unknown codec: logged once
}

// Heartbeat and keyframe pacing.
const (
	// checkInterval is how often the owner checks the heartbeat.
	checkInterval = time.Second
	// keyframeInterval spaces the bot's keyframe requests for a track
	// that waits for its first keyframe.
	keyframeInterval = time.Second
	// writeTimeout bounds writing a command to the page.
	writeTimeout = 2 * time.Second
)

// run starts one browser with the page, processes its events and returns
// how it ended. launch counts from 0.
func (b *bridge) run(ctx context.Context, srv *server, pageConfig []byte, launch int) runEnd {
	in, pageURL, err := srv.start(pageConfig)
	if err != nil {
		return runEnd{kind: endFailed, err: fmt.Errorf("%w: %w", ErrBrowser, err)}
	}
	defer in.stop()
	started := time.Now()
	chrome, err := launchChromium(ctx, b.cfg.Chromium, pageURL, b.log)
	if err != nil {
		if ctx.Err() != nil {
			return runEnd{kind: endStopped}
		}
		if launch == 0 {
			return runEnd{kind: endFailed, err: err}
		}
		return runEnd{kind: endCrashed, reason: err.Error()}
	}
	defer chrome.close()
	b.log.Info("browser started", "pid", chrome.pid, "launch", launch, "took", time.Since(started).Round(time.Millisecond))
	if b.cfg.OnBrowser != nil {
		b.cfg.OnBrowser(chrome.pid)
	}
	if b.cfg.onPage != nil {
		go b.cfg.onPage(chrome.ctx)
	}
	b.ctl = nil
	defer func() { b.ctl = nil }()
	b.reconnecting = false

	joinTimer := time.NewTimer(b.cfg.JoinTimeout)
	defer joinTimer.Stop()
	check := time.NewTicker(checkInterval)
	defer check.Stop()
	joined := false
	lastBeat := time.Now()
	failJoin := func(reason string) runEnd {
		if launch == 0 {
			return runEnd{kind: endFailed, err: fmt.Errorf("%w %s: %s", ErrJoin, b.cfg.Room, reason)}
		}
		return runEnd{kind: endCrashed, reason: "rejoin failed: " + reason}
	}
	for {
		select {
		case <-ctx.Done():
			b.leaveRoom(in, chrome)
			return runEnd{kind: endStopped}
		case <-chrome.gone():
			return runEnd{kind: endCrashed, reason: "browser gone: " + chrome.errGone().Error()}
		case <-chrome.detached:
			return runEnd{kind: endCrashed, reason: "tab detached"}
		case <-chrome.crashed:
			return runEnd{kind: endCrashed, reason: "page crashed"}
		case <-joinTimer.C:
			if !joined {
				return failJoin(fmt.Sprintf("not joined after %v", b.cfg.JoinTimeout))
			}
		case <-check.C:
			if d := time.Since(lastBeat); d > b.cfg.HeartbeatTimeout {
				return runEnd{kind: endCrashed, reason: fmt.Sprintf("page silent for %v (hung)", d.Round(time.Second))}
			}
		case ev := <-in.events:
			switch ev := ev.(type) {
			case socketEvent:
				b.ctl = ev.conn
			case closedEvent:
				if ev.control {
					return runEnd{kind: endCrashed, reason: fmt.Sprintf("page socket closed: %v", ev.err)}
				}
			case frameMsg:
				b.frame(ev)
			case control:
				lastBeat = time.Now()
				if ev.T != "ping" {
					b.log.Debug("page message", "t", ev.T, "id", ev.ID, "participant", ev.Participant, "key", ev.Key, "source", ev.Source, "msg", ev.Msg, "reason", ev.Reason)
				}
				switch ev.T {
				case "joined":
					joined = true
					b.log.Info("joined room", "room", ev.Room, "launch", launch)
					if b.cfg.OnJoined != nil {
						b.cfg.OnJoined()
					}
				case "fatal":
					if !joined {
						return failJoin(ev.Msg)
					}
					return runEnd{kind: endCrashed, reason: "page failed: " + ev.Msg}
				case "ended":
					if ev.Clean {
						return runEnd{kind: endClean, reason: ev.Reason}
					}
					return runEnd{kind: endFailed, err: fmt.Errorf("%w %s: %s", ErrDisconnected, b.cfg.Room, ev.Reason)}
				default:
					b.control(ev)
				}
			}
		}
	}
}

// leaveRoom asks the page to leave the room and waits for it to say so,
// for at most Config.LeaveTimeout.
func (b *bridge) leaveRoom(in *instance, chrome *chromium) {
	if b.ctl == nil {
		return
	}
	b.command(command{T: "leave"})
	t := time.NewTimer(b.cfg.LeaveTimeout)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.log.Warn("leaving the room timed out", "timeout", b.cfg.LeaveTimeout)
			return
		case <-chrome.gone():
			return
		case ev := <-in.events:
			if c, ok := ev.(control); ok && c.T == "ended" {
				b.log.Info("left the room")
				return
			}
		}
	}
}

// command sends a command to the page; failures are logged (the
// heartbeat notices a dead page).
func (b *bridge) command(c command) {
	if b.ctl == nil {
		return
	}
	_ = b.ctl.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := b.ctl.WriteJSON(c); err != nil {
		b.log.Warn("command to the page failed", "command", c.T, "err", err)
	}
}

// control handles the page's messages about the room.
func (b *bridge) control(c control) {
	switch c.T {
	case "ping":
	case "hello":
		if !c.Transform {
			b.log.Error("browser cannot tap encoded frames: nothing will be recorded", "err", ErrUntappable, "sdk", c.SDK)
		}
	case "participant":
		if c.Present {
			b.join(c.ID, c.Name, false)
		} else if !b.reconnecting {
			b.leave(c.ID)
		}
		b.updateLayers()
	case "roster":
		b.reconcile(c.IDs)
		b.updateLayers()
	case "track":
		b.startTap(c)
		b.updateLayers()
	case "track-end":
		b.endTap(c.Key)
		b.updateLayers()
	case "untappable":
		b.log.Error("track cannot be tapped", "err", ErrUntappable, "participant", c.Participant, "track", c.ID, "source", c.Source, "reason", c.Reason)
	case "mute":
		b.log.Info("track mute", "participant", c.Participant, "track", c.ID, "muted", c.Muted)
	case "published", "unpublished":
		b.log.Debug("track "+c.T, "participant", c.Participant, "track", c.ID, "source", c.Source)
	case "reconnecting":
		b.reconnecting = true
		b.log.Warn("room connection lost, the SDK reconnects", "what", c.What)
	case "reconnected":
		b.reconnecting = false
		b.log.Info("room connection back", "what", c.What)
	case "layer-set":
		b.log.Debug("simulcast layer set", "participant", c.Participant, "source", c.Source, "layer", c.Layer)
	case "log":
		lvl := slog.LevelInfo
		_ = lvl.UnmarshalText([]byte(c.Level))
		b.log.Log(context.Background(), lvl, "page: "+c.Msg, "error", c.Error, "dropped", c.Dropped)
	default:
		b.log.Debug("unknown page message", "t", c.T)
	}
}

// isScreenSource reports whether an SDK source name is a screen share.
func isScreenSource(src string) bool {
	return src == "screen_share" || src == "screen_share_audio"
}

// join makes the entry of participant id (or of its screen share)
// present; nil if the session refuses.
func (b *bridge) join(id, name string, screen bool) *entry {
	eid, ename := recorder.RoomParticipant(id, name, screen)
	e := b.entries[eid]
	if e == nil {
		e = &entry{id: eid, base: id, screen: screen}
		b.entries[eid] = e
	}
	if e.present {
		return e
	}
	p := recorder.JoinLogged(b.s, b.log, eid, ename)
	if p == nil {
		return nil
	}
	e.p, e.name, e.present = p, ename, true
	return e
}

// leave makes a room participant and its screen share leave.
func (b *bridge) leave(id string) {
	b.leaveEntry(b.entries[id])
	b.leaveEntry(b.entries[id+ScreenSuffix])
}

// leaveEntry stops e's taps and makes it leave the session.
func (b *bridge) leaveEntry(e *entry) {
	if e == nil || !e.present {
		return
	}
	for k, t := range b.taps {
		if t.entry == e {
			b.stopTrack(t)
			delete(b.taps, k)
		}
	}
	e.present = false
	if err := e.p.Leave(); err != nil {
		b.log.Warn("leave session", "participant", e.id, "err", err)
	}
	b.log.Info("participant left", "participant", e.id)
}

// reconcile leaves everyone not in the page's roster (after a rejoin or
// reconnection).
func (b *bridge) reconcile(ids []string) {
	in := map[string]bool{}
	for _, id := range ids {
		in[id] = true
	}
	for _, e := range b.entries {
		if e.present && !in[e.base] {
			b.leaveEntry(e)
		}
	}
}

// startTap registers a tapped receiver; its recorder track starts with
// the first frame, which tells the codec.
func (b *bridge) startTap(c control) {
	screen := isScreenSource(c.Source)
	b.join(c.Participant, c.Name, false)
	e := b.join(c.Participant, c.Name, screen)
	if e == nil {
		return
	}
	if old := b.taps[c.Key]; old != nil {
		b.stopTrack(old)
	}
	b.taps[c.Key] = &tap{key: c.Key, entry: e, id: c.ID, source: c.Source, video: c.Kind == "video", width: c.Width, height: c.Height}
	b.log.Info("tapping track", "participant", e.id, "track", c.ID, "kind", c.Kind, "source", c.Source, "key", c.Key)
}

// endTap stops a tap; the screen entry leaves with its last screen tap.
func (b *bridge) endTap(key uint32) {
	t := b.taps[key]
	if t == nil {
		return
	}
	delete(b.taps, key)
	b.stopTrack(t)
	if !t.entry.screen {
		return
	}
	for _, o := range b.taps {
		if o.entry == t.entry {
			return
		}
	}
	b.leaveEntry(t.entry)
}

// stopTrack finishes a tap's recorder track.
func (b *bridge) stopTrack(t *tap) {
	if t.track == nil {
		return
	}
	st := t.track.Stats()
	if err := t.track.Stop(); err != nil {
		b.log.Warn("stop track", "participant", t.entry.id, "track", t.id, "err", err)
	}
	b.log.Info("track stopped", "participant", t.entry.id, "track", t.id, "frames", st.Frames, "bytes", st.Bytes,
		"dropped_order", st.DroppedOutOfOrder, "dropped_before_key", st.DroppedBeforeKeyframe)
	t.track = nil
}

// recorderSource is the recorder source of a tap: a screen share is
// recorded as the camera and microphone of its own entry.
func (t *tap) recorderSource() recorder.Source {
	if t.video {
		return recorder.Camera
	}
	return recorder.Microphone
}

// frame writes one shipped frame to its tap's track.
func (b *bridge) frame(f frameMsg) {
	t := b.taps[f.key]
	if t == nil || !t.entry.present || len(f.payload) == 0 {
		return
	}
	codec, ok := wireCodecs[f.codec]
	if !ok || (codec.Kind() == recorder.Video) != t.video {
		if !t.bad {
			t.bad = true
			b.log.Error("track cannot be tapped: codec not recordable", "err", ErrUntappable, "participant", t.entry.id, "track", t.id, "codec_id", f.codec)
		}
		return
	}
	payload := f.payload
	if f.codec == codecRED {
		p, _, err := red.Primary(payload)
		if err != nil || len(p) == 0 {
			return
		}
		payload = p
	}
	if t.track != nil && t.codec != codec {
		b.log.Info("codec changed: new file", "participant", t.entry.id, "track", t.id, "from", t.codec, "to", codec)
		b.stopTrack(t)
	}
	if t.track == nil {
		tr, err := t.entry.p.AddTrack(recorder.TrackInfo{
			ID: t.id, Codec: codec, Source: t.recorderSource(), Width: t.width, Height: t.height,
		})
		if err != nil {
			b.log.Error("add track", "participant", t.entry.id, "track", t.id, "err", err)
			return
		}
		t.track, t.codec = tr, codec
		t.clock = newTrackClock(tr.Info().ClockRate)
		b.log.Info("recording track", "participant", t.entry.id, "track", t.id, "codec", codec)
	}
	restarts := t.clock.Restarts
	fr := recorder.Frame{
		Payload:  payload,
		PTS:      t.clock.pts(f.rtp, f.ssrc, b.s.SessionTime(f.received)),
		Keyframe: f.keyframe,
	}
	if t.clock.Restarts != restarts {
		b.log.Debug("RTP timeline cut: timing re-anchored on arrival", "participant", t.entry.id, "track", t.id, "pts", fr.PTS)
	}
	if t.video && f.keyframe {
		fr.Width, fr.Height = f.width, f.height
	}
	if err := t.track.WriteFrame(fr); err != nil {
		b.log.Warn("write frame", "participant", t.entry.id, "track", t.id, "err", err)
	}
	if t.video {
		if d := t.track.Stats().DroppedBeforeKeyframe; d > t.dropped && time.Since(t.keyReq) > keyframeInterval {
			t.dropped, t.keyReq = d, time.Now()
			b.command(command{T: "keyframe", Key: t.key})
		}
	}
}

// gap ends what a browser launch was recording: every tap stops, and its
// track's file ends there; presence is kept until the next page's roster
// (or the end) says otherwise.
func (b *bridge) gap(end runEnd) {
	if end.kind == endCrashed && len(b.taps) > 0 {
		b.log.Warn("recording gap: tracks stop until the browser rejoins", "tracks", len(b.taps))
	}
	for k, t := range b.taps {
		b.stopTrack(t)
		delete(b.taps, k)
	}
}

// finish makes everyone the bridge joined leave the session.
func (b *bridge) finish() {
	for _, e := range b.entries {
		b.leaveEntry(e)
	}
}

// updateLayers asks the page for the video size that fits a tile of the
// current layout, for each video tap whose wanted size changed.
func (b *bridge) updateLayers() {
	present := 0
	for _, e := range b.entries {
		if e.present {
			present++
		}
	}
	o := b.cfg.Output
	n := present
	if o.MaxTiles > 0 && n > o.MaxTiles {
		n = o.MaxTiles
	} else if o.MaxTiles <= 0 && o.Layout == timeline.Grid && n > timeline.DefaultMaxTiles {
		n = timeline.DefaultMaxTiles
	}
	if n == 0 {
		return
	}
	tile := timeline.Tiles(o.Layout, n, o.Width, o.Height)[0] // the first tiles are the largest
	for _, t := range b.taps {
		if !t.video {
			continue
		}
		w, h := wantedSize(tile, t.width, t.height, o.Fit)
		if t.layerW == w && t.layerH == h {
			continue
		}
		t.layerW, t.layerH = w, h
		b.command(command{T: "layer", ID: t.id, Participant: t.entry.base, Source: t.source, W: w, H: h})
	}
}

// wantedSize is the picture size worth receiving for a srcW x srcH video
// drawn in tile with fit (the whole source scaled as drawn, so that with
// Crop the visible part keeps full detail); the tile's size when the
// source size is unknown.
func wantedSize(tile timeline.Rect, srcW, srcH int, fit timeline.Fit) (w, h int) {
	if srcW <= 0 || srcH <= 0 {
		return tile.W, tile.H
	}
	dst, crop := timeline.Place(tile, srcW, srcH, fit)
	if crop.W <= 0 || crop.H <= 0 {
		return tile.W, tile.H
	}
	w = int(int64(srcW) * int64(dst.W) / int64(crop.W))
	h = int(int64(srcH) * int64(dst.H) / int64(crop.H))
	return min(w, srcW), min(h, srcH)
}
