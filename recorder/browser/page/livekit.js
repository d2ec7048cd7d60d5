// livekit.js: the bridge adapter for LiveKit rooms (livekit-client).
//
// It joins with the bot's token, subscribes to everything, and maps the
// SDK's events onto the bridge: participants by identity, tracks by SID
// with their source (camera, microphone, screen_share,
// screen_share_audio). The bot asks for video sizes with {t: 'layer'}.
'use strict';

window.adapter = {
  async run(bridge, cfg) {
    const LK = window.LivekitClient;
    const E = LK.RoomEvent;
    const room = new LK.Room({adaptiveStream: false, dynacast: false});
    const keys = new Map(); // track SID -> tap key
    const name = (p) => p.name || p.identity;

    const tapTrack = (track, pub, p) => {
      if (keys.has(pub.trackSid) || !track.receiver) return;
      const key = bridge.tap(track.receiver, {
        participant: p.identity, name: name(p), kind: track.kind, source: pub.source, id: pub.trackSid,
        width: pub.dimensions ? pub.dimensions.width : 0, height: pub.dimensions ? pub.dimensions.height : 0,
      });
      if (key) keys.set(pub.trackSid, key);
    };
    const untapTrack = (pub) => {
      bridge.untap(keys.get(pub.trackSid));
      keys.delete(pub.trackSid);
    };
    const roster = () => {
      const ids = [];
      for (const p of room.remoteParticipants.values()) {
        ids.push(p.identity);
        bridge.participant(p.identity, name(p), true);
        for (const pub of p.trackPublications.values()) {
          if (pub.track && pub.isSubscribed) tapTrack(pub.track, pub, p);
        }
      }
      bridge.roster(ids);
    };

    room.on(E.ParticipantConnected, (p) => bridge.participant(p.identity, name(p), true));
    room.on(E.ParticipantDisconnected, (p) => {
      for (const pub of p.trackPublications.values()) untapTrack(pub);
      bridge.participant(p.identity, name(p), false);
    });
    room.on(E.TrackPublished, (pub, p) => bridge.send({t: 'published', participant: p.identity, name: name(p), source: pub.source, id: pub.trackSid}));
    room.on(E.TrackUnpublished, (pub, p) => {
      untapTrack(pub);
      bridge.send({t: 'unpublished', participant: p.identity, source: pub.source, id: pub.trackSid});
    });
    room.on(E.TrackSubscribed, tapTrack);
    room.on(E.TrackUnsubscribed, (track, pub) => untapTrack(pub));
    room.on(E.TrackMuted, (pub, p) => bridge.send({t: 'mute', participant: p.identity, id: pub.trackSid, muted: true}));
    room.on(E.TrackUnmuted, (pub, p) => bridge.send({t: 'mute', participant: p.identity, id: pub.trackSid, muted: false}));
    room.on(E.Reconnecting, () => bridge.send({t: 'reconnecting'}));
    room.on(E.Reconnected, () => { bridge.send({t: 'reconnected'}); roster(); });
    room.on(E.Disconnected, (reason) => {
      // DisconnectReason: 1 client initiated, 4 participant removed,
      // 5 room deleted, 10 room closed (livekit_models.proto).
      const clean = [1, 4, 5, 10].includes(reason);
      bridge.ended('disconnected (reason ' + reason + ')', clean);
    });

    bridge.onCommand = (cmd) => {
      if (cmd.t === 'layer') {
        for (const p of room.remoteParticipants.values()) {
          const pub = p.trackPublications.get(cmd.id);
          if (pub && pub.setVideoDimensions) pub.setVideoDimensions({width: cmd.w, height: cmd.h});
        }
      } else if (cmd.t === 'leave') {
        room.disconnect();
      }
    };

    await room.connect(cfg.url, cfg.token, {autoSubscribe: true});
    bridge.send({t: 'joined', room: room.name, self: room.localParticipant.identity});
    roster();
  },
};
