package compose

/*
#cgo pkg-config: libavutil libavcodec libavfilter
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <libavutil/log.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>

extern void roomtapeFFmpegLog(char *component, int level, char *msg, uintptr_t key, uintptr_t parent);

// roomtapeLogOwner is the context a message about ptr is attributed to
// (compose/internal/avlog): a filter's graph; a codec context's original
// (a frame-threaded decoder logs through per-thread copies, which carry
// the original in opaque); else ptr itself.
static uintptr_t roomtapeLogOwner(void *ptr) {
	if (!ptr) return 0;
	const AVClass *avc = *(const AVClass **)ptr;
	if (avc == avfilter_get_class()) {
		AVFilterGraph *g = ((AVFilterContext *)ptr)->graph;
		return (uintptr_t)(g ? (void *)g : ptr);
	}
	if (avc == avcodec_get_class() && ((AVCodecContext *)ptr)->opaque) {
		return (uintptr_t)((AVCodecContext *)ptr)->opaque;
	}
	return (uintptr_t)ptr;
}

// roomtapeLogParent is ptr's parent logging context (AVClass's
// parent_log_context_offset, as av_log_default_callback reads it), 0 if
// none.
static uintptr_t roomtapeLogParent(void *ptr) {
	if (!ptr) return 0;
	const AVClass *avc = *(const AVClass **)ptr;
	if (!avc || avc->parent_log_context_offset <= 0) return 0;
	void *parent = *(void **)((uint8_t *)ptr + avc->parent_log_context_offset);
	if (!parent || !*(const AVClass **)parent) return 0;
	return roomtapeLogOwner(parent);
}

// roomtapeLogCallback formats one FFmpeg message into a bounded buffer
// (vsnprintf: a long message, such as libx264's options line, is cut, never
// overflowing) and hands it to Go with the emitting component's name.
static void roomtapeLogCallback(void *ptr, int level, const char *fmt, va_list vl) {
	if (level > av_log_get_level()) return;
	char msg[2048];
	if (vsnprintf(msg, sizeof msg, fmt, vl) >= (int)sizeof msg) {
		msg[sizeof msg - 2] = '\n'; // cut: end the line here
	}
	const char *name = NULL;
	if (ptr) {
		AVClass *avc = *(AVClass **)ptr;
		if (avc && avc->item_name) name = avc->item_name(ptr);
	}
	roomtapeFFmpegLog((char *)(name ? name : ""), level, msg, roomtapeLogOwner(ptr), roomtapeLogParent(ptr));
}

static void roomtapeSetLogCallback(int level) {
	av_log_set_level(level);
	av_log_set_callback(roomtapeLogCallback);
}
*/
import "C"

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/internal/avlog"
	"github.com/roomtape/roomtape/internal/redact"
)

// FFmpeg's log levels, as ints for the callback (go-astiav's values).
const (
	avLogError   = int(astiav.LogLevelError)
	avLogWarning = int(astiav.LogLevelWarning)
	avLogInfo    = int(astiav.LogLevelInfo)
	avLogDebug   = int(astiav.LogLevelDebug)
)

// ffmpegLogger is the logger FFmpeg's messages go to (nil: dropped).
var ffmpegLogger atomic.Pointer[slog.Logger]

// partial holds, per context and component, the start of a line FFmpeg
// writes in several calls (no newline yet). FFmpeg calls the callback from
// its own threads (libx264's, frame-threaded decoders'); partialMu guards
// the map, and no other lock is taken under it.
var (
	partialMu sync.Mutex
	partial   = map[partialKey]string{}
)

// partialKey is whose unfinished line: the context it is attributed to
// (0: none) and the component.
type partialKey struct {
	ctx       uintptr
	component string
}

// maxPartial bounds a component's unfinished line: a message that never
// ends in a newline is logged once it reaches this size. maxPartials
// bounds the unfinished lines kept at once (a context freed in the middle
// of a line leaves its start behind): beyond it a new unfinished line is
// logged as it is.
const (
	maxPartial  = 4096
	maxPartials = 1024
)

// SetFFmpegLogger routes FFmpeg's own log (libx264's statistics, decoder and
// filter notices) through logger instead of stderr, at mapped levels:
// FFmpeg's errors and worse become slog.LevelWarn (FFmpeg reports many
// recoverable conditions as errors; compose returns the ones that matter
// as errors of its own), its warnings slog.LevelInfo, its informational
// messages (libx264's statistics) slog.LevelDebug, and its verbose and
// debug messages slog.LevelDebug-4. Each record carries the component
// ("libx264", "vp8", a filter's name) as "ffmpeg". FFmpeg's own level is
// set to the lowest one logger enables, so messages nobody reads are not
// even formatted. The routing is process-wide, as FFmpeg's log is; a nil
// logger drops every message but those of compositions.
//
// Lines about a context a composition owns (its decoders, encoders,
// muxers, demuxers and filter graphs) go to that composition's
// Config.Logger instead (a service's job logger, with the job's ID),
// whatever goroutine or FFmpeg thread writes them; lines about other
// contexts (the protocol clients' under a muxer), or none, go to logger.
// Only the levels logger enables are formatted at all.
func SetFFmpegLogger(logger *slog.Logger) {
	ffmpegLogger.Store(logger)
	level := avLogError
	if logger != nil {
		ctx := context.Background()
		for _, l := range []struct {
			slog slog.Level
			av   int
		}{{slog.LevelInfo, avLogWarning}, {slog.LevelDebug, avLogInfo}, {slog.LevelDebug - 4, avLogDebug}} {
			if logger.Enabled(ctx, l.slog) {
				level = l.av
			}
		}
	}
	C.roomtapeSetLogCallback(C.int(level))
}

// FFmpegLogger returns the logger SetFFmpegLogger last set, nil if none.
func FFmpegLogger() *slog.Logger { return ffmpegLogger.Load() }

// ffmpegLevel maps an FFmpeg log level to the slog level SetFFmpegLogger
// documents.
func ffmpegLevel(av int) slog.Level {
	switch {
	case av <= avLogError:
		return slog.LevelWarn
	case av <= avLogWarning:
		return slog.LevelInfo
	case av <= avLogInfo:
		return slog.LevelDebug
	default:
		return slog.LevelDebug - 4
	}
}

//export roomtapeFFmpegLog
func roomtapeFFmpegLog(component *C.char, level C.int, msg *C.char, key, parent C.uintptr_t) {
	keys := [2]uintptr{uintptr(key), uintptr(parent)}
	logger := avlog.Lookup(keys)
	if logger == nil {
		logger = ffmpegLogger.Load()
	}
	if logger == nil {
		return
	}
	logFFmpegLine(logger, partialKey{ctx: keys[0], component: C.GoString(component)}, int(level), C.GoString(msg))
}

// logFFmpegLine logs the complete lines of msg, keeping an unfinished
// tail for the context's next message.
func logFFmpegLine(logger *slog.Logger, key partialKey, level int, msg string) {
	component := key.component
	partialMu.Lock()
	text := partial[key] + msg
	var lines []string
	for {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, text[:i])
		text = text[i+1:]
	}
	if _, kept := partial[key]; len(text) >= maxPartial || !kept && text != "" && len(partial) >= maxPartials {
		lines, text = append(lines, text), ""
	}
	if text == "" {
		delete(partial, key)
	} else {
		partial[key] = text
	}
	partialMu.Unlock()
	for _, l := range lines {
		// FFmpeg's network clients print URLs (an RTMP target's key).
		if l = redact.Text(strings.TrimSpace(l)); l != "" {
			logger.Log(context.Background(), ffmpegLevel(level), l, "ffmpeg", component)
		}
	}
}
