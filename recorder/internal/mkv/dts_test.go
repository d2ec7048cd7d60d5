package mkv

import (
	"testing"

	"github.com/asticode/go-astiav"
)

// TestDTS derives decode times for packets sent in decode order with
// presentation times going back (one B-frame per reference frame): never
// after the packet's pts, never going back.
func TestDTS(t *testing.T) {
	w := &Writer{ptsBuf: []int64{astiav.NoPtsValue, astiav.NoPtsValue}}
	pts := []int64{0, 66, 33, 133, 100, 200, 166}
	want := []int64{-33, 0, 33, 66, 100, 133, 166}
	for i, p := range pts {
		if got := w.dts(p, 33); got != want[i] {
			t.Errorf("packet %d (pts %d): dts %d, want %d", i, p, got, want[i])
		}
	}
	if got := (&Writer{}).dts(42, 33); got != 42 {
		t.Errorf("without reordering: dts %d, want the pts", got)
	}
}
