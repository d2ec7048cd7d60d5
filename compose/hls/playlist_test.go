package hls

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

var playlists = []struct {
	name string
	p    Playlist
	text string
}{
	{"empty live", Playlist{}, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"},
	{
		"live window",
		Playlist{MediaSequence: 7, Segments: []Segment{{"seg00007.ts", 2 * time.Second}, {"seg00008.ts", 2033 * time.Millisecond}}},
		"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2.000,\nseg00007.ts\n#EXTINF:2.033,\nseg00008.ts\n",
	},
	{
		"ended live",
		Playlist{MediaSequence: 1, Segments: []Segment{{"a.ts", 1500 * time.Millisecond}}, End: true},
		"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:1.500,\na.ts\n#EXT-X-ENDLIST\n",
	},
	{
		"vod",
		Playlist{Segments: []Segment{{"a.ts", 2600 * time.Millisecond}, {"b.ts", 400 * time.Millisecond}}, VOD: true, End: true},
		"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.600,\na.ts\n#EXTINF:0.400,\nb.ts\n#EXT-X-ENDLIST\n",
	},
}

func TestEncodeParse(t *testing.T) {
	for _, c := range playlists {
		t.Run(c.name, func(t *testing.T) {
			if got := string(c.p.Encode()); got != c.text {
				t.Errorf("Encode:\n%s\nwant:\n%s", got, c.text)
			}
			p, err := Parse([]byte(c.text))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*p, c.p) {
				t.Errorf("Parse = %+v, want %+v", *p, c.p)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for name, text := range map[string]string{
		"empty":       "",
		"no header":   "#EXT-X-TARGETDURATION:2\n",
		"no target":   "#EXTM3U\n#EXTINF:1,\na.ts\n",
		"uri no inf":  "#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n",
		"inf no uri":  "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\n",
		"two infs":    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\n#EXTINF:1,\na.ts\n",
		"over target": "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:3.0,\na.ts\n",
		"bad inf":     "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:x,\na.ts\n",
		"bad seq":     "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:-1\n",
	} {
		if _, err := Parse([]byte(text)); !errors.Is(err, ErrPlaylist) {
			t.Errorf("%s: Parse = %v, want ErrPlaylist", name, err)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts encodes to a playlist
// that parses to the same segments (to the millisecond Encode keeps).
func FuzzParse(f *testing.F) {
	for _, c := range playlists {
		f.Add([]byte(c.text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		for i := range p.Segments {
			p.Segments[i].Duration = p.Segments[i].Duration.Round(time.Millisecond)
		}
		q, err := Parse(p.Encode())
		if err != nil {
			t.Fatalf("re-encoded playlist does not parse: %v\n%s", err, p.Encode())
		}
		if q.MediaSequence != p.MediaSequence || len(q.Segments) != len(p.Segments) || q.End != (p.End || p.VOD) || q.VOD != p.VOD {
			t.Fatalf("round trip %+v -> %+v", p, q)
		}
		for i := range p.Segments {
			if q.Segments[i] != p.Segments[i] {
				t.Fatalf("segment %d: %+v -> %+v", i, p.Segments[i], q.Segments[i])
			}
		}
	})
}
