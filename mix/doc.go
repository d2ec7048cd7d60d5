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
// Sources: [NewPCMSource] (headerless s16/s24/s32/f32/f64 PCM from an
// [io.Reader]), [NewWAVSource] (a [wav.Reader]) and [Chunks] (chunks in
// memory); decoders of compressed audio implement [Source] themselves.
// Inputs must be mono or stereo. Rates other than 48 kHz are converted by
// a windowed-sinc polyphase resampler that keeps placement exact: any rate
// whose ratio to 48 kHz reduces to L/M with L ≤ 1024 (8, 11.025, 16,
// 22.05, 24, 32, 44.1, 88.2, 96 kHz and more); others fail with
// [ErrSampleRate].
//
// [Padded] renders a single source onto the session clock. [WritePadded]
// and [WriteMix] (with their File variants, [PaddedName] and [MixedName])
// write the prototype's `<name>_audio_padded.wav` and `mixed.wav` as
// 16-bit 48 kHz PCM; [WriteWAV] writes any [SampleReader] in any WAV
// format.
//
// Mix is pure Go (no cgo). Package [github.com/roomtape/roomtape/mix/wav]
// reads and writes the RIFF WAV files.
package mix
