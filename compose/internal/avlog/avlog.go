// Package avlog ties FFmpeg contexts to the logger of the composition
// that owns them.
//
// FFmpeg's log callback is process-wide (compose.SetFFmpegLogger), but
// each message comes with the context that wrote it: the pointer to the
// struct whose first member is its AVClass ("ptr" of av_log). A
// composition registers the codec, format and filter-graph contexts it
// allocates with its own logger ([Set.Add]: the job's, with job=ID) and
// releases them once they are freed ([Set.Release]); the callback looks
// the message's context up ([Lookup]) and logs the line there, or to the
// default logger when the context is nobody's.
//
// Messages of a filter come from the filter's context, not its graph's;
// frame-threaded decoders log through per-thread copies of their codec
// context. The callback resolves both to the registered context (the
// filter's graph; the copy's opaque, which [Set.Add] sets to the original
// and FFmpeg copies into every thread's context). Contexts FFmpeg creates
// on its own without a link back (the I/O and protocol contexts of a
// muxer, a resampler) are nobody's.
package avlog

/*
#cgo pkg-config: libavcodec
#include <libavcodec/avcodec.h>

static void avlogSetOpaque(void *cc) { ((AVCodecContext *)cc)->opaque = cc; }
*/
import "C"

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/asticode/go-astiav"
)

// MaxContexts bounds the registry: a composition holds a format and a
// codec context per track it decodes (two or three per participant), two
// encoders, a muxer per output and a filter graph, so 4096 is some twenty
// 64-participant compositions at once. A registration beyond it is refused
// (that context's lines go to the default logger) and counted.
const MaxContexts = 4096

type entry struct {
	log   *slog.Logger
	owner uint64
}

// The registry: FFmpeg's threads read it in the callback (RLock); owners
// add and remove their contexts. mu guards contexts; nothing else is
// locked under it and no logger is called while it is held.
var (
	mu       sync.RWMutex
	contexts = map[uintptr]entry{}
	owners   atomic.Uint64
	refused  atomic.Int64
)

// Set is the contexts one owner (an output, a decoder, a filter graph
// runner) registered. Its zero value is empty and ready; its methods are
// for the owner's goroutine, the one that allocates and frees the
// contexts.
type Set struct {
	id   uint64
	ptrs []uintptr
}

// Add registers c so that FFmpeg's messages about it go to log. Call it
// right after the allocation, before opening, so that the opening's
// messages are attributed too. A nil log or a context without a pointer
// is ignored.
func (s *Set) Add(c astiav.Classer, log *slog.Logger) {
	if log == nil || c == nil || log.Handler() == slog.DiscardHandler {
		return // nobody reads it: the default logger may
	}
	p := Pointer(c)
	if p == 0 {
		return
	}
	if s.id == 0 {
		s.id = owners.Add(1)
	}
	if cc, ok := c.(*astiav.CodecContext); ok {
		C.avlogSetOpaque(cc.UnsafePointer())
	}
	mu.Lock()
	if _, ok := contexts[p]; !ok && len(contexts) >= MaxContexts {
		mu.Unlock()
		refused.Add(1)
		return
	}
	contexts[p] = entry{log: log, owner: s.id}
	mu.Unlock()
	s.ptrs = append(s.ptrs, p)
}

// Release unregisters the contexts s registered that are still its own (a
// freed context's address may have been taken by another owner's new
// context since). Call it after freeing them: the messages FFmpeg writes
// while freeing (libx264's statistics) are attributed too. s is empty
// after, ready for reuse; calling it again does nothing.
func (s *Set) Release() {
	if len(s.ptrs) == 0 {
		return
	}
	mu.Lock()
	for _, p := range s.ptrs {
		if e, ok := contexts[p]; ok && e.owner == s.id {
			delete(contexts, p)
		}
	}
	mu.Unlock()
	s.ptrs = s.ptrs[:0]
}

// Lookup returns the logger of the first of keys that is registered, nil
// if none is. It is safe on any thread.
func Lookup(keys [2]uintptr) *slog.Logger {
	mu.RLock()
	defer mu.RUnlock()
	for _, k := range keys {
		if k == 0 {
			continue
		}
		if e, ok := contexts[k]; ok {
			return e.log
		}
	}
	return nil
}

// Len is the number of contexts registered now.
func Len() int {
	mu.RLock()
	defer mu.RUnlock()
	return len(contexts)
}

// Refused is the number of registrations refused for MaxContexts.
func Refused() int64 { return refused.Load() }

// Pointer is c's C address (the ptr FFmpeg's log callback gets), 0 when c
// has none. go-astiav exports it for codec contexts only; for the others
// it is read from Class().String(), which ends with it.
func Pointer(c astiav.Classer) uintptr {
	if cc, ok := c.(*astiav.CodecContext); ok {
		if cc == nil {
			return 0
		}
		return uintptr(cc.UnsafePointer())
	}
	cl := c.Class()
	if cl == nil {
		return 0
	}
	return parsePointer(cl.String())
}

// parsePointer reads the address go-astiav's Class.String ends with
// ("item [class] @ 0xc0ffee"); 0 when there is none.
func parsePointer(s string) uintptr {
	i := strings.LastIndex(s, " @ 0x")
	if i < 0 {
		return 0
	}
	v, err := strconv.ParseUint(s[i+len(" @ 0x"):], 16, 64)
	if err != nil {
		return 0
	}
	return uintptr(v)
}
