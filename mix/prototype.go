package mix

import (
	"errors"
	"fmt"
	"io"

	"github.com/roomtape/roomtape/mix/wav"
)

// MixedName is the file name of the prototype's session mix.
const MixedName = "mixed.wav"

// PaddedName returns the prototype's file name for a participant's track
// padded to the session timeline: "<name>_audio_padded.wav".
func PaddedName(name string) string { return name + "_audio_padded.wav" }

// SampleReader is the streaming interface of [Mixer] and [Padded]: Read
// fills a prefix of dst with interleaved samples and returns [io.EOF] at the
// end.
type SampleReader interface {
	Read(dst []float32) (int, error)
}

// copyBufferFrames is the size of the buffer WriteWAV streams through.
const copyBufferFrames = 4096

// WriteWAV streams r to w as a WAV file in format f until r returns
// [io.EOF], then closes the WAV writer (w itself is not closed).
// f.Channels must match what r produces. When w can seek (a file), the
// header's sizes are patched at the end; otherwise (a pipe) they stay
// 0xFFFFFFFF, see [wav.NewStreamWriter]. It returns the number of frames
// written.
func WriteWAV(w io.Writer, r SampleReader, f wav.Format) (int64, error) {
	var ww *wav.Writer
	var err error
	if s, ok := w.(io.WriteSeeker); ok && seekable(s) {
		ww, err = wav.NewWriter(s, f)
	} else {
		ww, err = wav.NewStreamWriter(w, f)
	}
	if err != nil {
		return 0, fmt.Errorf("mix: %w", err)
	}
	n, err := copySamples(ww, r, f.Channels)
	if err != nil {
		return n, errors.Join(err, ww.Close())
	}
	return n, ww.Close()
}

// seekable reports whether s can really seek (an *os.File on a pipe
// cannot).
func seekable(s io.Seeker) bool {
	_, err := s.Seek(0, io.SeekCurrent)
	return err == nil
}

// WriteWAVFile is [WriteWAV] into a file created at path.
func WriteWAVFile(path string, r SampleReader, f wav.Format) (int64, error) {
	ww, err := wav.Create(path, f)
	if err != nil {
		return 0, fmt.Errorf("mix: %w", err)
	}
	n, err := copySamples(ww, r, f.Channels)
	if err != nil {
		return n, errors.Join(fmt.Errorf("mix: %s: %w", path, err), ww.Close())
	}
	return n, ww.Close()
}

func copySamples(ww *wav.Writer, r SampleReader, channels int) (int64, error) {
	buf := make([]float32, copyBufferFrames*channels)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := ww.WriteFloat32(buf[:n]); werr != nil {
				return ww.Frames(), fmt.Errorf("mix: writing WAV: %w", werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return ww.Frames(), nil
		}
		if err != nil {
			return ww.Frames(), err
		}
	}
}

// PrototypeFormat is the format of the prototype's WAV files with the given
// channel count: 16-bit PCM at 48 kHz.
func PrototypeFormat(channels int) wav.Format {
	return wav.Format{Encoding: wav.Int16, Channels: channels, SampleRate: SampleRate}
}

// WritePadded writes src rendered on the session clock, frames frames long
// with silence where src has no chunks, to w as a 16-bit 48 kHz WAV with
// channels (1 or 2) channels: the prototype's `<name>_audio_padded.wav`
// (see [PaddedName]). See [WriteWAV] for how w is used.
func WritePadded(w io.Writer, src Source, frames int64, channels int) error {
	p, err := NewPadded(src, frames, channels, nil)
	if err != nil {
		return err
	}
	_, err = WriteWAV(w, p, PrototypeFormat(channels))
	return err
}

// WritePaddedFile is [WritePadded] into a file created at path.
func WritePaddedFile(path string, src Source, frames int64, channels int) error {
	p, err := NewPadded(src, frames, channels, nil)
	if err != nil {
		return err
	}
	_, err = WriteWAVFile(path, p, PrototypeFormat(channels))
	return err
}

// WriteMix writes the whole mix to w as a 16-bit stereo 48 kHz WAV, the
// prototype's [MixedName]. See [WriteWAV] for how w is used.
func WriteMix(w io.Writer, m *Mixer) error {
	_, err := WriteWAV(w, m, PrototypeFormat(2))
	return err
}

// WriteMixFile is [WriteMix] into a file created at path.
func WriteMixFile(path string, m *Mixer) error {
	_, err := WriteWAVFile(path, m, PrototypeFormat(2))
	return err
}
