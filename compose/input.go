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

// decodeAhead is how many decoded frames each video input keeps ready:
// decoding runs in its own goroutine, in parallel with filtering and
// encoding, a few frames ahead.
const decodeAhead = 2

// videoInput is one participant's video, decoded ahead in a goroutine and
// held: the current frame is the latest one at or before the output time.
// A participant who rejoined or restarted their camera has several files;
// they are decoded one after the other, in the order they started, as one
// stream on the session clock.
type videoInput struct {
	name  string
	files []videoFile

	frames chan decoded
	stop   chan struct{}
	exited chan struct{}

	cur, next       decoded
	hasCur, hasNext bool
	eof             bool
}

// decoded is a frame with its time on the session clock, or the decoder's
// error.
type decoded struct {
	f   *astiav.Frame
	t   time.Duration
	err error
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

// videoFile is one video file of a participant.
type videoFile struct {
	dec   *demux.Decoder
	start time.Duration // session time of the file's timestamp 0
}

// openVideo opens every file of tracks (in the order given, which must be
// the order they started); nil when tracks is empty.
func openVideo(p manifest.Participant, tracks []manifest.Track, opts demux.Options) (*videoInput, error) {
	if len(tracks) == 0 {
		return nil, nil
	}
	v := &videoInput{name: p.Name}
	for _, t := range tracks {
		if err := checkFile(p.Name, "video", t.Path); err != nil {
			v.close()
			return nil, err
		}
		d, err := demux.Open(t.Path, demux.Video, opts)
		if err != nil {
			v.close()
			return nil, fmt.Errorf("%w: participant %q: video file %s: %w", ErrInput, p.Name, t.Path, err)
		}
		v.files = append(v.files, videoFile{dec: d, start: t.Start()})
	}
	return v, nil
}

// startDecoding starts the decoding goroutine.
func (v *videoInput) startDecoding() {
	v.frames = make(chan decoded, decodeAhead)
	v.stop = make(chan struct{})
	v.exited = make(chan struct{})
	go v.decode()
}

func (v *videoInput) decode() {
	defer close(v.exited)
	defer close(v.frames)
	var last time.Duration
	for _, file := range v.files {
		for {
			f := astiav.AllocFrame()
			err := file.dec.Next(f)
			if err != nil {
				f.Free()
				if errors.Is(err, io.EOF) {
					break // on to the next file
				}
				select {
				case v.frames <- decoded{err: fmt.Errorf("compose: participant %q: %w", v.name, err)}:
				case <-v.stop:
				}
				return
			}
			t := last + time.Millisecond
			if pts := f.Pts(); pts != astiav.NoPtsValue {
				t = file.start + file.dec.Time(pts)
			}
			// Frames must come in time order for sample and hold; a
			// later file that overlaps an earlier one (it should not)
			// loses its overlapping frames rather than rewinding.
			if t < last {
				f.Free()
				continue
			}
			last = t
			select {
			case v.frames <- decoded{f: f, t: t}:
			case <-v.stop:
				f.Free()
				return
			}
		}
	}
}

// fetch takes the next decoded frame into v.next.
func (v *videoInput) fetch() error {
	if v.eof || v.hasNext {
		return nil
	}
	d, ok := <-v.frames
	if !ok {
		v.eof = true
		return nil
	}
	if d.err != nil {
		return d.err
	}
	v.next, v.hasNext = d, true
	return nil
}

// advance makes cur the latest frame at or before t.
func (v *videoInput) advance(t time.Duration) error {
	for {
		if err := v.fetch(); err != nil {
			return err
		}
		if !v.hasNext || v.next.t > t+frameSlack {
			return nil
		}
		if v.hasCur {
			v.cur.f.Free()
		}
		v.cur, v.hasCur, v.hasNext = v.next, true, false
	}
}

// frame is the current frame; only valid when source returned non-nil.
func (v *videoInput) frame() *astiav.Frame { return v.cur.f }

// source is the picture to show at t, nil when there is none (not started,
// or stopped for longer than hold; hold < 0 holds forever).
func (v *videoInput) source(t, hold time.Duration) *graph.Source {
	if v == nil || !v.hasCur || (hold >= 0 && t-v.cur.t > hold) {
		return nil
	}
	f := v.cur.f
	return &graph.Source{Width: f.Width(), Height: f.Height(), PixelFormat: f.PixelFormat().Name()}
}

func (v *videoInput) close() {
	if v == nil {
		return
	}
	if v.stop != nil {
		close(v.stop)
		for d := range v.frames {
			if d.f != nil {
				d.f.Free()
			}
		}
		<-v.exited
	}
	if v.hasCur {
		v.cur.f.Free()
	}
	if v.hasNext {
		v.next.f.Free()
	}
	for _, file := range v.files {
		file.dec.Close()
	}
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
