package service

import (
	"bufio"
	"bytes"
	"os"
	"strconv"

	"github.com/roomtape/roomtape/compose"
)

// Cost is what a job reserves on the worker that runs it: cores and bytes
// of memory. A worker takes a job only when the job's cost fits in its
// free capacity (Config.Cores and Config.Memory minus the costs of the
// jobs it runs).
type Cost struct {
	CPU    float64 `json:"cpu"`
	Memory int64   `json:"memory_bytes"`
}

// Add returns c + o.
func (c Cost) Add(o Cost) Cost { return Cost{CPU: c.CPU + o.CPU, Memory: c.Memory + o.Memory} }

// Sub returns c - o.
func (c Cost) Sub(o Cost) Cost { return Cost{CPU: c.CPU - o.CPU, Memory: c.Memory - o.Memory} }

// Fits reports whether c fits in free.
func (c Cost) Fits(free Cost) bool {
	// cpuEpsilon absorbs the float sums of many small costs.
	const cpuEpsilon = 1e-9
	return c.CPU <= free.CPU+cpuEpsilon && c.Memory <= free.Memory
}

// The job cost table: measured on this project's 2-core reference
// machine (the numbers, commands and dates are in README.md, "Job
// costs"); a host whose machines differ measures its own the same way and
// scales Config.Cores instead of editing these.
const (
	// RecordCPUPerParticipant and RecordMemoryPerParticipant: recording
	// without transcoding (RTP depacketised and muxed to MKV/WebM) costs
	// per publishing participant. Measured: recorder/service TestLoad, 10
	// WHIP rooms of 2 publishers (VP8 320x240 ~300 kbit/s + Opus),
	// record-only: 0.20 cores and 78 MiB for the 10 rooms, i.e. ~2 % of a
	// core and 7.8 MiB per room.
	RecordCPUPerParticipant    = 0.01
	RecordMemoryPerParticipant = 4 << 20
	// LiveCPUAt720p and LiveMemoryAt720p: composing one room live at
	// 1280x720 (the default preset, 3 inputs decoded). Measured:
	// bench/rooms.sh 3 2 (three 3-person 720p rooms at once): 0.95 cores
	// and 210 MB peak RSS per room, recording included.
	LiveCPUAt720p    = 0.95
	LiveMemoryAt720p = 210 << 20
	// LiveCPUAt180p and LiveMemoryAt180p: the same room composed live at
	// 320x180. Measured: OUTPUT_WIDTH=320 OUTPUT_HEIGHT=180
	// bench/rooms.sh 1 1: 32.4 CPU s per minute (0.54 cores) and 108 MB
	// peak RSS, recording included (load average 11-14). Decoding the
	// three 720p inputs does not shrink with the output: liveCost
	// interpolates between the two points by output pixel rate and
	// charges at least this.
	LiveCPUAt180p    = 0.54
	LiveMemoryAt180p = 108 << 20
	// OfflineCPU and OfflineMemory: an offline composition (after the
	// call, or a compose job) runs as fast as the CPU it gets allows, so
	// its reservation bounds how many run at once rather than what each
	// needs: one core. Measured: examples/compose on a 60 s 3-person 720p
	// session at 1280x720 (default preset): 33.2 s of CPU (0.55 core-s per
	// session second) and 194 MiB peak RSS (53.9 s wall on a machine at
	// load 17).
	OfflineCPU    = 1.0
	OfflineMemory = 200 << 20
	// UploadCPU and UploadMemory: an upload streams files to S3 in
	// multipart parts (storage/s3: 8 MiB parts, 4 at once), hashing each
	// for SigV4; it runs as fast as the network allows. Measured:
	// storage/s3 BenchmarkPut/part=8MiB/conc=4 against a local versitygw:
	// 33 MB/s, 8.0 s of client CPU for 600 MB (13 ms per MB, 0.44 cores at
	// that rate), 66 MiB peak RSS.
	UploadCPU    = 0.45
	UploadMemory = 64 << 20
	// DefaultLiveKitParticipants is the participant count a LiveKit
	// room's cost assumes: its participants are not known in advance.
	DefaultLiveKitParticipants = 4
)

// Output pixel rates the live costs were measured at.
var (
	rate720p = float64(1280 * 720 * compose.DefaultFPS)
	rate180p = float64(320 * 180 * compose.DefaultFPS)
)

// liveCost is the cost of composing one room live into o: linear in the
// output pixel rate through the two measured points, at least the 180p
// cost.
func liveCost(o Output) Cost {
	w, h, fps := o.Width, o.Height, o.FPS
	if w == 0 {
		w, h = compose.DefaultWidth, compose.DefaultHeight
	}
	if fps == 0 {
		fps = compose.DefaultFPS
	}
	x := max((float64(w*h*fps)-rate180p)/(rate720p-rate180p), 0)
	return Cost{
		CPU:    LiveCPUAt180p + x*(LiveCPUAt720p-LiveCPUAt180p),
		Memory: LiveMemoryAt180p + int64(x*float64(LiveMemoryAt720p-LiveMemoryAt180p)),
	}
}

// participantsOf is the number of publishers a record job expects.
func participantsOf(j *Job) int {
	if j.Room == nil {
		return 0
	}
	if j.Room.Type == RoomWHIP {
		return len(j.Room.Participants)
	}
	return DefaultLiveKitParticipants
}

// JobCost is the reservation of job j:
//   - record: RecordCPUPerParticipant per expected participant, plus the
//     live composition (live, the default) or the offline one (offline:
//     it runs on the same worker after the call, so it is reserved from
//     the start and the worker is never overcommitted); a record job
//     resumed after its call only composes;
//   - compose: the offline composition;
//   - upload: UploadCPU.
//
// Every job with an upload adds UploadCPU.
func JobCost(j *Job) Cost {
	var c Cost
	switch j.Kind {
	case KindRecord:
		if j.RecordedAt == nil {
			n := int64(participantsOf(j))
			c = Cost{CPU: float64(n) * RecordCPUPerParticipant, Memory: n * RecordMemoryPerParticipant}
		}
		switch j.Output.Compose {
		case ComposeNone:
		case ComposeOffline:
			c = c.Add(Cost{CPU: OfflineCPU, Memory: OfflineMemory})
		default:
			if j.RecordedAt == nil {
				c = c.Add(liveCost(j.Output))
			} else {
				c = c.Add(Cost{CPU: OfflineCPU, Memory: OfflineMemory})
			}
		}
	case KindCompose:
		c = Cost{CPU: OfflineCPU, Memory: OfflineMemory}
	case KindUpload:
		return Cost{CPU: UploadCPU, Memory: UploadMemory}
	}
	if j.Output.Upload {
		c = c.Add(Cost{CPU: UploadCPU, Memory: UploadMemory})
	}
	return c
}

// machineMemory is the machine's physical memory (MemTotal of
// /proc/meminfo), or 0 when unknown.
func machineMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return parseMemTotal(b)
}

// parseMemTotal reads MemTotal (kB) from /proc/meminfo's text; 0 when
// absent or malformed.
func parseMemTotal(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemTotal:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil || kb <= 0 || kb > 1<<40 {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
