package vp8

import (
	"testing"

	"github.com/roomtape/roomtape/recorder/internal/codec/codectest"
)

// cases are frame starts produced by libvpx.
var cases = []codectest.Case{
	{Name: "key_1080p", Hex: "107d049d012a8007380400c7088585889984880483bbf1fe3fa306ff", Key: true, Width: 1920, Height: 1080},
	{Name: "key_portrait", Hex: "301b009d012a7800a00000c70885858899848804821be3ec650f0a7f", Key: true, Width: 120, Height: 160},
	{Name: "delta", Hex: "91de000710f8001c880ff01ed67c09fb"},
	{Name: "short", Hex: "107d049d012a80"},
	{Name: "no_start_code", Hex: "107d049d012b8007380400c7"},
	{Name: "empty", Hex: ""},
}

var codec = codectest.Codec{IsKeyframe: IsKeyframe, Size: Size, MaxSide: 0x3fff}

func TestParse(t *testing.T) { codectest.Parse(t, codec, cases) }

func FuzzSize(f *testing.F) { codectest.FuzzSize(f, codec, cases) }
