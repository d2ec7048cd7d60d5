package compose

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/hls"
)

// Names of the HLS output's files in Streams.HLS.
const (
	HLSLivePlaylist = "live.m3u8"
	HLSVODPlaylist  = "vod.m3u8"
)

// hlsSegmentName is segment i's file name.
func hlsSegmentName(i int) string { return fmt.Sprintf("seg%05d.ts", i) }

// hlsSink writes MPEG-TS segments and playlists: one mpegts muxer over
// the whole stream, writing through a Go IO context into the current
// segment file; a segment closes at the first keyframe at least
// HLSSegment after its start. Owned by its output's goroutine.
type hlsSink struct {
	dir     string
	segDur  time.Duration
	list    int
	params  *encoderParams
	onEvent func(StreamEvent)

	fc       *astiav.FormatContext
	pb       *astiav.IOContext
	vst, ast *astiav.Stream
	cur      *os.File // segment being written, under a temporary name
	writeErr error    // the first error writing cur
	segStart int64    // first video frame of the current segment
	lastPTS  int64    // last video frame written
	segments []hls.Segment
}

func newHLSSink(s Streams, params *encoderParams, onEvent func(StreamEvent)) *hlsSink {
	return &hlsSink{dir: s.HLS, segDur: s.HLSSegment, list: s.HLSListSize, params: params, onEvent: onEvent}
}

// An HLS output that failed (its disk) stays off: the MP4 goes on.
func (*hlsSink) retries() bool { return false }

func (h *hlsSink) open(*astiav.IOInterrupter) (err error) {
	defer func() {
		if err != nil {
			_ = h.close(false)
		}
	}()
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return fmt.Errorf("compose: HLS: %w", err)
	}
	if h.fc, err = astiav.AllocOutputFormatContext(nil, "mpegts", ""); err != nil {
		return fmt.Errorf("compose: HLS: allocating mpegts muxer: %w", err)
	}
	if h.vst, err = addStream(h.fc, h.params.video, h.params.videoTB); err != nil {
		return fmt.Errorf("compose: HLS: %w", err)
	}
	if h.ast, err = addStream(h.fc, h.params.audio, h.params.audioTB); err != nil {
		return fmt.Errorf("compose: HLS: %w", err)
	}
	if h.pb, err = astiav.AllocIOContext(64<<10, true, nil, nil, h.writeFile); err != nil {
		return fmt.Errorf("compose: HLS: %w", err)
	}
	h.fc.SetPb(h.pb)
	if err := h.startSegment(0); err != nil {
		return err
	}
	// The muxer sends PAT and PMT before every keyframe, so that every
	// segment (which starts at one) decodes on its own.
	if err := h.fc.WriteHeader(nil); err != nil {
		return fmt.Errorf("compose: HLS: writing the header: %w", err)
	}
	return nil
}

// writeFile is the IO context's write callback: into the current segment.
func (h *hlsSink) writeFile(b []byte) (int, error) {
	if h.cur == nil {
		return 0, errors.New("no segment open")
	}
	n, err := h.cur.Write(b)
	if err != nil && h.writeErr == nil {
		h.writeErr = err
	}
	return n, err
}

func (h *hlsSink) tmpName(i int) string {
	return filepath.Join(h.dir, "."+hlsSegmentName(i)+".tmp")
}

func (h *hlsSink) startSegment(pts int64) error {
	f, err := os.OpenFile(h.tmpName(len(h.segments)), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("compose: HLS: %w", err)
	}
	h.cur, h.segStart = f, pts
	return nil
}

// endSegment flushes the muxer into the current segment (unless the
// trailer did), closes it at video frame end and rewrites the live
// playlist.
func (h *hlsSink) endSegment(end int64, flushed bool) error {
	if !flushed {
		if err := h.fc.WriteInterleavedFrame(nil); err != nil {
			return fmt.Errorf("compose: HLS: flushing: %w", err)
		}
		if err := h.fc.WriteFrame(nil); err != nil {
			return fmt.Errorf("compose: HLS: flushing: %w", err)
		}
	}
	h.pb.Flush()
	i := len(h.segments)
	err := errors.Join(h.writeErr, h.cur.Close())
	h.cur = nil
	if err != nil {
		return fmt.Errorf("compose: HLS: segment %d: %w", i, err)
	}
	path := filepath.Join(h.dir, hlsSegmentName(i))
	if err := os.Rename(h.tmpName(i), path); err != nil {
		return fmt.Errorf("compose: HLS: %w", err)
	}
	d := time.Duration(end-h.segStart) * time.Second / time.Duration(h.params.fps)
	h.segments = append(h.segments, hls.Segment{URI: hlsSegmentName(i), Duration: d})
	h.onEvent(StreamEvent{Kind: StreamFileClosed, Target: "hls", Path: path})
	return h.writePlaylist(HLSLivePlaylist, h.livePlaylist(false))
}

func (h *hlsSink) livePlaylist(end bool) *hls.Playlist {
	first := max(0, len(h.segments)-h.list)
	return &hls.Playlist{MediaSequence: first, Segments: h.segments[first:], End: end}
}

// writePlaylist writes p as name, atomically.
func (h *hlsSink) writePlaylist(name string, p *hls.Playlist) error {
	path := filepath.Join(h.dir, name)
	tmp := filepath.Join(h.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, p.Encode(), 0o644); err != nil {
		return fmt.Errorf("compose: HLS: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("compose: HLS: %w", err)
	}
	h.onEvent(StreamEvent{Kind: StreamFileClosed, Target: "hls", Path: path, Playlist: true})
	return nil
}

func (h *hlsSink) write(p streamPacket) error {
	if p.video {
		pts := p.pkt.Pts()
		if p.pkt.Flags().Has(astiav.PacketFlagKey) && time.Duration(pts-h.segStart)*time.Second >= h.segDur*time.Duration(h.params.fps) {
			if err := h.endSegment(pts, false); err != nil {
				return err
			}
			if err := h.startSegment(pts); err != nil {
				return err
			}
		}
		h.lastPTS = pts
	}
	if err := muxPacket(h.fc, p, h.params, h.vst, h.ast); err != nil {
		return fmt.Errorf("compose: HLS: %w", err)
	}
	return h.writeErr
}

// close ends the last segment and writes the final playlists when ok;
// otherwise it drops the unfinished segment.
func (h *hlsSink) close(ok bool) error {
	var err error
	if ok && h.fc != nil && h.cur != nil {
		if e := h.fc.WriteTrailer(); e != nil {
			err = fmt.Errorf("compose: HLS: writing the trailer: %w", e)
		}
		if err == nil {
			err = h.endSegment(h.lastPTS+1, true)
		}
		if err == nil {
			err = h.writePlaylist(HLSLivePlaylist, h.livePlaylist(true))
		}
		if err == nil {
			err = h.writePlaylist(HLSVODPlaylist, &hls.Playlist{Segments: h.segments, VOD: true, End: true})
		}
	}
	if h.cur != nil {
		_ = h.cur.Close()
		_ = os.Remove(h.cur.Name())
		h.cur = nil
	}
	if h.fc != nil {
		h.fc.Free()
		h.fc = nil
	}
	if h.pb != nil {
		h.pb.Free()
		h.pb = nil
	}
	return err
}
