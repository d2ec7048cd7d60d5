package manifest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMainTracks(t *testing.T) {
	cases := []struct {
		name      string
		p         Participant
		wantVideo []string
		wantAudio []string
	}{
		{
			name:      "prototype paths",
			p:         Participant{Name: "A", JoinTimeS: 3, VideoPath: "v.mp4", AudioPath: "a.wav"},
			wantVideo: []string{"v.mp4"},
			wantAudio: []string{"a.wav"},
		},
		{
			name: "rejoin files sorted by start, screen share left out",
			p: Participant{Name: "B", Tracks: []Track{
				{Kind: KindVideo, Source: SourceCamera, Path: "cam2.mkv", StartS: 20},
				{Kind: KindAudio, Source: SourceMicrophone, Path: "mic1.mkv", StartS: 1},
				{Kind: KindVideo, Source: SourceScreen, Path: "screen.mkv", StartS: 5},
				{Kind: KindVideo, Source: SourceCamera, Path: "cam1.mkv", StartS: 1},
				{Kind: KindAudio, Source: SourceMicrophone, Path: "mic2.mkv", StartS: 20},
			}},
			wantVideo: []string{"cam1.mkv", "cam2.mkv"},
			wantAudio: []string{"mic1.mkv", "mic2.mkv"},
		},
		{
			name: "no media",
			p:    Participant{Name: "C"},
		},
	}
	paths := func(ts []Track) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Path)
		}
		return out
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.wantVideo, paths(c.p.VideoTracks()))
			require.Equal(t, c.wantAudio, paths(c.p.AudioTracks()))
		})
	}
}
