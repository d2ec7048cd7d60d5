package manifest

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"
	"time"
)

// HintsName is the file name of the hints file in the session directory.
// Transport hints are what a transport says about who speaks, recorded
// beside the tracks so that a composer need not decode every microphone
// file to find the speakers.
//
// The hints file (HintsName in the session directory, referenced by
// session.json's "hints") is JSON Lines, appended while the session
// records (session.json stays small: it is rewritten every second). Each
// line is one record; unknown kinds are ignored:
//
//		{"k":"levels","p":"alice","t":12.34,"step_ms":20,"dbov":"1e1f7f"}
//		{"k":"speakers","t":13.5,"ids":["alice","bob"]}
//		{"k":"truncated","t":5000.1}
//
//	  - levels: participant p's audio levels from t on (session seconds), one
//	    per step_ms, as RFC 6464 carries them: -dBov, 0 (loudest) to 127
//	    (silence), two hex digits each. A step without a packet ends the run
//	    (the next starts a new record): no levels is silence. A run holds at
//	    most HintsRunSteps values, so about one line per participant per
//	    second, about 100 bytes.
//	  - speakers: the transport's active speakers from t on (LiveKit's
//	    active-speaker updates), every one listed, loudest first; an empty
//	    list is nobody.
//	  - truncated: the file reached MaxHintsBytes at t and nothing more was
//	    written; a composer then ignores the hints.
//
// A line cut by a crash (no final newline) is ignored.
const HintsName = "hints.jsonl"

// Hint record kinds.
const (
	hintLevels    = "levels"
	hintSpeakers  = "speakers"
	hintTruncated = "truncated"
)

// HintsStep is the step of the level series a [HintsWriter] writes: one
// Opus packet's 20 ms, the speaker detection's block.
const HintsStep = 20 * time.Millisecond

// HintsRunSteps bounds the values of one levels record (1 s at HintsStep).
const HintsRunSteps = 50

// MaxHintsBytes bounds a hints file: 32 MiB is about 90 participant-hours
// of levels at HintsStep; past it a truncated record is written and
// nothing more.
const MaxHintsBytes = 32 << 20

// maxHintsBytes is MaxHintsBytes, lowered by tests.
var maxHintsBytes int64 = MaxHintsBytes

// maxHintLine bounds one line when reading (a levels run of HintsRunSteps
// is about 150 bytes; a speakers update of a few hundred IDs fits).
const maxHintLine = 256 << 10

// Silent is the RFC 6464 level of digital silence (-127 dBov).
const Silent = 127

// ErrHints is a hints file that cannot be read; the message names the line
// at fault.
var ErrHints = errors.New("manifest: bad hints file")

// Hints is a parsed hints file.
type Hints struct {
	// Levels are each participant's levels, by participant key, in time
	// order.
	Levels map[string][]HintLevel
	// Speakers are the active-speaker updates in time order.
	Speakers []SpeakerUpdate
	// Truncated says the writer reached MaxHintsBytes.
	Truncated bool
}

// HintLevel is the audio level of one step of a participant's audio.
type HintLevel struct {
	// At is the step's start on the session clock.
	At time.Duration
	// Step is the step's length.
	Step time.Duration
	// DBov is the level in -dBov (RFC 6464): 0 is a full-scale square
	// wave's RMS, Silent digital silence.
	DBov uint8
}

// SpeakerUpdate is a transport's list of active speakers from At on.
type SpeakerUpdate struct {
	// At is the update's time on the session clock.
	At time.Duration
	// IDs are the participant keys speaking, loudest first; empty is
	// nobody.
	IDs []string
}

// hintRecord is one line of the hints file.
type hintRecord struct {
	Kind   string   `json:"k"`
	P      string   `json:"p,omitempty"`
	T      float64  `json:"t"`
	StepMS int      `json:"step_ms,omitempty"`
	DBov   string   `json:"dbov,omitempty"`
	IDs    []string `json:"ids,omitempty"`
}

// LoadHints reads the hints file at path.
func LoadHints(path string) (*Hints, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only file
	h, err := ParseHints(io.LimitReader(f, MaxHintsBytes+maxHintLine))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// ParseHints reads a hints file from r. Errors wrap ErrHints and name the
// line; an unterminated last line is ignored (a crash cut it).
func ParseHints(r io.Reader) (*Hints, error) {
	h := &Hints{Levels: map[string][]HintLevel{}}
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrHints, n, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := h.add(line); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrHints, n, err)
		}
	}
	for id, ls := range h.Levels {
		slices.SortStableFunc(ls, func(a, b HintLevel) int { return cmp.Compare(a.At, b.At) })
		h.Levels[id] = ls
	}
	slices.SortStableFunc(h.Speakers, func(a, b SpeakerUpdate) int { return cmp.Compare(a.At, b.At) })
	return h, nil
}

// readLine returns the next newline-terminated line without its newline;
// io.EOF at the end or for an unterminated last line.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxHintLine {
			return nil, fmt.Errorf("longer than %d bytes", maxHintLine)
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, io.EOF
		default:
			return nil, fmt.Errorf("read: %w", err)
		}
	}
}

// add decodes one record into h.
func (h *Hints) add(line []byte) error {
	var rec hintRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if !finite(rec.T) || rec.T < 0 {
		return fmt.Errorf("t %v is not a time >= 0", rec.T)
	}
	at := FromSeconds(rec.T)
	switch rec.Kind {
	case hintLevels:
		if rec.P == "" {
			return errors.New("levels without p")
		}
		if rec.StepMS < 1 || rec.StepMS > 1000 {
			return fmt.Errorf("step_ms %d: must be 1 to 1000", rec.StepMS)
		}
		vals, err := hex.DecodeString(rec.DBov)
		if err != nil {
			return fmt.Errorf("dbov: %w", err)
		}
		step := time.Duration(rec.StepMS) * time.Millisecond
		for i, v := range vals {
			if v > Silent {
				return fmt.Errorf("dbov[%d]: %d above %d", i, v, Silent)
			}
			h.Levels[rec.P] = append(h.Levels[rec.P], HintLevel{At: at + time.Duration(i)*step, Step: step, DBov: v})
		}
	case hintSpeakers:
		for i, id := range rec.IDs {
			if id == "" {
				return fmt.Errorf("ids[%d]: empty", i)
			}
		}
		h.Speakers = append(h.Speakers, SpeakerUpdate{At: at, IDs: rec.IDs})
	case hintTruncated:
		h.Truncated = true
	}
	return nil
}

// HintsWriter appends hints to a hints file while a session records. Its
// methods accept a nil *HintsWriter and do nothing. It is safe for
// concurrent use: mu guards the file, the open level runs and
// the counters; nothing is called under it but the file's Write. Each
// finished record is written at once (one write of one line), so a crash
// loses at most the open runs (about a second per participant).
type HintsWriter struct {
	mu        sync.Mutex
	f         *os.File
	path      string
	size      int64
	runs      map[string]*levelRun
	truncated bool
	closed    bool
	err       error // the first write error; nothing is written after it
}

// levelRun is a participant's levels not yet written: vals[i] is the level
// of step first+i (on the HintsStep grid); the steps before first are
// written.
type levelRun struct {
	first int64
	vals  []byte
}

// CreateHints creates (or truncates) the hints file at path.
func CreateHints(path string) (*HintsWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("manifest: hints: %w", err)
	}
	return &HintsWriter{f: f, path: path, runs: map[string]*levelRun{}}, nil
}

// Level records that participant id's audio in [at, at+dur) had level
// dbov (-dBov, RFC 6464; values above Silent count as Silent). Levels
// come in time order per participant: a step given twice keeps the
// louder level, and what comes before the last step given is dropped. A
// dur of 0 is one step, more than a second is a second.
func (w *HintsWriter) Level(id string, at, dur time.Duration, dbov uint8) {
	if w == nil {
		return
	}
	if id == "" || at < 0 {
		return
	}
	dbov = min(dbov, Silent)
	dur = min(dur, time.Second) // an Opus packet is at most 120 ms
	first := int64(at / HintsStep)
	last := int64((at + max(dur, 1) - 1) / HintsStep)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.truncated || w.err != nil {
		return
	}
	r := w.runs[id]
	if r == nil {
		r = &levelRun{first: first}
		w.runs[id] = r
	}
	next := r.first + int64(len(r.vals))
	switch {
	case first > next:
		w.flushLocked(id, r) // a gap: a new run
		r.first = first
	case first < next:
		if last < next-1 {
			return // before the last step given: dropped
		}
		if n := len(r.vals); n > 0 {
			r.vals[n-1] = min(r.vals[n-1], dbov)
		}
		first = next
	}
	for s := first; s <= last; s++ {
		r.vals = append(r.vals, dbov)
		if len(r.vals) == HintsRunSteps {
			w.flushLocked(id, r)
		}
	}
}

// Speakers records the transport's active speakers from at on (ids
// loudest first; empty is nobody).
func (w *HintsWriter) Speakers(at time.Duration, ids []string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.truncated || w.err != nil {
		return
	}
	ids = slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return s == "" })
	w.writeLocked(hintRecord{Kind: hintSpeakers, T: seconds(max(at, 0)), IDs: ids}, at)
}

// flushLocked writes r's values (if any) and empties it; r.first moves
// to the next step.
func (w *HintsWriter) flushLocked(id string, r *levelRun) {
	if len(r.vals) == 0 {
		return
	}
	at := time.Duration(r.first) * HintsStep
	w.writeLocked(hintRecord{
		Kind: hintLevels, P: id, T: seconds(at),
		StepMS: int(HintsStep / time.Millisecond), DBov: hex.EncodeToString(r.vals),
	}, at)
	r.first += int64(len(r.vals))
	r.vals = r.vals[:0]
}

// writeLocked appends one record, or the truncated record once the file
// would pass MaxHintsBytes.
func (w *HintsWriter) writeLocked(rec hintRecord, at time.Duration) {
	if w.truncated || w.err != nil {
		return
	}
	line, err := json.Marshal(rec)
	if err != nil {
		w.err = fmt.Errorf("manifest: hints: %w", err)
		return
	}
	line = append(line, '\n')
	if w.size+int64(len(line)) > maxHintsBytes-maxTruncatedRecord {
		w.truncated = true
		line, _ = json.Marshal(hintRecord{Kind: hintTruncated, T: seconds(max(at, 0))})
		line = append(line, '\n')
	}
	n, err := w.f.Write(line)
	w.size += int64(n)
	if err != nil {
		w.err = fmt.Errorf("manifest: hints %s: %w", w.path, err)
	}
}

// maxTruncatedRecord is room kept for the truncated record.
const maxTruncatedRecord = 64

// seconds converts a session time to JSON seconds, rounded to the
// microsecond as session.json's are.
func seconds(d time.Duration) float64 {
	return math.Round(d.Round(time.Microsecond).Seconds()*1e6) / 1e6
}

// Err returns the first error writing the file (nothing more is written
// after it), or nil.
func (w *HintsWriter) Err() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close writes the open runs and closes the file. It is idempotent: later
// calls return nil.
func (w *HintsWriter) Close() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	ids := make([]string, 0, len(w.runs))
	for id := range w.runs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		w.flushLocked(id, w.runs[id])
	}
	w.closed = true
	err := w.err
	if cerr := w.f.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("manifest: hints %s: %w", w.path, cerr))
	}
	return err
}
