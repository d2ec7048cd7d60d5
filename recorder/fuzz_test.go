package recorder_test

import (
	"context"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// fuzzCodecs are chosen by the first byte of a fuzz input.
var fuzzCodecs = []recorder.Codec{recorder.VP8, recorder.VP9, recorder.H264, recorder.AV1, recorder.Opus}

// FuzzWriteFrame feeds hostile payloads, sizes and timestamps through a
// session with files enabled: no panic, and the session closes cleanly.
func FuzzWriteFrame(f *testing.F) {
	for _, seed := range []string{
		"00107d049d012a8007380400c7088585889984880483bbf1fe3fa306ff",
		"01824983420077f043760838241c185c1801905f19f9bffe7f",
		"02000000016742c028da01e0089f961000000300100000030148f1832a0000000168ce3c800000010605ffff67dc45e9bd0000016588",
		"03120000000a0b0000000000000000000000003203100000",
		"04f8fffe",
	} {
		b, err := hex.DecodeString(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(40), int64(20))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16, step int64) {
		if len(data) == 0 {
			return
		}
		codec := fuzzCodecs[int(data[0])%len(fuzzCodecs)]
		data = data[1:]
		s, err := recorder.NewSession(recorder.Config{Dir: t.TempDir(), CheckpointInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Join("fuzz", "Fuzz")
		if err != nil {
			t.Fatal(err)
		}
		tr, err := p.AddTrack(recorder.TrackInfo{Codec: codec})
		if err != nil {
			t.Fatal(err)
		}
		size := int(chunk%512) + 1
		pts := time.Duration(0)
		for len(data) > 0 {
			n := min(size, len(data))
			// Errors are fine (e.g. a muxer refusing garbage); panics are not.
			_ = tr.WriteFrame(recorder.Frame{Payload: data[:n], PTS: pts, Keyframe: data[0]&1 == 0, Width: int(data[0]), Height: int(data[n-1])})
			data = data[n:]
			pts += time.Duration(step%1000) * time.Millisecond
		}
		_ = s.Close(context.Background())
		if s.Present() != 0 {
			t.Fatal("someone still present after Close")
		}
	})
}

// FuzzSegments feeds frames with hostile keyframe flags and timestamps
// through a segmenting session: no panic, and session.json stays valid
// with each track's segments following each other, every one a file.
func FuzzSegments(f *testing.F) {
	f.Add([]byte{4, 1, 2, 3, 4, 5, 6, 7, 8}, uint16(3), int64(100))
	f.Add([]byte("\x00\x9d\x01\x2a\x80\x07\x38\x04"), uint16(8), int64(300))
	f.Add([]byte{0, 0, 1, 0, 1, 1, 0, 0, 0, 0}, uint16(1), int64(-40))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16, step int64) {
		if len(data) == 0 {
			return
		}
		codec := fuzzCodecs[int(data[0])%len(fuzzCodecs)]
		data = data[1:]
		s, err := recorder.NewSession(recorder.Config{Dir: t.TempDir(), CheckpointInterval: -1, SegmentDuration: recorder.MinSegmentDuration})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Join("fuzz", "Fuzz")
		if err != nil {
			t.Fatal(err)
		}
		tr, err := p.AddTrack(recorder.TrackInfo{Codec: codec, Width: 64, Height: 48})
		if err != nil {
			t.Fatal(err)
		}
		size := int(chunk%64) + 1
		pts := time.Duration(0)
		for len(data) > 0 {
			n := min(size, len(data))
			_ = tr.WriteFrame(recorder.Frame{Payload: data[:n], PTS: pts, Keyframe: data[0]&1 == 0})
			_ = tr.KeyframeRequest()
			data = data[n:]
			pts += time.Duration(step%2000) * time.Millisecond
		}
		_ = s.Close(context.Background())
		m, err := manifest.Load(s.ManifestPath())
		if err != nil {
			t.Fatalf("session.json: %v", err)
		}
		for _, mp := range m.Participants {
			for _, mt := range mp.Tracks {
				if len(mt.Segments) == 0 {
					t.Fatalf("track %s has no segments", mt.Path)
				}
				for k, sg := range mt.Segments {
					if _, err := os.Stat(sg.Path); err != nil {
						t.Fatalf("segment %d: %v", k, err)
					}
					if k > 0 && (mt.Segments[k-1].EndS == nil || *mt.Segments[k-1].EndS != sg.StartS) {
						t.Fatalf("segment %d does not follow %d: %+v", k, k-1, mt.Segments)
					}
				}
			}
		}
	})
}
