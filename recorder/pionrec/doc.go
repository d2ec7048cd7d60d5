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
// Record reorders and depacketises with its own bounded frame assembler,
// using pion's depacketizers (VP8, VP9, H.264 STAP-A/FU-A into Annex-B,
// Opus) and their partition head/tail rules. It first used pion's
// samplebuilder (github.com/pion/webrtc/v4/pkg/media/samplebuilder), the
// usual choice, but fuzzing found that its purge loop can overrun its
// buffer's head and then walk all 65536 sequence numbers with a linear
// scan at each step: seconds of CPU for one unlucky (or hostile) packet.
// The interceptor jitter buffer only reorders packets and would still need
// frame assembly. The assembler keeps a window of 1024 packets, costs O(1)
// per packet whatever the sequence numbers, waits for a missing packet (a
// NACK retransmission) at most [Config.MaxLatency] of arrival time, and
// treats a jump beyond its window as a discontinuity.
//
// Losses that NACK could not repair drive recovery: video frames are then
// dropped until the next keyframe (a file freezes instead of showing a
// corrupt picture) and a PLI is sent every [Config.PLIInterval] until the
// keyframe arrives. A PLI is also sent when the track starts, so the first
// decodable picture arrives within a round trip plus one encoded frame,
// and whenever the recorder track asks for a keyframe to cut a segment
// (recorder.Config.SegmentDuration, recorder.Track.KeyframeRequest).
//
// # Timing
//
// RTP timestamps are unwrapped to 64 bits, so a stream survives the 32-bit
// wrap-around, and every frame's time comes from its RTP timestamp, never
// from a packet count: an Opus DTX pause stays a pause of the same length.
//
// A track buffers its first second of frames (or less, once a Sender
// Report is known) and anchors its clock at the least delayed of its first
// packets, rather than trusting the first one, which is often late; until
// Sender Reports arrive, that arrival-time anchor is the clock. Sender Reports
// give each SSRC's RTP↔NTP mapping; all tracks of one participant share a
// single estimate of the offset between the sender's clock and ours (the
// arrival-minus-NTP of its first report, revised only by a report at least
// 50 ms less delayed), so audio and video stay in sync with each other even
// if the sender's clock is off.
// Audio is placed by sample count by the readers of the files, so slewing
// its timestamps would not move it: an audio error under 30 ms is left
// alone, a larger one (the switch from arrival time to Sender Report time,
// a revised offset) is corrected by one step (a gap forward, or dropping
// whole packets backward, the remainder of a packet staying in the
// residual). Video follows where the audio is: it steps with the audio
// (a step back squeezes the frames it overlaps 1 ms apart, so presentation
// times stay monotonic and no frame is dropped), so the pair stays within
// a few milliseconds, and slews in smaller differences at 5 % of media
// time. Video without audio slews in every change.
package pionrec
