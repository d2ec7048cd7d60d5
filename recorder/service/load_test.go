package service_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder/service"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Shape of the load test (the issue: at least 10 rooms of 2 publishers on
// this 2-core machine, record-only).
const (
	loadRooms = 10
	loadStay  = 15 * time.Second
	// loadMeasure is the steady span the server's CPU is measured over,
	// once everyone has joined.
	loadMeasure = 10 * time.Second
	// opusFrame is a synthetic publisher's audio packet.
	opusFrame = 20 * time.Millisecond
	// stepTolerance is how far the audio a track drops to stay in sync
	// with its video may differ from the revision of its sender's clock
	// offset. The recorder places audio by sample count, so when the
	// offset moves back (a Sender Report at least 50 ms less delayed than
	// the first: under load the first is read late) the audio steps back
	// by whole packets, which are dropped and counted (recorder/pionrec's
	// "Timing"; pionrec.Stats.DroppedFrames). A step happens only past
	// pionrec's 30 ms resync threshold and moves by whole 20 ms packets,
	// the rest kept as a residual: the drop is the revision within 30 ms
	// plus half a packet. The revision itself grows with the load (on
	// this 2-core machine at load average 14: up to 220 ms a track, up to
	// 900 ms with -race): it is the first report's excess delay.
	stepTolerance = 30*time.Millisecond + opusFrame/2
	// audioSlack is how far a track's decoded audio may differ from its
	// packets written (each exactly one opusFrame): the decoder's length
	// is counted in samples at mediacheck's rate; under a millisecond.
	audioSlack = time.Millisecond
)

// TestLoad records loadRooms WHIP rooms of two publishers each at once,
// record-only, through the API of a real server process, checks that
// every video frame a publisher sent is in its recorded files and that
// every audio packet sent is in them too, or was dropped by a step of the
// recorder's A/V sync as large as its sender-clock offset's revision (the
// recorder's counters and Sender Report lines from its debug log account
// for each packet), and reports the server's CPU and memory per room and
// the audio recorded.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("records 10 rooms for 15 s")
	}
	srv := startServer(t, "127.0.0.1:0", t.TempDir(), nil, "--max-recordings", strconv.Itoa(loadRooms), "--log-level", "DEBUG")
	ctx := t.Context()
	type room struct {
		resp service.RecordingResponse
		pubs []*synth.Publisher
	}
	rooms := make([]*room, loadRooms)
	for i := range rooms {
		rooms[i] = &room{resp: srv.createRecording(service.RecordingRequest{
			Room:   service.Room{Type: service.RoomWHIP, Participants: []service.Grant{{ID: "a"}, {ID: "b"}}, IdleTimeoutS: 1},
			Output: service.Output{Compose: service.ComposeNone},
		})}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, r := range rooms {
		for k, id := range []string{"a", "b"} {
			wg.Go(func() {
				p := publish(ctx, t, r.resp.WHIP.URL, r.resp.WHIP.Tokens[id], (2*i+k)%2, roomStart)
				mu.Lock()
				r.pubs = append(r.pubs, p)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	cpu0, at0 := procCPU(t, srv.cmd.Process.Pid), time.Now()
	time.Sleep(loadMeasure)
	cpu1, at1 := procCPU(t, srv.cmd.Process.Pid), time.Now()
	rss := procRSS(t, srv.cmd.Process.Pid)
	time.Sleep(loadStay - loadMeasure)
	for _, r := range rooms {
		for _, p := range r.pubs { // their counters are final once closed
			if err := p.Close(ctx); err != nil {
				t.Error(err)
			}
		}
	}
	util := (cpu1 - cpu0).Seconds() / at1.Sub(at0).Seconds()
	t.Logf("server: %.2f cores for %d rooms of 2 (%.3f cores, %.1f%% of a core per room), RSS %d MiB (%.1f MiB per room)",
		util, loadRooms, util/loadRooms, 100*util/loadRooms, rss>>20, float64(rss>>20)/loadRooms)

	var audioShort, audioSent time.Duration
	defer func() {
		t.Logf("audio: %v recorded of %v sent (%v short, %.2f%%)", audioSent-audioShort, audioSent, audioShort, 100*audioShort.Seconds()/max(1e-9, audioSent.Seconds()))
	}()
	for _, r := range rooms {
		j, _ := srv.waitJob("/v1/recordings/"+r.resp.Job.ID, jobDone)
		if j.State != service.StateDone {
			t.Errorf("%s: %s %s", j.ID, j.State, j.Error)
			continue
		}
		mf, _ := j.File(service.FileManifest)
		m, err := manifest.Load(mf.Path)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Participants) != 2 {
			t.Errorf("%s: %d participants", j.ID, len(m.Participants))
		}
		frames, audio, audioTracks := 0, time.Duration(0), 0
		for _, p := range m.Participants {
			for _, tr := range p.Tracks {
				rep, err := mediacheck.Analyze(tr.Path, mediacheck.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Video != nil {
					frames += rep.Video.Frames
				}
				if rep.Audio != nil {
					audio += rep.Audio.Duration()
					audioTracks++
				}
			}
		}
		var want, packets int64
		for _, p := range r.pubs {
			want += p.Stats().VideoFrames
			packets += p.Stats().AudioPackets
		}
		if int64(frames) != want {
			t.Errorf("%s: %d video frames recorded, %d sent", j.ID, frames, want)
		}
		audioShort += time.Duration(packets)*opusFrame - audio
		audioSent += time.Duration(packets) * opusFrame
		st := opusTrackStats(srv.logs.String())[j.ID]
		t.Logf("%s: audio %v of %v sent; sent %d packets, read %d, written %d, lost %d, dropped by A/V sync steps %d (at most %d a track), unwritten %d",
			j.ID, audio, time.Duration(packets)*opusFrame, packets, st.packets, st.frames, st.lost, st.dropped, st.maxDropped, st.unwritten)
		// Every packet sent reached the recorder and was written, or
		// dropped by a step back of the A/V sync; what was written
		// decodes to its full length.
		switch {
		case st.tracks != audioTracks || audioTracks != 2 || len(st.perTrack) != 2:
			t.Errorf("%s: %d Opus tracks in the recorder's log, %d audio files: want 2 (a \"track ended\" debug line each)", j.ID, st.tracks, audioTracks)
		case st.packets != packets || st.lost != 0 || st.unwritten != 0 || st.frames+st.dropped != packets:
			t.Errorf("%s: %d audio packets sent, %d read, %d written, %d dropped, %d lost, %d unwritten: want each packet read and written or dropped", j.ID, packets, st.packets, st.frames, st.dropped, st.lost, st.unwritten)
		}
		for _, tr := range st.perTrack {
			dropped := time.Duration(tr.dropped) * opusFrame
			t.Logf("%s: track %s dropped %v for an offset revision of %v", j.ID, tr.name, dropped, tr.revision)
			if !tr.reports || (dropped-tr.revision).Abs() > stepTolerance {
				t.Errorf("%s: track %s dropped %v of audio for an offset revision of %v (reports seen: %v): want the two within %v", j.ID, tr.name, dropped, tr.revision, tr.reports, stepTolerance)
			}
		}
		// A step forward leaves a gap of silence: audio may be longer.
		if written := time.Duration(st.frames) * opusFrame; audio < written-time.Duration(audioTracks)*audioSlack {
			t.Errorf("%s: %v of audio decoded, %v written", j.ID, audio, written)
		}
	}
	checkNoSecrets(t, srv.logs.String(), []string{testKey})
	srv.stop()
}

// procCPU is a process's user + system CPU time.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) in ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}

// procRSS is a process's resident memory in bytes.
func procRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// opusStats are the recorder's counters of a room's Opus tracks, from its
// "track ended" debug lines (recorder/pionrec).
type opusStats struct {
	tracks                                    int
	packets, frames, lost, dropped, unwritten int64
	maxDropped                                int64 // the most one track dropped
	perTrack                                  map[string]*opusTrack
}

// opusTrack is one Opus track's drops and its sender-clock offset's
// revision: the first Sender Report's offset less the least one.
type opusTrack struct {
	name         string
	dropped      int64
	reports      bool
	first, least time.Duration
	revision     time.Duration
}

// trackEnded is recorder/pionrec's debug line at the end of a track.
var trackEnded = regexp.MustCompile(`msg="track ended".*`)

// opusTrackStats sums the Opus tracks' counters of each job in logs.
func opusTrackStats(logs string) map[string]opusStats {
	out := map[string]opusStats{}
	field := func(line, name string) int64 {
		i := strings.Index(line, " "+name+"=")
		if i < 0 {
			return 0
		}
		v := line[i+len(name)+2:]
		if j := strings.IndexByte(v, ' '); j >= 0 {
			v = v[:j]
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	word := func(line, name string) string {
		i := strings.Index(line, " "+name+"=")
		if i < 0 {
			return ""
		}
		v, _, _ := strings.Cut(line[i+len(name)+2:], " ")
		return v
	}
	for line := range strings.SplitSeq(logs, "\n") {
		job := word(line, "job")
		if !strings.Contains(line, " codec=opus") || job == "" {
			continue
		}
		st := out[job]
		if st.perTrack == nil {
			st.perTrack = map[string]*opusTrack{}
		}
		name := word(line, "participant") + "/" + word(line, "track")
		tr := st.perTrack[name]
		if tr == nil {
			tr = &opusTrack{name: name}
			st.perTrack[name] = tr
		}
		if strings.Contains(line, `msg="sender report"`) {
			if off, err := time.ParseDuration(word(line, "offset")); err == nil {
				if !tr.reports {
					tr.first, tr.least, tr.reports = off, off, true
				}
				tr.least = min(tr.least, off)
				tr.revision = tr.first - tr.least
			}
			out[job] = st
			continue
		}
		if !trackEnded.MatchString(line) {
			continue
		}
		tr.dropped = field(line, "dropped")
		st.tracks++
		st.packets += field(line, "packets")
		st.frames += field(line, "frames")
		st.lost += field(line, "lost")
		st.dropped += field(line, "dropped")
		st.maxDropped = max(st.maxDropped, field(line, "dropped"))
		st.unwritten += field(line, "unwritten")
		out[job] = st
	}
	return out
}
