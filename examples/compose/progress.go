package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/roomtape/roomtape/compose"
)

// barWidth is the width of the progress bar in characters.
const barWidth = 30

// plainInterval is how often plain progress lines are printed when the
// output is not a terminal (logs, CI).
const plainInterval = 5 * time.Second

// progressBar draws compose.Progress on a terminal as a bar redrawn in
// place, elsewhere as a plain line every few seconds.
type progressBar struct {
	w        io.Writer
	terminal bool
	last     time.Time
	drawn    bool
}

func newProgressBar(w io.Writer) *progressBar {
	b := &progressBar{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.terminal = true
		}
	}
	return b
}

func (b *progressBar) update(p compose.Progress) {
	if b.terminal {
		filled := int(p.Percent / 100 * barWidth)
		_, _ = fmt.Fprintf(b.w, "\r[%s%s] %5.1f%%  %.1fx  ETA %s ",
			strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), p.Percent, p.Speed, p.ETA.Round(time.Second))
		b.drawn = true
		return
	}
	if time.Since(b.last) < plainInterval && p.Percent < 100 {
		return
	}
	b.last = time.Now()
	_, _ = fmt.Fprintf(b.w, "progress %.0f%% (%s of %s) speed %.1fx ETA %s\n",
		p.Percent, p.Done.Round(time.Second), p.Total.Round(time.Second), p.Speed, p.ETA.Round(time.Second))
}

func (b *progressBar) done() {
	if b.terminal && b.drawn {
		_, _ = fmt.Fprintln(b.w)
	}
}
