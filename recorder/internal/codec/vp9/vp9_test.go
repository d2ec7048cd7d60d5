package vp9

import (
	"testing"

	"github.com/roomtape/roomtape/recorder/internal/codec/codectest"
)

// cases are frame starts produced by libvpx-vp9 (profile 0).
var cases = []codectest.Case{
	{Name: "key_1080p", Hex: "824983420077f043760838241c185c1801905f19f9bffe7f", Key: true, Width: 1920, Height: 1080},
	{Name: "key_portrait", Hex: "8249834200077009f60638241c18420003205dfc6e91ed1e", Key: true, Width: 120, Height: 160},
	{Name: "delta", Hex: "86004092f0c12e0600777fbc5f91ba39"},
	{Name: "truncated_key", Hex: "8249834200"},
	{Name: "bad_marker", Hex: "024983420077f043760838241c"},
	{Name: "bad_sync", Hex: "824983430077f043760838241c"},
	{Name: "empty", Hex: ""},
}

var codec = codectest.Codec{IsKeyframe: IsKeyframe, Size: Size, MaxSide: 1 << 16}

func TestParse(t *testing.T) { codectest.Parse(t, codec, cases) }

func FuzzSize(f *testing.F) { codectest.FuzzSize(f, codec, cases) }
