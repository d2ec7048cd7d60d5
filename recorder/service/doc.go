// Package service runs roomtape as a recording service: an HTTP API that
// starts, stops and lists recordings and compositions, a job runner that
// executes them, outgoing signed webhooks, auto-recording from LiveKit
// webhooks, Prometheus metrics and a small web page.
//
// It lives under recorder because it is a host of recordings: every job
// runs the one session pipeline the bot runs (record → compose live or
// after the call → store, internal/bot), with the service's own WHIP rooms
// mounted on its HTTP server. examples/server is the thin binary over it;
// a host that wants the pieces in its own process embeds a [Service] (or
// only its [Service.Handler]).
//
// # Jobs and state
//
// A [Job] (record, compose or upload) is a JSON value in a JetStream
// key-value bucket (KVBucket), keyed by its ID; the queue is a JetStream
// work-queue stream (JobsStream) whose messages carry only job IDs. A
// worker takes a message when it has a free slot, claims the job by a
// revision-checked update of its KV entry (the job's Attempt becomes the
// message's delivery count), keeps the message alive with InProgress while
// it runs and acks it when the job reaches a final state. Every later write
// by a worker is revision-checked and refused when the Attempt moved on,
// so a worker that lost its job (a redelivery after it stalled) stops
// instead of writing over its successor; that is the base issue 16's
// fleet builds on without changing the API.
//
// A service killed mid-recording leaves its job "recording" and its
// message unacknowledged; JetStream redelivers it after AckWait and the
// worker that takes it records a new part of the same job (a new session
// directory beside the first). When the call ends the parts' manifests
// are merged on the first part's clock and composed together, the time
// between them a gap. Queued jobs simply wait in the stream.
//
// # Rooms, streams and secrets
//
// A record job records a WHIP room the service hosts, a LiveKit room, or
// a Daily room through the browser bridge (daily.go); composed live, it
// may also push the call to RTMP/RTMPS servers and write it as HLS
// (streams.go), reporting each output's state in the job. Secrets a job
// needs (stream keys, a Daily meeting token) never enter the job, which
// the API shows: they are kept apart in the bucket (secrets.go).
//
// # A fleet
//
// Processes of a fleet share one NATS cluster and take a [Role]: API
// front-ends (RoleAPI) never record, workers (RoleWorker) serve no API,
// RoleAll is both on one machine. A worker takes a job only when its
// [JobCost] fits in its free capacity (Config.Cores, Config.Memory), busy
// workers first; a job that fits nowhere stays queued and is reported
// ([FleetView]). A record job's worker holds the room's lease (lease.go:
// create-only, revision-checked renewals, TTL, self-fencing) so that one
// recorder at most records a room; a drained worker ([Service.Drain])
// hands its recordings off to others. fleet.go, lease.go and capacity.go
// explain each rule.
//
// # Concurrency
//
// Each running job has one goroutine (run) that owns its [Job] value and
// is the only writer of its progress and state; the API writes only
// StopRequested, through the same revision-checked update. The job cache
// (jobs.go) is owned by one watcher goroutine; readers take its RWMutex.
// Webhook delivery has its own goroutine; emitting an event never waits
// for it. A record run's stream outputs are followed by a streamTracker
// (its own mutex; the outputs' goroutines and the composer write it, the
// run's report goroutine reads it).
package service
