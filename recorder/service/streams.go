package service

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/bot"
	"github.com/roomtape/roomtape/internal/redact"
)

// Stream outputs of record jobs: output.rtmp and output.hls. A record job
// composed live may push the composed call to RTMP/RTMPS servers and write
// it as HLS (compose.Streams); the job's Streams report each output's
// state, webhooks tell when one goes down or comes up, and /metrics counts
// failures, reconnections and dropped packets.
//
// The RTMP URLs' stream keys are secrets: the job keeps them redacted
// (secrets.go). A compose job cannot stream: it runs faster than real
// time.

// Limits of the stream outputs.
const (
	// maxRTMPTargets bounds output.rtmp: each target is one more FLV
	// muxer, connection and queue of up to 4 s of media in the worker.
	maxRTMPTargets = 4
	// maxStreamURL bounds one RTMP URL (a long query is a mistake).
	maxStreamURL = 2048
)

// Stream events of the outgoing webhooks.
const (
	// EventStreamFailed: a stream output of a recording went down (the
	// RTMP server refused or dropped the push, or stopped reading for
	// 5 s); the job's streams say which (redacted) and why. Sent once
	// per outage, not at every retry; the recording goes on.
	EventStreamFailed EventType = "recording.stream_failed"
	// EventStreamConnected: a stream output is up: its first
	// connection, or the first one after an outage.
	EventStreamConnected EventType = "recording.stream_connected"
)

// HLS files of a record job with output.hls, served under
// /v1/recordings/{id}/hls/ while it records and after.
const (
	HLSLivePlaylist = "live.m3u8"
	HLSVODPlaylist  = "vod.m3u8"
)

// StreamState is one stream output of a record job.
type StreamState struct {
	// Target is the RTMP URL with its key redacted, or "hls".
	Target string `json:"target"`
	// URL (HLS) is the live playlist on the API.
	URL string `json:"url,omitempty"`
	// Connected says the output is writing now.
	Connected bool `json:"connected"`
	// Packets were written; Dropped were not (the output's queue was
	// full, or it skipped to the next keyframe after a gap or a
	// reconnection).
	Packets int64 `json:"packets"`
	Dropped int64 `json:"dropped"`
	// Failures counts failed connections and writes; Reconnects the
	// connections after the first.
	Failures   int64 `json:"failures"`
	Reconnects int64 `json:"reconnects"`
	// Error is the last failure (URLs redacted), ErrorAt its time.
	Error   string    `json:"error,omitempty"`
	ErrorAt time.Time `json:"error_at,omitzero"`
}

// streamKind is the metric label of a target: "rtmp", "rtmps" or "hls".
func streamKind(target string) string {
	if target == "hls" {
		return "hls"
	}
	if u, err := url.Parse(target); err == nil && redact.IsRTMP(u.Scheme) {
		return strings.ToLower(u.Scheme)
	}
	return "rtmp"
}

// isZero reports whether o is the zero Output (the service's default
// output applies then).
func (o Output) isZero() bool { return reflect.ValueOf(o).IsZero() }

// checkStreams validates o's stream outputs for a job of kind (prefix: the
// JSON path of o). Error messages show URLs redacted.
func checkStreams(o Output, prefix string, kind Kind) *fieldError {
	if len(o.RTMP) == 0 && !o.HLS {
		return nil
	}
	field := prefix + ".rtmp"
	if len(o.RTMP) == 0 {
		field = prefix + ".hls"
	}
	if kind != KindRecord {
		return bad(field, "a composition of a saved recording runs faster than real time: streams are for record jobs composed live")
	}
	if o.Compose == ComposeOffline || o.Compose == ComposeNone {
		return bad(field, "streams carry the live composition: not with output.compose %q", o.Compose)
	}
	if len(o.RTMP) > maxRTMPTargets {
		return bad(field, "%d targets: at most %d", len(o.RTMP), maxRTMPTargets)
	}
	seen := map[string]int{}
	for i, u := range o.RTMP {
		f := fmt.Sprintf("%s[%d]", field, i)
		if msg := checkRTMPTarget(u); msg != "" {
			return bad(f, "%s", msg)
		}
		r := redact.StreamTarget(u)
		if k, dup := seen[r]; dup {
			return bad(f, "the same server and application as %s[%d] (%s): the job shows targets without their keys, so they must differ before the key", field, k, r)
		}
		seen[r] = i
	}
	return nil
}

// checkRTMPTarget says what is wrong with an RTMP target ("" if nothing),
// naming it redacted.
func checkRTMPTarget(raw string) string {
	if len(raw) > maxStreamURL {
		return fmt.Sprintf("longer than %d bytes", maxStreamURL)
	}
	if err := (compose.Streams{RTMP: []string{raw}}).Validate(); err != nil {
		return strings.TrimPrefix(err.Error(), compose.ErrConfig.Error()+": ")
	}
	u, _ := url.Parse(raw) // parsed by Validate
	if _, key, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/"); key == "" {
		return fmt.Sprintf("RTMP target %s: no stream key: want rtmp[s]://host[:port]/app/key", redact.StreamTarget(raw))
	}
	return ""
}

// hlsURL is the API URL of a record job's HLS file.
func (s *Service) hlsURL(id, name string) string {
	return strings.TrimSuffix(s.cfg.PublicURL, "/") + "/v1/recordings/" + id + "/hls/" + name
}

// hlsName is a file of the HLS output (compose.Streams.HLS's names).
var hlsName = regexp.MustCompile(`^(live\.m3u8|vod\.m3u8|seg[0-9]{5,9}\.ts)$`)

// serveHLS serves a record job's HLS files from its last part's session
// directory: the live playlist while it records, the segments, the VOD
// playlist at the end.
func (s *Service) serveHLS(w http.ResponseWriter, r *http.Request) {
	j, ok := s.lookup(w, r, KindRecord)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if !j.Output.HLS || len(j.Parts) == 0 || !hlsName.MatchString(name) {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("recording %s has no HLS file %q (state %s)", j.ID, name, j.State))
		return
	}
	p := filepath.Join(bot.HLSDir(j.Parts[len(j.Parts)-1].Dir), name)
	if strings.HasSuffix(name, ".m3u8") {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Header().Set("Cache-Control", "no-store")
	} else {
		w.Header().Set("Content-Type", "video/mp2t")
	}
	http.ServeFile(w, r, p)
}

// streamTracker follows a record run's stream outputs: the pipeline's
// stream events (on the outputs' goroutines) and progress (on the
// composer's) update it, the run's report goroutine and finish read it.
// mu guards the slices; nothing else is locked under it, and
// webhooks are emitted after it is released.
type streamTracker struct {
	s   *Service
	job func() *Job
	log *slog.Logger

	mu      sync.Mutex
	states  []StreamState // by output: the RTMP targets in order, then HLS
	ever    []bool        // connected once in this run
	down    []bool        // the current outage was announced
	dropped []int64       // Dropped as last counted into the metric
	base    []StreamState // the totals of the job's earlier parts
}

// newStreamTracker returns the tracker of job j's outputs, nil without
// any. The counters go on from the job's earlier parts.
func newStreamTracker(s *Service, j *Job, current func() *Job, log *slog.Logger) *streamTracker {
	var states []StreamState
	for _, t := range j.Output.RTMP {
		states = append(states, StreamState{Target: t})
	}
	if j.Output.HLS {
		states = append(states, StreamState{Target: "hls", URL: s.hlsURL(j.ID, HLSLivePlaylist)})
	}
	if len(states) == 0 {
		return nil
	}
	n := len(states)
	t := &streamTracker{
		s: s, job: current, log: log, states: states,
		ever: make([]bool, n), down: make([]bool, n), dropped: make([]int64, n), base: make([]StreamState, n),
	}
	for i := range states {
		if i < len(j.Streams) && j.Streams[i].Target == states[i].Target {
			t.base[i] = j.Streams[i]
			t.states[i] = j.Streams[i]
			t.states[i].Connected = false
		}
	}
	return t
}

// index is the output named target (-1: unknown). Targets are unique
// (checkStreams).
func (t *streamTracker) index(target string) int {
	for i, s := range t.states {
		if s.Target == target {
			return i
		}
	}
	return -1
}

// onEvent follows a stream event; it returns quickly (the output waits).
func (t *streamTracker) onEvent(e compose.StreamEvent) {
	if t == nil || (e.Kind != compose.StreamConnected && e.Kind != compose.StreamFailed) {
		return
	}
	t.mu.Lock()
	i := t.index(e.Target)
	if i < 0 {
		t.mu.Unlock()
		t.log.Warn("stream event of an unknown output", "target", e.Target)
		return
	}
	st := &t.states[i]
	kind := streamKind(st.Target)
	var ev EventType
	switch e.Kind {
	case compose.StreamConnected:
		if t.ever[i] {
			st.Reconnects++
			t.s.metrics.streamReconnects.WithLabelValues(kind).Inc()
		}
		t.ever[i], t.down[i] = true, false
		if !st.Connected {
			ev = EventStreamConnected
		}
		st.Connected = true
	case compose.StreamFailed:
		st.Failures++
		t.s.metrics.streamFailures.WithLabelValues(kind).Inc()
		if !t.down[i] { // once per outage
			ev = EventStreamFailed
			t.down[i] = true
		}
		st.Connected = false
		if e.Err != nil {
			st.Error = redact.Text(e.Err.Error())
		}
		st.ErrorAt = time.Now().UTC()
		if e.Retry == 0 {
			st.Error += " (given up)"
		}
	}
	t.mu.Unlock()
	if ev != "" {
		t.emit(ev)
	}
}

// emit sends ev with the job as it is now, its streams included.
func (t *streamTracker) emit(ev EventType) {
	j := *t.job()
	j.Streams = t.snapshot()
	t.s.emit(ev, &j)
}

// progress takes the outputs' counters from a progress report.
func (t *streamTracker) progress(sts []compose.StreamStatus) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, s := range sts {
		i := k // the outputs come in order; the name confirms
		if i >= len(t.states) || t.states[i].Target != s.Target {
			if i = t.index(s.Target); i < 0 {
				continue
			}
		}
		st, b := &t.states[i], t.base[i]
		st.Packets, st.Dropped = b.Packets+s.Packets, b.Dropped+s.Dropped
		st.Failures = max(st.Failures, b.Failures+s.Failures)
		if d := s.Dropped - t.dropped[i]; d > 0 {
			t.s.metrics.streamDropped.WithLabelValues(streamKind(st.Target)).Add(float64(d))
			t.dropped[i] = s.Dropped
		}
	}
}

// snapshot returns a copy of the states (nil without outputs).
func (t *streamTracker) snapshot() []StreamState {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.states)
}

// final returns the states at the end of the run: nothing is connected.
func (t *streamTracker) final() []StreamState {
	st := t.snapshot()
	for i := range st {
		st[i].Connected = false
	}
	return st
}
