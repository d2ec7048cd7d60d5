// daily.js: the bridge adapter for Daily rooms (daily-js, call-object
// mode).
//
// daily-js does not expose its RTCRtpReceivers: the bridge finds the
// receiver of each track Daily reports ('track-started') among the peer
// connections the page created. Participants are keyed by user_id (which
// Daily sets to the session id unless the participant's meeting token
// sets one, so that rejoins with such tokens are one participant) and
// named by user_name. Track types map as: video -> camera, audio ->
// microphone, screenVideo -> screen_share, screenAudio ->
// screen_share_audio.
//
// With cfg.offline the adapter builds the real call object and registers
// its handlers but does not join: a test drives it with Daily's event
// payloads through window.dailyCall.emit(...).
'use strict';

const dailySources = {video: 'camera', audio: 'microphone', screenVideo: 'screen_share', screenAudio: 'screen_share_audio'};

// dailyLayer is the simulcast layer fitting a picture drawn h pixels tall:
// Daily's default camera simulcast sends layers 0, 1, 2 of about 180, 360
// and 720 lines.
function dailyLayer(h) {
  if (h <= 180) return 0;
  if (h <= 360) return 1;
  return 2;
}

// Daily's fatal error types that end a recording normally.
const dailyCleanErrors = new Set(['ejected', 'exp-room', 'exp-token']);

window.adapter = {
  async run(bridge, cfg) {
    const call = window.Daily.createCallObject({
      videoSource: false, audioSource: false, subscribeToTracksAutomatically: true,
    });
    window.dailyCall = call;
    const keys = new Map(); // `${session_id}/${type}` -> tap key
    const pid = (p) => String(p.user_id || p.session_id);
    const pname = (p) => p.user_name || pid(p);
    const sessionOf = new Map(); // participant id -> session_id (layers)

    const start = (p, type, track) => {
      const source = dailySources[type];
      if (!source || !track) return;
      const k = p.session_id + '/' + type;
      if (keys.has(k)) return;
      const receiver = bridge.receiverFor(track);
      if (!receiver) {
        bridge.send({t: 'untappable', participant: pid(p), source, kind: track.kind, id: k, reason: 'no RTCRtpReceiver found for the track'});
        return;
      }
      const key = bridge.tap(receiver, {participant: pid(p), name: pname(p), kind: track.kind, source, id: k});
      if (key) keys.set(k, key);
    };
    const stop = (p, type) => {
      const k = p.session_id + '/' + type;
      bridge.untap(keys.get(k));
      keys.delete(k);
    };
    const present = (p) => {
      if (p.local) return;
      sessionOf.set(pid(p), p.session_id);
      bridge.participant(pid(p), pname(p), true);
    };
    const gone = (p) => {
      for (const type of Object.keys(dailySources)) stop(p, type);
      bridge.participant(pid(p), pname(p), false);
    };
    // typeOf finds the type of a track Daily reports without one.
    const typeOf = (p, track) => {
      for (const [type, t] of Object.entries(p.tracks || {})) {
        if (t && (t.persistentTrack === track || t.track === track)) return type;
      }
      return track.kind === 'audio' ? 'audio' : 'video';
    };

    call.on('participant-joined', (e) => present(e.participant));
    call.on('participant-updated', (e) => present(e.participant));
    call.on('participant-left', (e) => { if (!e.participant.local) gone(e.participant); });
    call.on('track-started', (e) => {
      if (!e.participant || e.participant.local) return;
      present(e.participant);
      start(e.participant, e.type || typeOf(e.participant, e.track), e.track);
    });
    call.on('track-stopped', (e) => {
      if (!e.participant || e.participant.local) return;
      stop(e.participant, e.type || typeOf(e.participant, e.track));
    });
    call.on('joined-meeting', (e) => {
      bridge.send({t: 'joined', room: cfg.url, self: e.participants && e.participants.local ? e.participants.local.session_id : ''});
      const ids = [];
      for (const [id, p] of Object.entries(e.participants || {})) {
        if (id === 'local' || p.local) continue;
        present(p);
        ids.push(pid(p));
      }
      bridge.roster(ids);
    });
    call.on('network-connection', (e) => {
      if (e.event === 'interrupted') bridge.send({t: 'reconnecting', what: e.type});
      if (e.event === 'connected') bridge.send({t: 'reconnected', what: e.type});
    });
    call.on('left-meeting', () => bridge.ended('left meeting', true));
    call.on('error', (e) => {
      const type = e.error && e.error.type || '';
      bridge.ended('error: ' + (type || e.errorMsg || 'unknown'), dailyCleanErrors.has(type));
    });
    call.on('nonfatal-error', (e) => bridge.log('warn', 'daily nonfatal error: ' + (e.type || '') + ' ' + (e.errorMsg || '')));

    bridge.onCommand = (cmd) => {
      if (cmd.t === 'layer') {
        const sid = sessionOf.get(cmd.participant);
        if (!sid) return;
        const layer = dailyLayer(cmd.h);
        const what = cmd.source === 'screen_share' ? 'screenVideo' : 'video';
        const settings = {[sid]: {[what]: {layer}}};
        bridge.send({t: 'layer-set', participant: cmd.participant, source: cmd.source, layer});
        if (!cfg.offline) call.updateReceiveSettings(settings).catch((err) => bridge.log('warn', 'updateReceiveSettings: ' + err));
      } else if (cmd.t === 'leave') {
        if (cfg.offline) bridge.ended('left meeting', true);
        else call.leave();
      }
    };

    if (cfg.offline) {
      bridge.send({t: 'joined', room: cfg.url, self: 'offline'});
      return;
    }
    await call.join({url: cfg.url, token: cfg.token, startVideoOff: true, startAudioOff: true});
  },
};
