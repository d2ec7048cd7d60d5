// Package synth publishes synthetic participants over WHIP (RFC 9725) for
// the demo and the tests.
//
// A live publisher ([Publish]) draws each participant's own picture and
// tone (see [Picture] and [Tone]: a tinted scrolling gradient that flashes
// white for 100 ms every 2 s, and a 50 ms beep at the participant's
// frequency at the same instants, in participant-local time) and encodes
// them with pion/mediadevices' VP8 (libvpx) or H.264 (x264) and Opus
// encoders. Frames are encoded ahead of their instant and sent at it, with
// RTP timestamps on the same clock, so that the sender's RTCP Sender
// Reports describe capture time exactly, as a well-behaved browser's do.
//
// A replay publisher ([PublishClip]) sends a clip encoded once beforehand
// ([EncodeClip]), looped, so that a load test measures the recorder and not
// the encoders.
//
// [Plan] runs a list of joins and leaves on a (scalable) clock.
//
// Test knobs on [Participant] inject loss and reordering after the NACK
// responder, RTP timestamps near the 32-bit wrap, audio pauses (as Opus
// DTX makes), mid-stream resolution changes and a severed network.
package synth
