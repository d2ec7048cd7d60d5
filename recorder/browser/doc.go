// Package browser records a room through a headless-browser bridge: a
// managed Chromium runs the room platform's own JavaScript SDK
// (livekit-client for [LiveKitRoom], daily-js for [DailyRoom]), and the
// encoded frames it receives are handed to the recorder as they are, with
// no decoding and no re-encoding. The same bridge serves any platform
// that has a web SDK; only a small adapter script differs.
//
// # How it works
//
// [Record] serves a page on 127.0.0.1 under a per-launch secret path and
// starts Debian's Chromium with chromedp: headless, a fresh temporary
// profile, media permission prompts answered yes but no media devices of
// its own. The page (page/bridge.js) connects back over two WebSockets on
// the same secret path (Origin checked): a control socket (JSON: presence,
// tracks, heartbeat, the bot's commands) and a frame socket. It loads the
// SDK bundle (page/sdk, from the npm packages pinned by js/package-lock.json
// and embedded at build time) and the adapter (page/livekit.js,
// page/daily.js), which joins the room and subscribes to every
// participant's audio and video.
//
// Every RTCRtpReceiver the SDK's peer connections create gets an
// RTCRtpScriptTransform as soon as it exists (Chromium delivers no frames
// to a transform set on a receiver that already runs). Its worker
// (page/tap-worker.js) sends each encoded frame of a tapped track over
// the frame socket: a 40-byte header (tap key, keyframe flag, codec,
// RTP timestamp, SSRC, receive and capture times, picture size; see
// wire.go) and the frame's bytes. VP8, VP9, H.264 (Annex B), AV1 and Opus
// are recorded as received; RED audio (RFC 2198) is unwrapped to its
// primary Opus packet. The frames then go on to the browser's decoders
// (nothing is rendered): a receiver whose decoder starves asks for
// keyframes several times a second, which [Config.NoDecode] accepts to
// save the decoding.
//
// # What cannot be tapped
//
// A browser without RTCRtpScriptTransform, a codec other than those
// above, and tracks an SDK puts through a transform of its own (end-to-end
// encryption: the frames would be ciphertext) are logged with
// [ErrUntappable] and not recorded. No fallback re-encodes in the
// browser.
//
// # Timing
//
// The browser gives no RTCP Sender Reports. Each track's frames are
// placed at their RTP timestamps, offset by the least transit delay
// observed (receive time minus RTP time; see trackClock), which puts
// jittered and large frames back where the sender timed them and keeps a
// participant's audio and video within a few milliseconds of each other
// on a LAN.
//
// # Robustness
//
// The page beats once a second; a browser whose page falls silent for
// [Config.HeartbeatTimeout], whose renderer crashes, or whose process
// exits is killed and restarted ([Config.MaxRestarts]). The tracks it was
// recording end there (their files close) and start again in new files
// when the new page has rejoined: the outage is a gap in the recording.
// Presence is kept across the outage and reconciled with the new page's
// roster. chromedp kills Chromium with its process tree when Record
// returns, and the kernel kills it when the bot dies (parent-death
// signal), so no browser outlives the bot.
//
// Participants map onto the recorder as in recorder/livekit: one recorder
// participant per room participant (LiveKit identity, Daily user_id),
// joins and leaves as the SDK reports them, a screen share as a
// participant of its own (ID + [ScreenSuffix]) whose camera is the
// share, reconnections of the SDK kept as presence.
package browser
