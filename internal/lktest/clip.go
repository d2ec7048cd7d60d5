package lktest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/internal/testmedia"
)

// ClipLength is the length of an encoded clip: one marker period, so that
// looping it keeps a flash and a beep every 2 s of participant-local
// time.
const ClipLength = testmedia.MarkerPeriod

// Clip is a synthetic participant's media: video drawn and encoded live
// by the publisher in the given layer sizes, and audio (testmedia's
// beeping tone in 20 ms Opus packets, encoded once and looped).
type Clip struct {
	// Index is the participant index that picks the tint and tone.
	Index int
	// Layers are the video layer sizes, largest first; empty for audio
	// only.
	Layers []Size
	// Audio holds the Opus packets of one ClipLength; empty for video
	// only.
	Audio [][]byte
	// Level (optional) gives the RFC 6464 level (-dBov) of the audio
	// packet due at an instant (the publisher's Origin plus its media
	// time), sent in the audio-level header extension, which
	// livekit-server's speaker detection reads.
	Level func(due time.Time) uint8
}

// AudioFrame is the duration of an Opus packet of a clip.
const AudioFrame = 20 * time.Millisecond

// Size is a picture size.
type Size struct{ W, H int }

// MakeClip prepares participant index's clip in dir: its audio unless
// noAudio, and its video layer sizes (none for an audio-only
// participant).
func MakeClip(ctx context.Context, dir string, index int, sizes []Size, noAudio bool) (*Clip, error) {
	c := &Clip{Index: index, Layers: sizes}
	if noAudio {
		return c, nil
	}
	s, err := makeOne(ctx, filepath.Join(dir, "clip"+strconv.Itoa(index)), index,
		testmedia.Participant{Video: testmedia.NoVideo, Audio: testmedia.OpusOgg})
	if err != nil {
		return nil, err
	}
	if c.Audio, err = readPackets(s.audio); err != nil {
		return nil, err
	}
	// The encoder's delay (Opus pre-skip, 6.5 ms) spills into one more
	// packet of silence: loop exactly one marker period.
	n := int(ClipLength / AudioFrame)
	if len(c.Audio) < n {
		return nil, fmt.Errorf("lktest: clip %d has %d audio packets, want %d", index, len(c.Audio), n)
	}
	c.Audio = c.Audio[:n]
	return c, nil
}

type clipFiles struct{ video, audio string }

// makeOne writes one clip with testmedia, as participant index (the
// participants before it have no media).
func makeOne(ctx context.Context, dir string, index int, p testmedia.Participant) (clipFiles, error) {
	parts := make([]testmedia.Participant, index+1)
	for i := range parts {
		parts[i] = testmedia.Participant{
			Name: "p" + strconv.Itoa(i), Leave: ClipLength,
			Video: testmedia.NoVideo, Audio: testmedia.NoAudio,
		}
	}
	p.Name, p.Join, p.Leave = "p"+strconv.Itoa(index), 0, ClipLength
	parts[index] = p
	s, _, err := testmedia.Make(ctx, dir, parts, testmedia.Options{})
	if err != nil {
		return clipFiles{}, fmt.Errorf("lktest: clip %d: %w", index, err)
	}
	mp := s.Participants[index]
	return clipFiles{video: mp.VideoPath, audio: mp.AudioPath}, nil
}

// readPackets returns the packets of the first stream of a media file.
func readPackets(path string) ([][]byte, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return nil, errors.New("lktest: alloc format context")
	}
	defer fc.Free()
	if err := fc.OpenInput(path, nil, nil); err != nil {
		return nil, fmt.Errorf("lktest: open %s: %w", path, err)
	}
	defer fc.CloseInput()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	var out [][]byte
	for {
		if err := fc.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				return out, nil
			}
			return nil, fmt.Errorf("lktest: read %s: %w", path, err)
		}
		if pkt.StreamIndex() == 0 && pkt.Size() > 0 {
			out = append(out, append([]byte(nil), pkt.Data()...))
		}
		pkt.Unref()
	}
}
