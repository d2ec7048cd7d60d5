// Package hls writes and reads the HLS media playlists (RFC 8216) of the
// composer's live stream: a live playlist over a sliding window of
// segments and a VOD playlist of the whole call. Pure Go.
package hls

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrPlaylist is a playlist that does not parse; the message says where.
var ErrPlaylist = errors.New("hls: bad playlist")

// Segment is one media segment of a playlist.
type Segment struct {
	// URI is the segment's address relative to the playlist.
	URI string
	// Duration is the segment's length.
	Duration time.Duration
}

// Playlist is a media playlist.
type Playlist struct {
	// MediaSequence is the sequence number of Segments[0].
	MediaSequence int
	// Segments in order.
	Segments []Segment
	// VOD marks a playlist of the whole stream (EXT-X-PLAYLIST-TYPE:VOD).
	VOD bool
	// End says no segment will be added (EXT-X-ENDLIST); a VOD playlist
	// always ends.
	End bool
}

// TargetDuration is EXT-X-TARGETDURATION: the longest segment rounded to
// the nearest second (RFC 8216 4.3.3.1), at least 1.
func (p *Playlist) TargetDuration() int {
	t := 1
	for _, s := range p.Segments {
		t = max(t, int(math.Round(s.Duration.Seconds())))
	}
	return t
}

// Encode returns the playlist's text.
func (p *Playlist) Encode() []byte {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n")
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", p.TargetDuration())
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", p.MediaSequence)
	if p.VOD {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:VOD\n")
	}
	for _, s := range p.Segments {
		fmt.Fprintf(&b, "#EXTINF:%s,\n%s\n", strconv.FormatFloat(s.Duration.Seconds(), 'f', 3, 64), s.URI)
	}
	if p.End || p.VOD {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.Bytes()
}

// Duration is the sum of the segments' durations.
func (p *Playlist) Duration() time.Duration {
	var d time.Duration
	for _, s := range p.Segments {
		d += s.Duration
	}
	return d
}

// maxLine bounds a playlist line.
const maxLine = 4096

// Parse reads a media playlist as Encode writes it (and the tags of RFC
// 8216 it needs: EXTM3U, TARGETDURATION, MEDIA-SEQUENCE, PLAYLIST-TYPE,
// EXTINF, ENDLIST; other tags are ignored). It checks what a player
// relies on: the header, one URI after each EXTINF, no segment longer than
// the target duration (rounded).
func Parse(data []byte) (*Playlist, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 256), maxLine)
	p := &Playlist{}
	target := -1
	var pending *time.Duration
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if line == 1 {
			if l != "#EXTM3U" {
				return nil, fmt.Errorf("%w: line 1 is not #EXTM3U", ErrPlaylist)
			}
			continue
		}
		if l == "" {
			continue
		}
		tag, val, _ := strings.Cut(l, ":")
		switch {
		case tag == "#EXT-X-TARGETDURATION":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: line %d: target duration %q", ErrPlaylist, line, val)
			}
			target = n
		case tag == "#EXT-X-MEDIA-SEQUENCE":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: line %d: media sequence %q", ErrPlaylist, line, val)
			}
			p.MediaSequence = n
		case tag == "#EXT-X-PLAYLIST-TYPE":
			p.VOD = val == "VOD"
		case tag == "#EXT-X-ENDLIST":
			p.End = true
		case tag == "#EXTINF":
			ds, _, _ := strings.Cut(val, ",")
			f, err := strconv.ParseFloat(ds, 64)
			if err != nil || f < 0 || f > 1e6 || math.IsNaN(f) {
				return nil, fmt.Errorf("%w: line %d: segment duration %q", ErrPlaylist, line, ds)
			}
			if pending != nil {
				return nil, fmt.Errorf("%w: line %d: EXTINF without a URI before it", ErrPlaylist, line)
			}
			d := time.Duration(math.Round(f * float64(time.Second)))
			pending = &d
		case strings.HasPrefix(l, "#"):
		default:
			if pending == nil {
				return nil, fmt.Errorf("%w: line %d: URI %q without EXTINF", ErrPlaylist, line, l)
			}
			p.Segments = append(p.Segments, Segment{URI: l, Duration: *pending})
			pending = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", ErrPlaylist, line+1, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%w: empty", ErrPlaylist)
	}
	if pending != nil {
		return nil, fmt.Errorf("%w: last EXTINF has no URI", ErrPlaylist)
	}
	if target < 0 {
		return nil, fmt.Errorf("%w: no EXT-X-TARGETDURATION", ErrPlaylist)
	}
	for i, s := range p.Segments {
		if int(math.Round(s.Duration.Seconds())) > target {
			return nil, fmt.Errorf("%w: segment %d (%s) lasts %v, over the target duration %ds", ErrPlaylist, p.MediaSequence+i, s.URI, s.Duration, target)
		}
	}
	return p, nil
}
