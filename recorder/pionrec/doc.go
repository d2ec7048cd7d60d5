// Package pionrec records pion [webrtc.TrackRemote]s into a
// [recorder.Session] without transcoding.
//
// A host that already terminates WebRTC with pion hands each remote track to
// [Record] from its OnTrack callback; [NewAPI] builds a [webrtc.API] with the
// codecs and interceptors the recorder relies on (VP8, VP9, H.264, Opus; NACK
// generator and responder, RTCP sender and receiver reports).
//
// # Reordering and depacketising
//
// Record uses pion's samplebuilder (github.com/pion/webrtc/v4/pkg/media/samplebuilder)
// rather than the interceptor jitter buffer: the samplebuilder reorders and
// depacketises in one place with the codec's own partition head/tail rules
// (VP8, VP9, H.264 STAP-A/FU-A into Annex-B, Opus), it bounds latency both in
// packets and in media time ([Config.MaxLatency]), which leaves room for a
// NACK retransmission to arrive, and it reports how many packets it had to
// give up on. That count drives loss recovery: after a loss, video frames are
// dropped until the next keyframe (a file freezes instead of showing a
// corrupt picture) and a PLI is sent every [Config.PLIInterval] until the
// keyframe arrives. A PLI is also sent when the track starts, so the first
// decodable picture arrives within a round trip plus one encoded frame.
//
// # Timing
//
// RTP timestamps are unwrapped to 64 bits, so a stream survives the 32-bit
// wrap-around, and every frame's time comes from its RTP timestamp, never
// from a packet count: an Opus DTX pause stays a pause of the same length.
//
// Until the first RTCP Sender Report of a participant arrives, a track's
// clock is anchored at the arrival time of its first packet. Sender Reports
// give each SSRC's RTP↔NTP mapping; all tracks of one participant share a
// single estimate of the offset between the sender's clock and ours (the
// smallest arrival-minus-NTP seen, i.e. the least delayed report), so audio
// and video stay in sync with each other even if the sender's clock is off.
// The switch from arrival time to Sender Report time never makes a jump: the
// difference is slewed in at most [maxSlew] of media time per second, so
// presentation times stay monotonic and no frame is dropped or duplicated.
package pionrec
