package h264_test

import (
	"testing"

	"github.com/roomtape/roomtape/recorder/internal/avtest"
	"github.com/roomtape/roomtape/recorder/internal/codec/h264"
)

// TestReorderEncoded reads max_num_reorder_frames from x264's SPS: none
// for Constrained Baseline (the profile says), some with B-frames.
func TestReorderEncoded(t *testing.T) {
	avtest.Quiet()
	for _, tc := range []struct {
		name    string
		encoder string
		bframes bool
	}{
		{"baseline", avtest.LibX264, false},
		{"main_with_bframes", avtest.LibX264BFrames, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := avtest.NewVideo(tc.encoder, 320, 240, 30, 30, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			for range 10 {
				pkts, err := enc.Next()
				if err != nil {
					t.Fatal(err)
				}
				if len(pkts) == 0 {
					continue
				}
				n, ok := h264.Reorder(pkts[0].Data)
				if !ok || (n > 0) != tc.bframes {
					t.Fatalf("Reorder = %d %v, want B-frames %v", n, ok, tc.bframes)
				}
				return
			}
			t.Fatal("no packet out of the encoder")
		})
	}
}
