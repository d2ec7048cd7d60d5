package livekit

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	lkproto "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/pionrec"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Record joins the room described by cfg as a hidden recorder and records
// it into s until the room closes or is deleted, the bot is removed, the
// token given in cfg.Token expires, or ctx is cancelled; it returns nil in
// those cases. It returns an error wrapping ErrBadConfig, ErrTokenExpired
// or ErrJoin when the bot cannot join, and one wrapping ErrDisconnected
// when the connection is lost for another reason.
//
// Before returning, Record stops the tracks it recorded and makes every
// participant it joined leave s; it does not close s, which the caller
// does (and which leaves anyone still present). To stop when the room
// empties, wait with [recorder.Session.WaitEmpty] and cancel ctx.
func Record(ctx context.Context, s *recorder.Session, cfg Config) error {
	if s == nil {
		return fmt.Errorf("%w: nil session", ErrBadConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	token, deadline, err := cfg.token(time.Now())
	if err != nil {
		return err
	}

	if cfg.Room != "" {
		cfg.Logger = cfg.Logger.With("room", cfg.Room)
	}
	b := &bot{
		s:        s,
		cfg:      cfg,
		log:      cfg.Logger,
		entries:  map[string]*entry{},
		tracks:   map[string]*trackRec{},
		stopping: map[*trackRec]bool{},
		done:     make(chan struct{}),
	}
	cb := b.callbacks(ctx)
	b.room = lksdk.NewRoom(cb)

	joinCtx, cancelJoin := context.WithTimeout(ctx, cfg.ConnectTimeout)
	err = b.room.JoinWithContextAndToken(joinCtx, cfg.URL, token,
		lksdk.WithAutoSubscribe(true),
		lksdk.WithConnectTimeout(cfg.ConnectTimeout),
		lksdk.WithLogger(sdkLogger(cfg.Logger, token, cfg.APISecret)),
	)
	cancelJoin()
	if err != nil {
		b.room.Disconnect()
		b.finish()
		return fmt.Errorf("%w %q at %s: %w", ErrJoin, cfg.Room, cfg.URL, err)
	}
	b.log.Info("joined room", "room", b.room.Name(), "identity", b.room.LocalParticipant.Identity())

	// Participants already in the room get no connected callback.
	for _, rp := range b.room.GetRemoteParticipants() {
		b.participantConnected(rp)
		for _, pub := range rp.TrackPublications() {
			if rpub, ok := pub.(*lksdk.RemoteTrackPublication); ok {
				b.trackPublished(rpub, rp)
			}
		}
	}

	var expired <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}

	var endErr error
	select {
	case <-ctx.Done():
		b.log.Info("recording stopped", "reason", context.Cause(ctx))
		b.room.Disconnect()
	case <-expired:
		b.log.Info("recording ended", "reason", "token expired")
		b.room.Disconnect()
	case <-b.done:
		reason := b.room.DisconnectReason()
		if cleanEnd(reason) || (!deadline.IsZero() && !time.Now().Before(deadline)) {
			b.log.Info("recording ended", "reason", reason.String())
		} else {
			endErr = fmt.Errorf("%w from room %q: %s", ErrDisconnected, b.room.Name(), reason)
		}
	}
	b.finish()
	return endErr
}

// cleanEnd reports whether the server ended the bot's connection for a
// reason that ends a recording normally.
func cleanEnd(reason lkproto.DisconnectReason) bool {
	switch reason {
	case lkproto.DisconnectReason_CLIENT_INITIATED,
		lkproto.DisconnectReason_ROOM_DELETED,
		lkproto.DisconnectReason_ROOM_CLOSED,
		lkproto.DisconnectReason_PARTICIPANT_REMOVED:
		return true
	default:
		return false
	}
}

// token returns the bot's token and, for a token given in Config.Token,
// its expiry (zero if none).
func (c Config) token(now time.Time) (string, time.Time, error) {
	if c.Token == "" {
		tok, err := BotToken(c.APIKey, c.APISecret, c.Room, c.Identity, c.Name, c.TokenTTL)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
		return tok, time.Time{}, nil
	}
	exp, ok, err := tokenExpiry(c.Token)
	switch {
	case err != nil:
		return "", time.Time{}, fmt.Errorf("%w: Token: %w", ErrBadConfig, err)
	case !ok:
		return c.Token, time.Time{}, nil
	case !now.Before(exp):
		return "", time.Time{}, fmt.Errorf("%w at %s", ErrTokenExpired, exp.UTC().Format(time.RFC3339))
	}
	return c.Token, exp, nil
}

// bot is the state of one Record call. Its methods are called from the
// SDK's callbacks, on SDK goroutines.
type bot struct {
	s    *recorder.Session
	cfg  Config
	log  *slog.Logger
	room *lksdk.Room

	doneOnce sync.Once
	done     chan struct{} // closed when the SDK reports the disconnection

	mu           sync.Mutex
	ended        bool
	reconnecting bool
	entries      map[string]*entry    // by recorder participant ID
	tracks       map[string]*trackRec // by LiveKit track SID
	// stopping are recordings stopped (unpublished) that have not
	// returned yet: a leave waits for its entry's before Leave.
	stopping map[*trackRec]bool
	wg       sync.WaitGroup // track goroutines
	// speakers is the last active-speaker list recorded in hints (the
	// session's hints file, opened with the first update).
	speakers []string
	hints    *manifest.HintsWriter
}

// entry is one recorder participant: a LiveKit participant, or the screen
// share of one.
type entry struct {
	id, name string
	identity string // LiveKit identity of the publisher
	screen   bool
	p        *recorder.Participant
	present  bool
}

// trackRec is one recorded track.
type trackRec struct {
	entry        *entry
	pub          *lksdk.RemoteTrackPublication
	cancel       context.CancelFunc
	done         chan struct{}
	video        bool
	lastW, lastH int
}

// callbacks returns the SDK callbacks; ctx bounds the track recordings.
func (b *bot) callbacks(ctx context.Context) *lksdk.RoomCallback {
	cb := lksdk.NewRoomCallback()
	cb.OnParticipantConnected = b.participantConnected
	cb.OnParticipantDisconnected = b.participantDisconnected
	cb.OnTrackPublished = b.trackPublished
	cb.OnTrackUnpublished = b.trackUnpublished
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		b.trackSubscribed(ctx, track, pub, rp)
	}
	cb.OnTrackUnsubscribed = func(_ *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
		b.stopTrack(pub.SID())
	}
	cb.OnTrackSubscriptionFailed = func(sid string, rp *lksdk.RemoteParticipant) {
		b.log.Warn("track subscription failed", "participant", rp.Identity(), "track", sid)
	}
	cb.OnTrackMuted = func(pub lksdk.TrackPublication, p lksdk.Participant) {
		b.log.Debug("track muted", "participant", p.Identity(), "track", pub.SID())
	}
	cb.OnTrackUnmuted = func(pub lksdk.TrackPublication, p lksdk.Participant) {
		b.log.Debug("track unmuted", "participant", p.Identity(), "track", pub.SID())
	}
	cb.OnActiveSpeakersChanged = func([]lksdk.Participant) { b.speakersChanged() }
	cb.OnReconnecting = func() {
		b.mu.Lock()
		b.reconnecting = true
		b.mu.Unlock()
		b.log.Warn("connection lost, reconnecting")
	}
	cb.OnReconnected = func() {
		b.mu.Lock()
		b.reconnecting = false
		b.mu.Unlock()
		b.log.Info("reconnected")
		b.reconcile()
	}
	cb.OnDisconnectedWithReason = func(reason lksdk.DisconnectionReason) {
		b.log.Info("disconnected", "reason", string(reason))
		b.doneOnce.Do(func() { close(b.done) })
	}
	return cb
}

// speakersChanged records the room's active speakers in the session's
// hints (LiveKit's active-speaker updates: who speaks, loudest first, on
// the session clock when the update reaches the bot). The SDK calls it on
// a goroutine of its own per update, so two calls may run out of order:
// each records the room's current list (the SDK's latest) under b.mu,
// and only when the set of speakers changed.
func (b *bot) speakersChanged() {
	local := b.room.LocalParticipant.Identity()
	var ids []string
	for _, p := range b.room.ActiveSpeakers() {
		if id := p.Identity(); id != "" && id != local {
			ids = append(ids, id)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended || (b.hints != nil && sameSet(ids, b.speakers)) {
		return
	}
	if b.hints == nil {
		b.hints = b.s.Hints()
	}
	b.hints.Speakers(b.s.Elapsed(), ids)
	b.speakers = ids
	b.log.Debug("active speakers", "participants", ids)
}

// sameSet reports whether a and b hold the same IDs, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	return !slices.ContainsFunc(a, func(id string) bool { return !slices.Contains(b, id) })
}

// displayName is the name a participant is recorded under.
func displayName(rp *lksdk.RemoteParticipant) string {
	if n := rp.Name(); n != "" {
		return n
	}
	return rp.Identity()
}

// isScreen reports whether a track source is a screen share.
func isScreen(src lkproto.TrackSource) bool {
	return src == lkproto.TrackSource_SCREEN_SHARE || src == lkproto.TrackSource_SCREEN_SHARE_AUDIO
}

// joinLocked makes the entry of identity (or of its screen share) present,
// creating it if needed. b.mu must be held. It returns nil once recording
// has ended or if the session refuses the join.
func (b *bot) joinLocked(rp *lksdk.RemoteParticipant, screen bool) *entry {
	if b.ended {
		return nil
	}
	id, name := recorder.RoomParticipant(rp.Identity(), displayName(rp), screen)
	e := b.entries[id]
	if e == nil {
		e = &entry{id: id, identity: rp.Identity(), screen: screen}
		b.entries[id] = e
	}
	if e.present {
		return e
	}
	p := recorder.JoinLogged(b.s, b.log, id, name)
	if p == nil {
		return nil
	}
	e.p, e.name, e.present = p, name, true
	return e
}

// trackDrainTimeout bounds how long a leave waits for the participant's
// recordings to write what they hold before the participant leaves:
// pionrec keeps up to a second of frames pending a Sender Report and
// writes them as soon as its context ends, which takes milliseconds; a
// recording stuck past this is left behind (its frames are then lost,
// and a warning says so).
const trackDrainTimeout = 2 * time.Second

// awaitTracks waits up to trackDrainTimeout for the cancelled recordings
// trs to end. b.mu may be held: a recording closes its done channel
// before it takes b.mu (in forget).
func (b *bot) awaitTracks(trs []*trackRec) {
	if len(trs) == 0 {
		return
	}
	timer := time.NewTimer(trackDrainTimeout)
	defer timer.Stop()
	for _, tr := range trs {
		select {
		case <-tr.done:
		case <-timer.C:
			b.log.Warn("track recording did not stop in time; its last frames may be lost",
				"participant", tr.entry.id, "track", tr.pub.SID(), "after", trackDrainTimeout)
			return
		}
	}
}

// leaveLocked stops e's tracks, waits for their recordings to write what
// they hold, and makes it leave the session. b.mu must be held.
func (b *bot) leaveLocked(e *entry) {
	if e != nil && e.present {
		b.leaveAtLocked(e, b.s.Elapsed())
	}
}

// leaveAtLocked is leaveLocked with the presence ending at session time
// at. b.mu must be held.
func (b *bot) leaveAtLocked(e *entry, at time.Duration) {
	if e == nil || !e.present {
		return
	}
	var stopping []*trackRec
	for sid, tr := range b.tracks {
		if tr.entry == e {
			tr.cancel()
			delete(b.tracks, sid)
			stopping = append(stopping, tr)
		}
	}
	for tr := range b.stopping {
		if tr.entry == e {
			stopping = append(stopping, tr)
		}
	}
	// Let the recordings write the frames they hold (up to a second
	// pending a Sender Report) before Leave stops their tracks.
	b.awaitTracks(stopping)
	e.present = false
	// The presence ends when the leave began, not after the drain.
	if err := e.p.LeaveAt(at); err != nil {
		b.log.Warn("leave session", "participant", e.id, "err", err)
	}
	b.log.Info("participant left", "participant", e.id)
}

func (b *bot) participantConnected(rp *lksdk.RemoteParticipant) {
	b.mu.Lock()
	b.joinLocked(rp, false)
	b.mu.Unlock()
	b.updateLayers()
}

func (b *bot) participantDisconnected(rp *lksdk.RemoteParticipant) {
	// The SDK reports everyone disconnected when it restarts the
	// connection, and calls back asynchronously: leave only if the
	// participant is really gone. Room methods are called without b.mu:
	// the SDK calls some callbacks with its room lock held.
	back := b.room.GetParticipantByIdentity(rp.Identity()) != nil
	b.mu.Lock()
	if b.reconnecting || back {
		b.mu.Unlock()
		return
	}
	b.leaveLocked(b.entries[rp.Identity()])
	b.leaveLocked(b.entries[rp.Identity()+ScreenSuffix])
	b.mu.Unlock()
	b.updateLayers()
}

func (b *bot) trackPublished(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if isScreen(pub.Source()) && b.cfg.DisableScreenShare {
		// Auto-subscription would bring it in; nothing records it.
		if err := pub.SetSubscribed(false); err != nil {
			b.log.Warn("unsubscribe screen share", "participant", rp.Identity(), "track", pub.SID(), "err", err)
		}
	}
	b.mu.Lock()
	b.joinLocked(rp, false)
	if isScreen(pub.Source()) && !b.cfg.DisableScreenShare {
		b.joinLocked(rp, true)
	}
	b.mu.Unlock()
	b.updateLayers()
}

func (b *bot) trackUnpublished(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	b.stopTrack(pub.SID())
	if !isScreen(pub.Source()) {
		return
	}
	b.mu.Lock()
	if !hasScreen(rp, pub.SID()) {
		b.leaveLocked(b.entries[rp.Identity()+ScreenSuffix])
	}
	b.mu.Unlock()
	b.updateLayers()
}

// hasScreen reports whether rp publishes a screen share track other than
// the one with SID except.
func hasScreen(rp *lksdk.RemoteParticipant, except string) bool {
	for _, pub := range rp.TrackPublications() {
		if isScreen(pub.Source()) && pub.SID() != except {
			return true
		}
	}
	return false
}

// trackSubscribed starts recording a track.
func (b *bot) trackSubscribed(ctx context.Context, track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	screen := isScreen(pub.Source())
	if screen && b.cfg.DisableScreenShare {
		return
	}
	b.mu.Lock()
	if _, dup := b.tracks[pub.SID()]; dup {
		b.mu.Unlock()
		return
	}
	b.joinLocked(rp, false)
	e := b.joinLocked(rp, screen)
	if e == nil {
		b.mu.Unlock()
		return
	}
	tctx, cancel := context.WithCancel(ctx)
	tr := &trackRec{
		entry:  e,
		pub:    pub,
		cancel: cancel,
		done:   make(chan struct{}),
		video:  track.Kind() == webrtc.RTPCodecTypeVideo,
	}
	b.tracks[pub.SID()] = tr
	b.wg.Add(1)
	b.mu.Unlock()

	src := trackSource(tr.video)
	log := b.log.With("participant", e.id, "track", pub.SID(), "source", src)
	go func() {
		defer b.wg.Done()
		defer b.forget(pub.SID(), tr)
		// done closes before forget takes b.mu: leaveLocked waits for it
		// with b.mu held.
		defer close(tr.done)
		err := pionrec.Record(tctx, e.p, track, pub.Receiver(), pliWriter{rp}, pionrec.Config{
			Session: b.s,
			Source:  src,
			Logger:  log,
		})
		if err != nil {
			log.Error("record track", "err", err)
			return
		}
		log.Debug("track ended")
	}()
	log.Info("recording track", "codec", track.Codec().MimeType)
	b.updateLayers()
}

// trackSource is the recorder source of a LiveKit track. A screen share is
// recorded as the camera and microphone of its own participant entry, so
// that a composer shows it as a tile like any camera.
func trackSource(video bool) recorder.Source {
	if video {
		return recorder.Camera
	}
	return recorder.Microphone
}

// forget drops tr from the recorded tracks once its recording ended.
func (b *bot) forget(sid string, tr *trackRec) {
	tr.cancel()
	b.mu.Lock()
	if b.tracks[sid] == tr {
		delete(b.tracks, sid)
	}
	delete(b.stopping, tr)
	b.mu.Unlock()
}

// stopTrack stops recording the track with the given SID; until the
// recording returns, a leave of its participant waits for it.
func (b *bot) stopTrack(sid string) {
	b.mu.Lock()
	tr := b.tracks[sid]
	delete(b.tracks, sid)
	if tr != nil {
		b.stopping[tr] = true
	}
	b.mu.Unlock()
	if tr != nil {
		tr.cancel()
	}
}

// reconcile leaves the entries whose participant or screen share is gone
// after a reconnection.
func (b *bot) reconcile() {
	b.mu.Lock()
	var entries []*entry
	for _, e := range b.entries {
		entries = append(entries, e)
	}
	b.mu.Unlock()
	var gone []*entry
	for _, e := range entries {
		rp := b.room.GetParticipantByIdentity(e.identity)
		if rp == nil || (e.screen && !hasScreen(rp, "")) {
			gone = append(gone, e)
		}
	}
	b.mu.Lock()
	for _, e := range gone {
		b.leaveLocked(e)
	}
	b.mu.Unlock()
	b.updateLayers()
}

// updateLayers asks the server for the video size that fits each recorded
// video track's tile, when it changed.
func (b *bot) updateLayers() {
	type req struct {
		pub  *lksdk.RemoteTrackPublication
		w, h int
	}
	var reqs []req
	b.mu.Lock()
	present := 0
	for _, e := range b.entries {
		if e.present {
			present++
		}
	}
	for _, tr := range b.tracks {
		if !tr.video {
			continue
		}
		var srcW, srcH int
		if ti := tr.pub.TrackInfo(); ti != nil {
			srcW, srcH = int(ti.Width), int(ti.Height)
		}
		w, h := wantedSize(b.cfg.Output, present, srcW, srcH)
		if w <= 0 || h <= 0 || (w == tr.lastW && h == tr.lastH) {
			continue
		}
		tr.lastW, tr.lastH = w, h
		reqs = append(reqs, req{tr.pub, w, h})
	}
	b.mu.Unlock()
	for _, r := range reqs {
		b.log.Debug("video size requested", "track", r.pub.SID(), "width", r.w, "height", r.h, "tiles", present)
		r.pub.SetVideoDimensions(uint32(r.w), uint32(r.h))
	}
}

// finish makes everyone the bot joined leave the session (at once, so
// that the leave times are the end's), then stops every track and waits
// for their recordings to end.
func (b *bot) finish() {
	b.mu.Lock()
	b.ended = true
	at := b.s.Elapsed()
	// Stop every recording first and let them write what they hold, so
	// that the leaves below are not delayed one after another.
	stopping := make([]*trackRec, 0, len(b.tracks)+len(b.stopping))
	for sid, tr := range b.tracks {
		tr.cancel()
		delete(b.tracks, sid)
		stopping = append(stopping, tr)
	}
	for tr := range b.stopping {
		stopping = append(stopping, tr)
	}
	b.awaitTracks(stopping)
	for _, e := range b.entries {
		b.leaveAtLocked(e, at)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// pliWriter sends PLIs through the SDK's subscriber connection.
type pliWriter struct{ rp *lksdk.RemoteParticipant }

// WriteRTCP sends the PLIs among pkts and ignores other packets.
func (w pliWriter) WriteRTCP(pkts []rtcp.Packet) error {
	for _, p := range pkts {
		if pli, ok := p.(*rtcp.PictureLossIndication); ok {
			w.rp.WritePLI(webrtc.SSRC(pli.MediaSSRC))
		}
	}
	return nil
}
