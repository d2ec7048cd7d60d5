package opus

import (
	"encoding/hex"
	"testing"
)

func TestHead(t *testing.T) {
	for _, tc := range []struct {
		channels int
		want     string
	}{
		{1, "4f707573486561640101000080bb0000000000"},
		{2, "4f707573486561640102000080bb0000000000"},
	} {
		if got := hex.EncodeToString(Head(tc.channels)); got != tc.want {
			t.Errorf("Head(%d) = %s, want %s", tc.channels, got, tc.want)
		}
	}
}
