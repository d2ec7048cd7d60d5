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
	// 1280x720 (libx264 preset veryfast, 3 inputs decoded). Measured:
	// bench/rooms.sh 3 2 (three 3-person 720p rooms at once): 0.95 cores
	// and 210 MB peak RSS per room, recording included.
	LiveCPUAt720p    = 0.95
	LiveMemoryAt720p = 210 << 20
	// liveFloor is the share of the 720p cost a live composition costs
	// however small its output: decoding the inputs, mixing the audio and
	// the filter graph do not shrink with the output. Measured with
	// bench/rooms.sh at 320x180 (see README.md).
	liveFloor = 0.25
	// OfflineCPU and OfflineMemory: an offline composition (after the
	// call, or a compose job) runs as fast as its encoder threads allow;
	// it reserves what it uses then. Measured: examples/compose on a
	// 3-person 720p session at 1280x720 (README.md).
	OfflineCPU    = 1.0
	OfflineMemory = 250 << 20
	// UploadCPU and UploadMemory: an upload job streams files to S3 in
	// multipart parts (storage/s3: 8 MiB parts, 4 at once). Measured:
	// storage/s3 BenchmarkUpload against versitygw (README.md).
	UploadCPU    = 0.05
	UploadMemory = 40 << 20
	// DefaultLiveKitParticipants is the participant count a LiveKit
	// room's cost assumes: its participants are not known in advance.
	DefaultLiveKitParticipants = 4
)

// refPixelRate is the output pixel rate the live costs were measured at.
var refPixelRate = float64(1280 * 720 * compose.DefaultFPS)

// liveCost is the cost of composing one room live into o.
func liveCost(o Output) Cost {
	w, h, fps := o.Width, o.Height, o.FPS
	if w == 0 {
		w, h = compose.DefaultWidth, compose.DefaultHeight
	}
	if fps == 0 {
		fps = compose.DefaultFPS
	}
	share := max(float64(w*h*fps)/refPixelRate, liveFloor)
	return Cost{CPU: LiveCPUAt720p * share, Memory: int64(float64(LiveMemoryAt720p) * share)}
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
