package recorder_test

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/roomtape/roomtape/recorder"
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
