// Package mix mixes participants' audio onto the session timeline.
//
// Every track is a [Source]: a stream of [Chunk]s of 48 kHz float32 PCM,
// each placed on the session clock by its first sample frame, with gaps
// (rejoins, DTX) left as silence. A [Mixer] sums any number of sources
// into one stereo stream of an exact length, sample-exact (a click at t on
// a track that starts at s comes out at exactly s+t), with headroom and a
// soft limiter so the sum never leaves [-1, 1]. It streams: memory is
// bounded by the read buffer and each source's current chunk, so a
// two-hour, many-participant session mixes in constant memory.
//
// [Padded] renders a single source onto the session clock, which is what
// the prototype's `<name>_audio_padded.wav` holds.
//
// Mix is pure Go (no cgo). Decoding compressed audio (Opus, AAC) is the
// caller's job; package [github.com/roomtape/roomtape/mix/wav] reads and
// writes RIFF WAV files.
package mix
