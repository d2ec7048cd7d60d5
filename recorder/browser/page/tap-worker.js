// tap-worker.js runs every RTCRtpScriptTransform of the bridge page. For
// each encoded frame a receiver hands it, it sends the bot one binary
// WebSocket message: a 40-byte little-endian header, then the frame's
// bytes as received (no decoding, no re-encoding). The layout is
// recorder/browser's wire.go (parseFrame):
//
//   0 u8  version (1)      1 u8 flags (bit 0 keyframe)   2 u8 codec id
//   3 u8  reserved         4 u32 tap key                 8 u32 RTP timestamp
//  12 u32 SSRC            16 f64 receive time, ms since the Unix epoch
//  24 f64 capture time (abs-capture-time, ms since the epoch; NaN if none)
//  32 u16 width           34 u16 height (video metadata; 0 if unknown)
//  36 u32 reserved        40 payload
//
// With options.passThrough the frame then goes on to the decoder; without
// it the browser never decodes remote media (the bridge's default).
'use strict';

const CODECS = {'video/vp8': 1, 'video/vp9': 2, 'video/h264': 3, 'video/av1': 4, 'audio/opus': 5, 'audio/red': 6};
const HEADER = 40;
// maxBuffered bounds what waits in the socket: past it frames are dropped
// (and counted) rather than held in memory without limit.
const maxBuffered = 16 << 20;

let ws = null;
let pending = []; // frames sent before the socket opened
const tapped = new Set(); // keys whose frames are shipped
const transformers = new Map(); // key -> RTCRtpScriptTransformer
let dropped = 0;

function connect(url) {
  if (ws) return;
  ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { self.postMessage({level: 'debug', msg: 'frame socket open'}); for (const m of pending) ws.send(m); pending = []; };
  ws.onerror = () => self.postMessage({msg: 'frame socket error'});
  ws.onclose = (e) => { ws = null; self.postMessage({msg: 'frame socket closed', error: String(e.code)}); };
}

function ship(key, kind, frame) {
  const m = frame.getMetadata();
  const data = new Uint8Array(frame.data);
  const buf = new ArrayBuffer(HEADER + data.byteLength);
  const v = new DataView(buf);
  v.setUint8(0, 1);
  v.setUint8(1, (kind === 'audio' || frame.type === 'key') ? 1 : 0);
  v.setUint8(2, CODECS[String(m.mimeType || '').toLowerCase()] || 0);
  v.setUint32(4, key, true);
  v.setUint32(8, m.rtpTimestamp >>> 0, true);
  v.setUint32(12, m.synchronizationSource >>> 0, true);
  const now = performance.timeOrigin + performance.now();
  v.setFloat64(16, typeof m.receiveTime === 'number' ? performance.timeOrigin + m.receiveTime : now, true);
  v.setFloat64(24, typeof m.captureTime === 'number' ? performance.timeOrigin + m.captureTime : NaN, true);
  v.setUint16(32, m.width || 0, true);
  v.setUint16(34, m.height || 0, true);
  new Uint8Array(buf, HEADER).set(data);
  if (ws && ws.readyState === WebSocket.OPEN) {
    if (ws.bufferedAmount > maxBuffered) { dropped++; return; }
    ws.send(buf);
  } else if (pending.length < 1000) {
    pending.push(buf);
  } else {
    dropped++;
  }
}

async function pump(t) {
  const {key, kind, passThrough} = t.options;
  const reader = t.readable.getReader();
  const writer = t.writable.getWriter();
  let n = 0;
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    if (n++ === 0) self.postMessage({level: 'debug', msg: 'first frame', key});
    if (tapped.has(key)) ship(key, kind, value);
    if (passThrough) await writer.write(value);
  }
  transformers.delete(key);
}

self.onrtctransform = (event) => {
  const t = event.transformer;
  self.postMessage({level: 'debug', msg: 'transform started', key: t.options.key});
  connect(t.options.url);
  transformers.set(t.options.key, t);
  pump(t).catch((e) => self.postMessage({key: t.options.key, error: String(e)}));
};

self.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'untap') tapped.delete(m.key);
  if (m.type === 'tap') tapped.add(m.key);
  // A tap may start after the keyframe went by: ask for one.
  if (m.type === 'keyframe' || m.type === 'tap') {
    const t = transformers.get(m.key);
    if (t && t.sendKeyFrameRequest) t.sendKeyFrameRequest().catch(() => {});
  }
};

// Report drops once a second when there are any.
setInterval(() => {
  if (dropped > 0) { self.postMessage({dropped}); dropped = 0; }
}, 1000);
