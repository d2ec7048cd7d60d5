package compose

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/compose/graph"
	"github.com/roomtape/roomtape/mix"
)

// frameSlack absorbs rounding between a frame's timestamp converted to the
// session clock and an output frame's time n/FPS (integer nanoseconds on
// both sides): a frame stamped exactly at n/FPS is shown at frame n.
const frameSlack = time.Millisecond

// decodeAhead is how many decoded frames each video input keeps ready:
// decoding runs in its own goroutine, in parallel with filtering and
// encoding, a few frames ahead.
const decodeAhead = 2

// busyPoll is how long the composer waits at a time for an input whose
// decoder is busy (not starved) before looking again.
const busyPoll = 2 * time.Millisecond

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

// openFile opens tf for decoding: a complete file directly (seekable, as
// an MP4 with its index at the end needs), one still being recorded through
// a tailReader that follows it as it grows. The tailReader is nil for a
// complete file.
func openFile(who string, k demux.Kind, tf *trackFile, stop <-chan struct{}, starved *atomic.Bool, opts demux.Options) (*demux.Decoder, *tailReader, error) {
	if tf.complete.Load() {
		d, err := demux.Open(tf.path, k, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: participant %q: %s file %s: %w", ErrInput, who, k, tf.path, err)
		}
		return d, nil, nil
	}
	r, err := openTail(tf, stop, starved)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: participant %q: %s file: %w", ErrInput, who, k, err)
	}
	opts.Reader = r
	d, err := demux.Open(tf.path, k, opts)
	if err != nil {
		_ = r.Close()
		if errors.Is(err, errStopped) {
			return nil, nil, errStopped
		}
		return nil, nil, fmt.Errorf("%w: participant %q: %s file %s: %w", ErrInput, who, k, tf.path, err)
	}
	return d, r, nil
}

// inputState is what the composer's owner goroutine knows of an input's
// decoding goroutine without blocking: starved is set while the goroutine
// waits for bytes that are not recorded yet (or for the next file), having
// handed over everything before.
type inputState struct {
	stop    chan struct{}
	exited  chan struct{}
	starved atomic.Bool
}

func newInputState() inputState {
	return inputState{stop: make(chan struct{}), exited: make(chan struct{})}
}

// recv takes the next item of ch for the owner goroutine: it waits while
// the producer is busy, and returns ok false, without waiting, when the
// producer is starved and ch is empty (nothing recorded yet). closed
// reports a closed ch.
func recv[T any](ch <-chan T, st *inputState, timer *time.Timer) (v T, ok, closed bool) {
	for {
		select {
		case v, ok := <-ch:
			return v, ok, !ok
		default:
		}
		if st.starved.Load() {
			// The producer sends before it starves: with the flag set, an
			// empty channel means there is nothing more for now.
			select {
			case v, ok := <-ch:
				return v, ok, !ok
			default:
				return v, false, false
			}
		}
		timer.Reset(busyPoll)
		select {
		case v, ok := <-ch:
			timer.Stop()
			return v, ok, !ok
		case <-timer.C:
		}
	}
}

// videoInput is one participant's video, decoded ahead in a goroutine and
// held: the current frame is the latest one at or before the output time.
// A participant who rejoined or restarted their camera has several files;
// they are decoded one after the other, in the order they started, as one
// stream on the session clock.
//
// Ownership: the composer's owner goroutine calls add, finish, advance,
// source, frame and close; the decoding goroutine (decode) owns the
// decoders and sends frames on frames. mu guards files and noMore, the
// queue between the two; wake (capacity 1) tells the decoder it changed.
type videoInput struct {
	name string
	opts demux.Options

	mu     sync.Mutex
	files  []*trackFile
	noMore bool
	wake   chan struct{}

	st     inputState
	frames chan decoded
	timer  *time.Timer

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

func newVideoInput(name string, opts demux.Options) *videoInput {
	v := &videoInput{
		name: name, opts: opts, wake: make(chan struct{}, 1),
		st: newInputState(), frames: make(chan decoded, decodeAhead), timer: time.NewTimer(time.Hour),
	}
	v.timer.Stop()
	go v.decode()
	return v
}

// add queues a file; files must be added in the order they start.
func (v *videoInput) add(tf *trackFile) {
	v.mu.Lock()
	v.files = append(v.files, tf)
	v.mu.Unlock()
	v.signal()
}

// finish says no more files will be added.
func (v *videoInput) finish() {
	v.mu.Lock()
	v.noMore = true
	v.mu.Unlock()
	v.signal()
}

func (v *videoInput) signal() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// nextFile waits for file i, starved while none is queued; nil after
// finish (or stop) when there is none.
func (v *videoInput) nextFile(i int) *trackFile {
	for {
		v.mu.Lock()
		var tf *trackFile
		if i < len(v.files) {
			tf = v.files[i]
		}
		done := v.noMore
		v.mu.Unlock()
		if tf != nil {
			v.st.starved.Store(false)
			return tf
		}
		if done {
			return nil
		}
		v.st.starved.Store(true)
		select {
		case <-v.wake:
		case <-v.st.stop:
			return nil
		}
	}
}

func (v *videoInput) decode() {
	defer close(v.st.exited)
	defer close(v.frames)
	var last time.Duration
	send := func(d decoded) bool {
		select {
		case v.frames <- d:
			return true
		case <-v.st.stop:
			if d.f != nil {
				d.f.Free()
			}
			return false
		}
	}
	for i := 0; ; i++ {
		file := v.nextFile(i)
		if file == nil {
			return
		}
		d, r, err := openFile(v.name, demux.Video, file, v.st.stop, &v.st.starved, v.opts)
		if err != nil {
			if !errors.Is(err, errStopped) {
				send(decoded{err: err})
			}
			return
		}
		ok := v.decodeFile(d, file, &last, send)
		d.Close()
		if r != nil {
			_ = r.Close()
		}
		if !ok {
			return
		}
	}
}

// decodeFile sends every frame of one file; false means stop.
func (v *videoInput) decodeFile(d *demux.Decoder, file *trackFile, last *time.Duration, send func(decoded) bool) bool {
	for {
		f := astiav.AllocFrame()
		err := d.Next(f)
		if err != nil {
			f.Free()
			if errors.Is(err, io.EOF) {
				return true // on to the next file
			}
			if errors.Is(err, errStopped) {
				return false
			}
			send(decoded{err: fmt.Errorf("compose: participant %q: %w", v.name, err)})
			return false
		}
		t := *last + time.Millisecond
		if pts := f.Pts(); pts != astiav.NoPtsValue {
			t = file.start + d.Time(pts)
		}
		// Frames must come in time order for sample and hold; a later file
		// that overlaps an earlier one (it should not) loses its
		// overlapping frames rather than rewinding.
		if t < *last {
			f.Free()
			continue
		}
		*last = t
		if !send(decoded{f: f, t: t}) {
			return false
		}
	}
}

// fetch takes the next decoded frame into v.next, if there is one now.
func (v *videoInput) fetch() error {
	if v.eof || v.hasNext {
		return nil
	}
	d, ok, closed := recv(v.frames, &v.st, v.timer)
	switch {
	case closed:
		v.eof = true
	case !ok:
	case d.err != nil:
		return d.err
	default:
		v.next, v.hasNext = d, true
	}
	return nil
}

// advance makes cur the latest frame at or before t that has been
// recorded.
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
	close(v.st.stop)
	for d := range v.frames {
		if d.f != nil {
			d.f.Free()
		}
	}
	<-v.st.exited
	if v.hasCur {
		v.cur.f.Free()
	}
	if v.hasNext {
		v.next.f.Free()
	}
}

// audioAhead is how many decoded blocks (about 20 ms each for Opus) an
// audio input keeps ready.
const audioAhead = 8

// audioSource places one microphone file's decoded audio on the session
// clock for mix. A goroutine (decode) decodes and resamples the file,
// following it while it is recorded, and sends copies of the blocks on
// chunks; NextChunk runs in the mixing goroutine. A file that starts when
// the composition is under way is added to the mixer then.
type audioSource struct {
	name   string
	file   *trackFile
	opts   demux.Options
	offset int64 // session sample frame of the file's timestamp 0

	st     inputState
	chunks chan audioChunk
	timer  *time.Timer
}

type audioChunk struct {
	c   mix.Chunk
	err error
}

func newAudioSource(name string, tf *trackFile, opts demux.Options) *audioSource {
	a := &audioSource{
		name: name, file: tf, opts: opts, offset: int64(math.Round(tf.start.Seconds() * mix.SampleRate)),
		st: newInputState(), chunks: make(chan audioChunk, audioAhead), timer: time.NewTimer(time.Hour),
	}
	a.timer.Stop()
	go a.decode()
	return a
}

func (a *audioSource) decode() {
	defer close(a.st.exited)
	defer close(a.chunks)
	send := func(c audioChunk) bool {
		select {
		case a.chunks <- c:
			return true
		case <-a.st.stop:
			return false
		}
	}
	opts := a.opts
	if !a.file.complete.Load() { // follow a file still being recorded
		tr, err := openTail(a.file, a.st.stop, &a.st.starved)
		if err != nil {
			send(audioChunk{err: fmt.Errorf("%w: participant %q: audio file: %w", ErrInput, a.name, err)})
			return
		}
		defer func() { _ = tr.Close() }()
		opts.Reader = tr
	}
	r, err := demux.OpenAudio(a.file.path, mix.SampleRate, 0, opts)
	if err != nil {
		if !errors.Is(err, errStopped) {
			send(audioChunk{err: fmt.Errorf("%w: participant %q: audio file %s: %w", ErrInput, a.name, a.file.path, err)})
		}
		return
	}
	defer r.Close()
	for {
		start, s, err := r.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, errStopped) {
			return
		}
		if err != nil {
			send(audioChunk{err: fmt.Errorf("compose: participant %q: %w", a.name, err)})
			return
		}
		c := mix.Chunk{Start: a.offset + start, Samples: append([]float32(nil), s...), Channels: r.Channels()}
		if !send(audioChunk{c: c}) {
			return
		}
	}
}

// NextChunk implements mix.Source: it returns mix.ErrNotYet when the
// file's next block is not recorded yet.
func (a *audioSource) NextChunk() (mix.Chunk, error) {
	c, ok, closed := recv(a.chunks, &a.st, a.timer)
	switch {
	case closed:
		return mix.Chunk{}, io.EOF
	case !ok:
		return mix.Chunk{}, mix.ErrNotYet
	}
	return c.c, c.err
}

func (a *audioSource) close() {
	if a == nil {
		return
	}
	close(a.st.stop)
	for range a.chunks { // drain so that decode can exit
	}
	<-a.st.exited
}
