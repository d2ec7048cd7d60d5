package synth

import (
	"context"
	"fmt"
	"time"
)

// Clip is media encoded once by [EncodeClip] and replayed, looped, by
// [PublishClip].
type Clip struct {
	// VideoCodec is VP8, VP9, H264 or AV1 ("" without video).
	VideoCodec string
	// FPS is the video frame rate.
	FPS int
	// Video holds the encoded frames; Video[0] is a keyframe.
	Video [][]byte
	// Audio holds 20 ms Opus packets.
	Audio [][]byte
	// Width and Height are the picture size.
	Width, Height int
}

// Bytes returns the clip's encoded size.
func (c *Clip) Bytes() int {
	n := 0
	for _, f := range c.Video {
		n += len(f)
	}
	for _, a := range c.Audio {
		n += len(a)
	}
	return n
}

// EncodeClip encodes length of participant p's picture and tone, faster
// than real time. length is rounded up to whole marker periods (2 s) so
// that the markers keep their rhythm when the clip loops; the clip's only
// keyframe is its first frame, so a loop restarts decoding cleanly.
func EncodeClip(p Participant, length time.Duration) (*Clip, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	periods := max(1, int((length+MarkerPeriod-1)/MarkerPeriod))
	length = time.Duration(periods) * MarkerPeriod
	frames := int(int64(length) * int64(p.FPS) / int64(time.Second))
	p.KeyframeInterval = frames + 1
	clip := &Clip{FPS: p.FPS, Width: p.Width, Height: p.Height}
	if p.Video {
		clip.VideoCodec = p.VideoCodec
		v, err := newVideoSource(p, true)
		if err != nil {
			return nil, err
		}
		defer v.close()
		for i := range frames {
			data, _, err := v.frame(i, frameTime(i, p.FPS), false)
			if err != nil {
				return nil, err
			}
			clip.Video = append(clip.Video, data)
		}
	}
	if p.Audio {
		a, err := newLiveAudio(p)
		if err != nil {
			return nil, err
		}
		defer a.close()
		for k := range int(length / audioFrame) {
			data, err := a.packet(k)
			if err != nil {
				return nil, err
			}
			clip.Audio = append(clip.Audio, data)
		}
	}
	return clip, nil
}

// PublishClip connects participant p to whipURL like [Publish] but sends
// clip, looped, instead of encoding live. p's Name, ID, Token, Index and
// test knobs are used; its media settings come from the clip.
func PublishClip(ctx context.Context, whipURL string, p Participant, clip *Clip) (*Publisher, error) {
	p.Video, p.Audio = len(clip.Video) > 0, len(clip.Audio) > 0
	if !p.Video && !p.Audio {
		return nil, fmt.Errorf("%w: empty clip", ErrBadParticipant)
	}
	p.VideoCodec, p.FPS, p.Width, p.Height = clip.VideoCodec, clip.FPS, clip.Width, clip.Height
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	var vs videoSource
	var as audioSource
	if p.Video {
		vs = clipVideo{clip}
	}
	if p.Audio {
		as = clipAudio{clip}
	}
	return publish(ctx, whipURL, p, vs, as)
}

// clipVideo replays a clip's frames.
type clipVideo struct{ c *Clip }

// frame returns frame i of the loop; a PLI is answered by the next loop's
// keyframe.
func (v clipVideo) frame(i int, _ time.Duration, _ bool) ([]byte, bool, error) {
	k := i % len(v.c.Video)
	return v.c.Video[k], k == 0, nil
}

// skippable: delta frames of a clip must all be sent.
func (clipVideo) skippable() bool { return false }

func (clipVideo) close() {}

// clipAudio replays a clip's Opus packets.
type clipAudio struct{ c *Clip }

// packet returns packet k of the loop.
func (a clipAudio) packet(k int) ([]byte, error) { return a.c.Audio[k%len(a.c.Audio)], nil }

func (clipAudio) close() {}
