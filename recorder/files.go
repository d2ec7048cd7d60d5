package recorder

import (
	"time"

	"github.com/roomtape/roomtape/recorder/internal/codec/opus"
	"github.com/roomtape/roomtape/recorder/internal/mkv"
)

// fileWriter stores one track's frames in a file.
type fileWriter interface {
	WritePacket(data []byte, pts, dur time.Duration, key bool) error
	Flush() error
	Close() error
	// Abort closes the file as it is, after a write failed.
	Abort()
	// Resize says the pictures are now width x height (video).
	Resize(width, height int)
}

// mkvCodecs maps codecs to the Matroska writer's.
var mkvCodecs = map[Codec]mkv.Codec{VP8: mkv.VP8, VP9: mkv.VP9, H264: mkv.H264, AV1: mkv.AV1, Opus: mkv.Opus}

// newFileWriter creates the Matroska file of a track whose first picture
// is width x height (0 if unknown); extradata is the codec's global header
// taken from the first keyframe (H.264, AV1) or nil; reorder is how many
// frames a frame may be presented after (H.264 B-frames), else 0.
func newFileWriter(path string, info TrackInfo, width, height, reorder int, extradata []byte) (fileWriter, error) {
	p := mkv.Params{Codec: mkvCodecs[info.Codec], Width: width, Height: height, Reorder: reorder, Extradata: extradata}
	if info.Codec == Opus {
		p.Channels = info.Channels
		p.SampleRate = opus.SampleRate
		p.Extradata = opus.Head(info.Channels)
	}
	return mkv.Create(path, p)
}

// maxReorder is the most frames an H.264 frame may be presented after.
const maxReorder = mkv.MaxReorder
