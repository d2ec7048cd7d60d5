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

// Clip is a synthetic participant's media encoded once and looped by a
// [Publisher]: testmedia's tinted, flashing picture in VP8 at 30 fps (one
// layer per size, starting with a keyframe) and its beeping tone in 20 ms
// Opus packets.
type Clip struct {
	// Index is the participant index that picks the tint and tone.
	Index int
	// Layers are the video layers, largest first; empty for audio only.
	Layers []Layer
	// Audio holds the Opus packets; empty for video only.
	Audio [][]byte
}

// Layer is one video size of a clip.
type Layer struct {
	Width, Height int
	Frames        [][]byte
}

// Frame durations of a clip.
const (
	VideoFrame = time.Second / testmedia.FrameRate
	AudioFrame = 20 * time.Millisecond
)

// Size is a picture size.
type Size struct{ W, H int }

// MakeClip encodes participant index's clip in dir: one video layer per
// size (none for an audio-only participant) and audio unless noAudio.
func MakeClip(ctx context.Context, dir string, index int, sizes []Size, noAudio bool) (*Clip, error) {
	c := &Clip{Index: index}
	for li, sz := range sizes {
		audio := testmedia.NoAudio
		if li == 0 && !noAudio {
			audio = testmedia.OpusOgg
		}
		s, err := makeOne(ctx, filepath.Join(dir, "clip"+strconv.Itoa(index)+"_"+strconv.Itoa(li)), index,
			testmedia.Participant{Width: sz.W, Height: sz.H, Video: testmedia.VP8WebM, Audio: audio, CFR: true})
		if err != nil {
			return nil, err
		}
		frames, err := readPackets(s.video)
		if err != nil {
			return nil, err
		}
		if len(frames) == 0 || frames[0][0]&1 != 0 {
			return nil, fmt.Errorf("lktest: clip %d layer %dx%d does not start with a keyframe", index, sz.W, sz.H)
		}
		c.Layers = append(c.Layers, Layer{Width: sz.W, Height: sz.H, Frames: frames})
		if s.audio != "" {
			if c.Audio, err = readPackets(s.audio); err != nil {
				return nil, err
			}
		}
	}
	if len(sizes) == 0 && !noAudio {
		s, err := makeOne(ctx, filepath.Join(dir, "clip"+strconv.Itoa(index)+"_a"), index,
			testmedia.Participant{Video: testmedia.NoVideo, Audio: testmedia.OpusOgg})
		if err != nil {
			return nil, err
		}
		if c.Audio, err = readPackets(s.audio); err != nil {
			return nil, err
		}
	}
	return c, nil
}

type clipFiles struct{ video, audio string }

// makeOne writes one clip with testmedia, as participant index (the
// participants before it have no media).
func makeOne(ctx context.Context, dir string, index int, p testmedia.Participant) (clipFiles, error) {
	parts := make([]testmedia.Participant, index+1)
	for i := range parts {
		parts[i] = testmedia.Participant{Name: "p" + strconv.Itoa(i), Leave: ClipLength,
			Video: testmedia.NoVideo, Audio: testmedia.NoAudio}
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
