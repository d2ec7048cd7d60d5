// bridge.js: the page side of roomtape's browser bridge.
//
// It loads ./config.json (room, SDK, options), connects to the bot over a
// WebSocket on 127.0.0.1 (control messages, JSON), starts one worker that
// runs every RTCRtpScriptTransform (tap-worker.js, which ships encoded
// frames over its own WebSocket), loads the SDK bundle and the adapter,
// and runs the adapter. Adapters call the functions of `bridge` below.
'use strict';

// Every RTCPeerConnection the SDK creates, so that adapters whose SDK
// does not expose receivers (daily-js) find the receiver of a track. Each
// receiver gets the bridge's transform as soon as its track event fires,
// before media flows (at addTransceiver for transceivers the SDK adds,
// at the track event for those the remote side offers): Chromium
// delivers no frames to a script transform set on a receiver that is
// already running.
const peerConnections = new Set();
{
  const Native = window.RTCPeerConnection;
  class TrackedPeerConnection extends Native {
    constructor(...args) {
      super(...args);
      peerConnections.add(this);
      this.addEventListener('track', (e) => bridge.prepare(e.receiver));
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'closed') peerConnections.delete(this);
      });
    }
    // A transceiver the page adds itself (an SDK that offers) has its
    // receiver running before any track event: tap it at once.
    addTransceiver(...args) {
      const t = super.addTransceiver(...args);
      bridge.prepare(t.receiver);
      return t;
    }
  }
  window.RTCPeerConnection = TrackedPeerConnection;

  // An SDK may clear a receiver's transform (livekit-client's frame
  // metadata pass-through sets it to null): the bridge keeps its own. An
  // SDK that installs a transform of its own (end-to-end encryption) wins,
  // and its frames are logged as untappable.
  const desc = Object.getOwnPropertyDescriptor(RTCRtpReceiver.prototype, 'transform');
  if (desc && desc.set) {
    Object.defineProperty(RTCRtpReceiver.prototype, 'transform', {
      configurable: true,
      get() { return desc.get.call(this); },
      set(v) {
        if (v === null && this.__roomtapeKey) return;
        if (v !== null && !v.__roomtape && this.__roomtapeKey) {
          bridge.send({t: 'untappable', key: this.__roomtapeKey, reason: 'the SDK installed its own transform (end-to-end encryption?)'});
          this.__roomtapeKey = 0;
        }
        desc.set.call(this, v);
      },
    });
  }
}

const bridge = {
  config: null,
  ws: null,
  worker: null,
  nextKey: 1,
  taps: new Map(), // key -> {receiver, info}

  // send sends one control message to the bot (dropped if not connected).
  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  },
  log(level, msg, extra) { this.send({t: 'log', level, msg, ...(extra || {})}); },

  // participant reports a remote participant present (or gone).
  participant(id, name, present) { this.send({t: 'participant', id: String(id), name: String(name || id), present: !!present}); },

  // roster reports the complete list of remote participant ids after a
  // (re)join: the bot lets go of anyone else.
  roster(ids) { this.send({t: 'roster', ids: ids.map(String)}); },

  // receiverFor finds the RTCRtpReceiver of a remote MediaStreamTrack.
  receiverFor(track) {
    for (const pc of peerConnections) {
      for (const r of pc.getReceivers()) if (r.track === track) return r;
    }
    return null;
  },

  // prepare gives a new receiver the bridge's transform; its frames are
  // shipped once tap names the track.
  prepare(receiver) {
    if (receiver.__roomtapeKey || typeof RTCRtpScriptTransform === 'undefined') return receiver.__roomtapeKey || 0;
    const key = this.nextKey++;
    try {
      const t = new RTCRtpScriptTransform(this.worker, {
        key, kind: receiver.track.kind, url: this.framesURL, passThrough: !!this.config.passThrough,
      });
      t.__roomtape = true;
      receiver.__roomtapeKey = key;
      receiver.transform = t;
    } catch (e) {
      this.log('error', 'cannot set a transform: ' + e);
      return 0;
    }
    return key;
  },

  // tap starts recording receiver's encoded frames as the track described
  // by info {participant, name, kind, source, id}; it returns the tap key.
  tap(receiver, info) {
    if (typeof RTCRtpScriptTransform === 'undefined') {
      this.send({t: 'untappable', ...info, reason: 'RTCRtpScriptTransform is not supported'});
      return 0;
    }
    for (const [k, v] of this.taps) if (v.receiver === receiver) return k; // already tapped
    const key = receiver.__roomtapeKey || this.prepare(receiver);
    if (!key) {
      this.send({t: 'untappable', ...info, reason: 'no transform on the receiver'});
      return 0;
    }
    this.taps.set(key, {receiver, info});
    this.send({t: 'track', key, ...info});
    this.worker.postMessage({type: 'tap', key});
    return key;
  },

  // untap stops recording a tapped track (the receiver keeps its transform
  // until the SDK drops it; the worker stops shipping its frames).
  untap(key) {
    if (!key || !this.taps.has(key)) return;
    this.taps.delete(key);
    this.worker.postMessage({type: 'untap', key});
    this.send({t: 'track-end', key});
  },

  // ended reports that the bot is out of the room for good.
  ended(reason, clean) { this.send({t: 'ended', reason: String(reason), clean: !!clean}); },

  // stats logs what every tapped receiver got (RTP packets, frames,
  // keyframe requests sent).
  async stats() {
    const out = [];
    for (const [key, {receiver}] of this.taps) {
      try {
        const r = await receiver.getStats();
        r.forEach((s) => {
          if (s.type === 'inbound-rtp') out.push({key, kind: s.kind, packets: s.packetsReceived, bytes: s.bytesReceived, plis: s.pliCount || 0, firs: s.firCount || 0, nacks: s.nackCount || 0, lost: s.packetsLost, frames: s.framesReceived});
        });
      } catch (e) { /* receiver gone */ }
    }
    for (const pc of peerConnections) out.push({pc: pc.connectionState, ice: pc.iceConnectionState, dirs: pc.getTransceivers().map((t) => t.receiver.track.kind + ':' + t.direction + '/' + t.currentDirection + ':' + (t.receiver.__roomtapeKey || 0) + ':' + (t.receiver.transform ? (t.receiver.transform.__roomtape ? 'ours' : 'other') : 'none'))});
    this.send({t: 'log', level: 'debug', msg: 'receive stats ' + JSON.stringify(out)});
  },

  // load adds a script and resolves when it ran.
  load(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error('cannot load ' + src));
      document.head.appendChild(s);
    });
  },

  // onCommand is set by the adapter: it receives the bot's commands
  // ({t: 'layer', ...}, {t: 'leave'}).
  onCommand: null,

  async start() {
    this.config = await (await fetch('config.json')).json();
    const base = location.href.replace(/^http/, 'ws').replace(/[^/]*$/, '');
    this.framesURL = base + 'frames';
    this.worker = new Worker('tap-worker.js');
    this.worker.onmessage = (e) => this.send({t: 'log', level: 'warn', ...e.data, msg: 'worker: ' + (e.data.msg || '')});
    this.worker.onerror = (e) => this.send({t: 'log', level: 'error', msg: 'worker error: ' + e.message});
    await new Promise((resolve, reject) => {
      this.ws = new WebSocket(base + 'control');
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(new Error('control socket failed'));
    });
    this.ws.onmessage = (e) => {
      const cmd = JSON.parse(e.data);
      if (cmd.t === 'keyframe') this.worker.postMessage({type: 'keyframe', key: cmd.key});
      else if (this.onCommand) this.onCommand(cmd);
    };
    this.ws.onclose = () => { this.ws = null; };
    // Heartbeat: the bot restarts a browser whose page stops beating.
    setInterval(() => this.send({t: 'ping', taps: this.taps.size}), 1000);
    // Receive statistics every 5 s, for the logs.
    setInterval(() => this.stats(), 5000);
    this.send({t: 'hello', sdk: this.config.sdk, transform: typeof RTCRtpScriptTransform !== 'undefined'});
    await this.load('sdk/' + this.config.bundle);
    await this.load(this.config.sdk + '.js');
    await window.adapter.run(this, this.config);
  },
};

window.addEventListener('error', (e) => bridge.log('error', 'page error: ' + e.message));
window.addEventListener('unhandledrejection', (e) => bridge.log('error', 'unhandled rejection: ' + (e.reason && e.reason.message || e.reason)));
window.bridgeReady = bridge.start().catch((e) => {
  bridge.send({t: 'fatal', msg: String(e && e.message || e)});
  throw e;
});
