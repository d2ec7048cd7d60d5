package compose

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/compose/graph"
	"github.com/roomtape/roomtape/mix"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// frameSlack absorbs rounding between a frame's timestamp converted to the
// session clock and an output frame's time n/FPS (integer nanoseconds on
// both sides): a frame stamped exactly at n/FPS is shown at frame n.
const frameSlack = time.Millisecond

// videoInput is one participant's video, decoded on demand and held: the
// current frame is the latest one at or before the output time.
type videoInput struct {
	name  string
	dec   *demux.Decoder
	start time.Duration // session time of the file's timestamp 0

	cur, next       *astiav.Frame
	curT, nextT     time.Duration
	hasCur, hasNext bool
	eof             bool
	lastT           time.Duration
}

// checkFile gives a clear error for a missing or unreadable file before
// FFmpeg does.
func checkFile(who, kind, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: participant %q: %s file: %w", ErrInput, who, kind, err)
	}
	if st.IsDir() {
		return fmt.Errorf("%w: participant %q: %s file %s is a directory", ErrInput, who, kind, path)
	}
	return nil
}

func openVideo(p manifest.Participant, t manifest.Track, opts demux.Options) (*videoInput, error) {
	if err := checkFile(p.Name, "video", t.Path); err != nil {
		return nil, err
	}
	d, err := demux.Open(t.Path, demux.Video, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: participant %q: video file %s: %w", ErrInput, p.Name, t.Path, err)
	}
	return &videoInput{name: p.Name, dec: d, start: t.Start(), cur: astiav.AllocFrame(), next: astiav.AllocFrame()}, nil
}

// fetch decodes the next frame into v.next.
func (v *videoInput) fetch() error {
	if v.eof || v.hasNext {
		return nil
	}
	err := v.dec.Next(v.next)
	if errors.Is(err, io.EOF) {
		v.eof = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("compose: participant %q: %w", v.name, err)
	}
	if pts := v.next.Pts(); pts != astiav.NoPtsValue {
		v.nextT = v.start + v.dec.Time(pts)
	} else {
		v.nextT = v.lastT + time.Millisecond
	}
	v.lastT = v.nextT
	v.hasNext = true
	return nil
}

// advance makes cur the latest frame at or before t.
func (v *videoInput) advance(t time.Duration) error {
	for {
		if err := v.fetch(); err != nil {
			return err
		}
		if !v.hasNext || v.nextT > t+frameSlack {
			return nil
		}
		v.cur.Unref()
		v.cur, v.next = v.next, v.cur
		v.curT, v.hasCur, v.hasNext = v.nextT, true, false
	}
}

// source is the picture to show at t, nil when there is none (not started,
// or stopped for longer than hold; hold < 0 holds forever).
func (v *videoInput) source(t, hold time.Duration) *graph.Source {
	if v == nil || !v.hasCur || (hold >= 0 && t-v.curT > hold) {
		return nil
	}
	return &graph.Source{Width: v.cur.Width(), Height: v.cur.Height(), PixelFormat: v.cur.PixelFormat().Name()}
}

func (v *videoInput) close() {
	if v == nil {
		return
	}
	v.cur.Free()
	v.next.Free()
	v.dec.Close()
}

// audioSource places a participant's decoded audio on the session clock
// for mix.
type audioSource struct {
	name   string
	r      *demux.AudioReader
	offset int64 // session sample frame of the file's timestamp 0
}

func openAudio(p manifest.Participant, t manifest.Track, opts demux.Options) (*audioSource, error) {
	if err := checkFile(p.Name, "audio", t.Path); err != nil {
		return nil, err
	}
	r, err := demux.OpenAudio(t.Path, mix.SampleRate, 0, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: participant %q: audio file %s: %w", ErrInput, p.Name, t.Path, err)
	}
	return &audioSource{name: p.Name, r: r, offset: int64(math.Round(t.Start().Seconds() * mix.SampleRate))}, nil
}

// NextChunk implements mix.Source.
func (a *audioSource) NextChunk() (mix.Chunk, error) {
	start, s, err := a.r.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return mix.Chunk{}, io.EOF
		}
		return mix.Chunk{}, fmt.Errorf("compose: participant %q: %w", a.name, err)
	}
	return mix.Chunk{Start: a.offset + start, Samples: s, Channels: a.r.Channels()}, nil
}

func (a *audioSource) close() {
	if a != nil {
		a.r.Close()
	}
}
