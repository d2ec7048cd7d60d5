package synth

import (
	"image"
	"math"
	"time"

	"github.com/roomtape/roomtape/internal/testmedia"
)

// Marker constants are internal/testmedia's, shared by every synthetic
// source in the project (see ../shared/bench/mksession.py): participant i
// is tinted testmedia.Tints[i%8] and beeps at testmedia.Freqs[i%8] Hz.
const (
	// MarkerPeriod is the time between two flashes (and two beeps).
	MarkerPeriod = testmedia.MarkerPeriod
	// SampleRate is the audio sample rate.
	SampleRate = testmedia.SampleRate
)

// Freq returns participant index's tone frequency in Hz.
func Freq(index int) float64 { return testmedia.Freqs[index%len(testmedia.Freqs)] }

// Flashing reports whether the picture is white at participant-local time t.
func Flashing(t time.Duration) bool { return t%MarkerPeriod < testmedia.FlashDuration }

// Beeping reports whether the tone sounds at participant-local time t.
func Beeping(t time.Duration) bool { return t%MarkerPeriod < testmedia.BeepDuration }

// Picture draws participant index's picture at participant-local time t
// into img (4:2:0), allocating it when nil or of another size: a tinted
// gradient that scrolls to the right, or white while Flashing(t).
func Picture(img *image.YCbCr, index, width, height int, t time.Duration) *image.YCbCr {
	if img == nil || img.Rect.Dx() != width || img.Rect.Dy() != height {
		img = image.NewYCbCr(image.Rect(0, 0, width, height), image.YCbCrSubsampleRatio420)
	}
	if Flashing(t) {
		fill(img.Y, 235)
		fill(img.Cb, 128)
		fill(img.Cr, 128)
		return img
	}
	tint := testmedia.Tints[index%len(testmedia.Tints)]
	phase := t.Seconds() / 4
	cw := (width + 1) / 2
	yRow := make([]byte, width)
	cbRow := make([]byte, cw)
	crRow := make([]byte, cw)
	for x := range width {
		v := 0.45 + 0.3*math.Sin(2*math.Pi*(float64(x)/float64(width)-phase))
		y, cb, cr := rgbToYCbCr(tint[0]*v, tint[1]*v, tint[2]*v)
		yRow[x] = y
		if x%2 == 0 {
			cbRow[x/2], crRow[x/2] = cb, cr
		}
	}
	for row := range height {
		copy(img.Y[row*img.YStride:], yRow)
	}
	for row := range (height + 1) / 2 {
		copy(img.Cb[row*img.CStride:], cbRow)
		copy(img.Cr[row*img.CStride:], crRow)
	}
	return img
}

// AddDetail adds a fine texture to img's luma that moves with t, so that an
// encoder needs a realistic bitrate (a camera picture's noise and detail)
// instead of a few hundred kbit/s for the smooth pattern. A white flash
// stays above 200 in mean luma.
func AddDetail(img *image.YCbCr, t time.Duration) {
	shift := int(t / (10 * time.Millisecond))
	w, h := img.Rect.Dx(), img.Rect.Dy()
	for y := range h {
		row := img.Y[y*img.YStride : y*img.YStride+w]
		for x := range row {
			v := uint32(x+shift)*2654435761 ^ uint32(y+shift/3)*2246822519
			d := int(v>>30) - 2 // -2..1
			row[x] = clampByte(float64(int(row[x]) + d))
		}
	}
}

// rgbToYCbCr converts linear gains in [0,1] to limited-range BT.601.
func rgbToYCbCr(r, g, b float64) (y, cb, cr byte) {
	yf := 16 + 65.481*r + 128.553*g + 24.966*b
	cbf := 128 - 37.797*r - 74.203*g + 112*b
	crf := 128 + 112*r - 93.786*g - 18.214*b
	return clampByte(yf), clampByte(cbf), clampByte(crf)
}

// clampByte rounds and clamps v to a byte.
func clampByte(v float64) byte {
	return byte(math.Max(0, math.Min(255, math.Round(v))))
}

// fill sets every byte of b to v.
func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// Tone writes the participant's audio for the samples starting at sample
// index first (participant-local, at SampleRate) into buf (mono): a sine
// at its frequency while Beeping, at testmedia.TalkAmplitude within the
// talk spans, silence elsewhere.
func Tone(buf []int16, index int, first int64, talk ...Interval) {
	freq := Freq(index)
	for i := range buf {
		n := first + int64(i)
		t := time.Duration(n * int64(time.Second) / SampleRate)
		amp := 0.0
		if Beeping(t) {
			amp = testmedia.BeepAmplitude
		}
		for _, s := range talk {
			if t >= s.Start && t < s.End {
				amp += testmedia.TalkAmplitude
			}
		}
		if amp == 0 {
			buf[i] = 0
			continue
		}
		s := amp * math.Sin(2*math.Pi*freq*float64(n)/SampleRate)
		buf[i] = int16(math.Round(s * math.MaxInt16))
	}
}

// voiceBelow is the level (-dBov) under which a synthetic packet sets
// RFC 6464's voice-activity bit: louder than -60 dBov is voice.
const voiceBelow = 60

// ToneLevel is the RFC 6464 level (-dBov, 0 to 127) of the 20 ms of
// participant index's audio starting at participant-local at, as [Tone]
// makes it with talk: its RMS relative to a full-scale square wave.
func ToneLevel(index int, at time.Duration, talk ...Interval) uint8 {
	buf := make([]int16, int(20*time.Millisecond*SampleRate/time.Second))
	Tone(buf, index, int64(at*SampleRate/time.Second), talk...)
	sum := 0.0
	for _, v := range buf {
		x := float64(v) / math.MaxInt16
		sum += x * x
	}
	if sum == 0 {
		return 127
	}
	db := 10 * math.Log10(sum/float64(len(buf)))
	return uint8(min(127, max(0, math.Round(-db))))
}
