// Package roomtape records every participant of a WebRTC room and turns the
// recording into one composed MP4 whose layout follows who is present.
//
// It replaces a paid "cloud recording" feature with a bot you run yourself:
// join the room headless, store each participant's media as it arrives,
// then compose (one person: full frame; two: side by side; three or more:
// equal columns or a grid), mix the audio with silence padding so it lines
// up with the video, and upload.
//
// # Data flow
//
//	transport ──► recorder ──► per-participant files + session.json
//	                                     │
//	                                     ▼
//	                  timeline (who is on screen when, tile geometry)
//	                                     │
//	                                     ▼
//	                  compose (video, FFmpeg in-process) + mix (audio)
//	                                     │
//	                                     ▼
//	                  storage (local disk, S3, or your own Store)
//
// The packages, in the order the data meets them:
//
//   - Transports are adapters under recorder: recorder/pionrec takes pion
//     *webrtc.TrackRemote values, recorder/whip is a WHIP (RFC 9725) ingest
//     endpoint, recorder/livekit joins a LiveKit room as a hidden bot.
//   - [github.com/roomtape/roomtape/recorder] stores what arrives without
//     transcoding (Matroska, crash-safe) and keeps session.json current; the
//     format is a superset of the Python prototype's and is described in
//     [github.com/roomtape/roomtape/timeline/manifest].
//   - [github.com/roomtape/roomtape/timeline] turns join and leave events
//     into layout windows; it is pure Go, so hosts call timeline.Windows in
//     their own unit tests.
//   - [github.com/roomtape/roomtape/mix] mixes audio onto the session clock
//     with silence padding, streaming, with a soft limiter; pure Go.
//   - [github.com/roomtape/roomtape/compose] decodes every input once and
//     encodes the output once through go-astiav (FFmpeg 7.1).
//   - [github.com/roomtape/roomtape/storage] is a small streaming Store
//     interface with local-disk and S3 backends.
//
// # Where to start
//
// Run `make demo` to watch the whole path on 127.0.0.1, then read
// examples/bot (record, compose, upload) and examples/compose (recompose a
// saved session). To embed the recorder in a service that already has pion
// tracks, see the example in recorder/pionrec.
package roomtape
