package compose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/internal/avlog"
)

// ErrNoPartial is returned (wrapped) by [FinalizeDir] when the directory
// holds no partial output.
var ErrNoPartial = errors.New("compose: no partial output")

// Finalize turns partial, the progressive (fragmented) MP4 a composition
// writes, into the faststart MP4 out without re-encoding: the packets are
// copied into a new file whose index is at the front, written under a
// temporary name and renamed to out, then partial is removed. A partial
// file cut by a crash is used up to its last complete fragment (a warning
// says where it ends). On error out is not touched and partial is kept.
func Finalize(ctx context.Context, partial, out string, logger *slog.Logger) (err error) {
	return remux(ctx, partial, out, false, logger)
}

// ExtractAudio writes the audio of the composed MP4 in to out, an
// audio-only MP4 (M4A: AAC, as Daily's and LiveKit's audio-only recordings)
// without re-encoding, under a temporary name renamed to out; in is kept.
// Config.AudioFile does it at the end of a composition.
func ExtractAudio(ctx context.Context, in, out string, logger *slog.Logger) error {
	return remux(ctx, in, out, true, logger)
}

// remux copies the packets of partial (its audio only with audioOnly) into
// a faststart MP4 out; Finalize's and ExtractAudio's engine. Finalize's
// partial file is removed after.
func remux(ctx context.Context, partial, out string, audioOnly bool, logger *slog.Logger) (err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var logs avlog.Set
	defer logs.Release() // after the contexts are freed
	in := astiav.AllocFormatContext()
	if in == nil {
		return errors.New("compose: allocating format context failed")
	}
	logs.Add(in, logger)
	defer in.Free()
	if err := in.OpenInput(partial, nil, nil); err != nil {
		return fmt.Errorf("%w: partial output %s: %w", ErrInput, partial, err)
	}
	defer in.CloseInput()
	if err := in.FindStreamInfo(nil); err != nil {
		return fmt.Errorf("%w: partial output %s: %w", ErrInput, partial, err)
	}

	dir, base := filepath.Split(out)
	tmpf, err := os.CreateTemp(dir, "."+strings.TrimSuffix(base, filepath.Ext(base))+".*.mp4.tmp")
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	tmp := tmpf.Name()
	_ = tmpf.Close()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	fc, err := astiav.AllocOutputFormatContext(nil, "mp4", tmp)
	if err != nil {
		return fmt.Errorf("compose: allocating mp4 muxer: %w", err)
	}
	logs.Add(fc, logger)
	defer fc.Free()
	streams := map[int]*astiav.Stream{}
	for _, is := range in.Streams() {
		mt := is.CodecParameters().MediaType()
		if (mt != astiav.MediaTypeVideo || audioOnly) && mt != astiav.MediaTypeAudio {
			continue
		}
		ost := fc.NewStream(nil)
		if ost == nil {
			return errors.New("compose: creating stream failed")
		}
		if err := is.CodecParameters().Copy(ost.CodecParameters()); err != nil {
			return fmt.Errorf("compose: stream parameters: %w", err)
		}
		ost.CodecParameters().SetCodecTag(0)
		ost.SetTimeBase(is.TimeBase())
		ost.SetAvgFrameRate(is.AvgFrameRate())
		ost.SetRFrameRate(is.RFrameRate())
		streams[is.Index()] = ost
	}
	if len(streams) == 0 {
		return fmt.Errorf("%w: partial output %s has no audio or video", ErrInput, partial)
	}
	pb, err := astiav.OpenIOContext(tmp, astiav.NewIOContextFlags(astiav.IOContextFlagWrite), nil, nil)
	if err != nil {
		return fmt.Errorf("compose: creating %s: %w", tmp, err)
	}
	pbClosed := false
	defer func() {
		if !pbClosed {
			_ = pb.Close()
		}
	}()
	fc.SetPb(pb)
	mo := astiav.NewDictionary()
	defer mo.Free()
	_ = mo.Set("movflags", "+faststart", astiav.NewDictionaryFlags())
	if err := fc.WriteHeader(mo); err != nil {
		return fmt.Errorf("compose: writing mp4 header: %w", err)
	}
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	var packets, dropped int
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
		if err := in.ReadFrame(pkt); err != nil {
			if !errors.Is(err, astiav.ErrEof) {
				logger.Warn("partial output ends early (cut by a crash?): finalising what was read", "file", partial, "packets", packets, "error", err)
			}
			break
		}
		err := func() error {
			defer pkt.Unref()
			ost, ok := streams[pkt.StreamIndex()]
			if !ok {
				return nil
			}
			if pkt.Flags().Has(astiav.PacketFlagCorrupt) {
				dropped++
				return nil
			}
			pkt.RescaleTs(in.Streams()[pkt.StreamIndex()].TimeBase(), ost.TimeBase())
			pkt.SetStreamIndex(ost.Index())
			pkt.SetPos(-1)
			packets++
			return fc.WriteInterleavedFrame(pkt)
		}()
		if err != nil {
			return fmt.Errorf("compose: writing %s: %w", tmp, err)
		}
	}
	if dropped > 0 {
		logger.Warn("partial output: damaged packets left out", "file", partial, "packets", dropped)
	}
	if packets == 0 {
		return fmt.Errorf("%w: partial output %s holds no media", ErrInput, partial)
	}
	if err := fc.WriteTrailer(); err != nil {
		return fmt.Errorf("compose: writing mp4 trailer: %w", err)
	}
	pbClosed = true
	if err := pb.Close(); err != nil {
		return fmt.Errorf("compose: closing %s: %w", tmp, err)
	}
	// CreateTemp made the file 0600; the recording is an ordinary output
	// file, readable like the recorder's files.
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	if audioOnly {
		return nil
	}
	if err := os.Remove(partial); err != nil {
		logger.Warn("cannot remove partial output", "file", partial, "error", err)
	}
	return nil
}

// FinalizeDir finalises every partial output ([PartialPath]) in dir, as a
// bot killed while composing live leaves it, and returns the finished
// files. It wraps [ErrNoPartial] when there is none.
func FinalizeDir(ctx context.Context, dir string, logger *slog.Logger) ([]string, error) {
	parts, err := filepath.Glob(filepath.Join(dir, "*.part.mp4"))
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	var done []string
	for _, p := range parts {
		if strings.HasPrefix(filepath.Base(p), ".") {
			continue // an offline composition's temporary file
		}
		out := strings.TrimSuffix(p, ".part.mp4") + ".mp4"
		if err := Finalize(ctx, p, out, logger); err != nil {
			return done, err
		}
		done = append(done, out)
	}
	if len(done) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoPartial, dir)
	}
	return done, nil
}
