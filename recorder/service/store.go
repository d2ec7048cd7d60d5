package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the JetStream objects the service uses.
const (
	// KVBucket holds the jobs (key: job ID) and the room claims (key:
	// "room.<type>.<hex name>", value: the job ID).
	KVBucket = "roomtape_jobs"
	// JobsStream is the work queue; its subjects are JobsSubject + kind.
	JobsStream  = "ROOMTAPE_JOBS"
	JobsSubject = "roomtape.jobs."
	// jobsConsumer is the durable pull consumer every worker shares.
	jobsConsumer = "workers"
	// EventsStream holds the outgoing webhook events until delivered.
	EventsStream   = "ROOMTAPE_EVENTS"
	EventsSubject  = "roomtape.events"
	eventsConsumer = "webhooks"
)

// Timing of the queue.
const (
	// DefaultAckWait is how long a worker may go silent before its job is
	// redelivered: the takeover time after a kill -9 (a running job
	// reports InProgress every AckWait/heartbeatDivisor).
	DefaultAckWait   = 10 * time.Second
	heartbeatDivisor = 4
	// natsTimeout bounds one JetStream request.
	natsTimeout = 5 * time.Second
	// embeddedReady bounds the embedded server's start.
	embeddedReady = 10 * time.Second
)

// ErrConflict is a revision-checked write that lost to another writer
// after its retries, or a worker whose job was taken over.
var ErrConflict = errors.New("service: job changed by another writer")

// errNotFound is a missing job.
var errNotFound = errors.New("service: no such job")

// queue is the JetStream side: connection, KV bucket, work queue. Safe
// for concurrent use (nats.go's types are).
type queue struct {
	ns   *server.Server // the embedded server; nil with an external one
	nc   *nats.Conn
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	jobs jetstream.Consumer
	log  *slog.Logger

	// The fleet's buckets (fleet.go, lease.go) and the lease TTL.
	leases, workers jetstream.KeyValue
	leaseTTL        time.Duration
	replicas        int
}

// openQueue connects to url or, when url is empty, starts an embedded
// NATS server (no listener: in-process connections only) with JetStream
// storage in storeDir, and creates the bucket, streams and consumer.
func openQueue(ctx context.Context, url, storeDir string, ackWait time.Duration, replicas int, log *slog.Logger) (*queue, error) {
	q := &queue{log: log}
	var err error
	if url == "" {
		opts := &server.Options{
			ServerName: "roomtape",
			DontListen: true,
			JetStream:  true,
			StoreDir:   filepath.Join(storeDir),
			NoSigs:     true,
			NoLog:      true,
		}
		if q.ns, err = server.NewServer(opts); err != nil {
			return nil, fmt.Errorf("service: embedded NATS: %w", err)
		}
		q.ns.Start()
		if !q.ns.ReadyForConnections(embeddedReady) {
			q.ns.Shutdown()
			return nil, fmt.Errorf("service: embedded NATS (store %s) not ready in %v", storeDir, embeddedReady)
		}
		q.nc, err = nats.Connect("", nats.InProcessServer(q.ns), nats.Name("roomtape"))
	} else {
		q.nc, err = nats.Connect(url, nats.Name("roomtape"), nats.MaxReconnects(-1))
	}
	if err != nil {
		q.close()
		return nil, fmt.Errorf("service: connect to NATS: %w", err)
	}
	if q.js, err = jetstream.New(q.nc); err != nil {
		q.close()
		return nil, fmt.Errorf("service: JetStream: %w", err)
	}
	q.replicas = q.defaultReplicas(replicas)
	if err := q.setup(ctx, ackWait); err != nil {
		q.close()
		return nil, err
	}
	return q, nil
}

// setup creates (or updates) the bucket, the streams and the consumers.
func (q *queue) setup(ctx context.Context, ackWait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 4*natsTimeout)
	defer cancel()
	var err error
	if q.kv, err = q.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   KVBucket,
		History:  1,
		Storage:  jetstream.FileStorage,
		Replicas: q.replicas,
	}); err != nil {
		return fmt.Errorf("service: KV bucket %s: %w", KVBucket, err)
	}
	st, err := q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:      JobsStream,
		Subjects:  []string{JobsSubject + ">"},
		Retention: jetstream.WorkQueuePolicy,
		Storage:   jetstream.FileStorage,
		Replicas:  q.replicas,
	})
	if err != nil {
		return fmt.Errorf("service: stream %s: %w", JobsStream, err)
	}
	if q.jobs, err = st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   jobsConsumer,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   ackWait,
		// Unlimited: a job no worker has room for is declined (nak'ed)
		// again and again and must stay queued (fleet.go); a job that
		// keeps killing its workers is failed by its Claims instead.
		MaxDeliver: -1,
	}); err != nil {
		return fmt.Errorf("service: consumer %s: %w", jobsConsumer, err)
	}
	if _, err := q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       EventsStream,
		Subjects:   []string{EventsSubject},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Duplicates: eventDedupeWindow,
		MaxAge:     eventMaxAge,
		Replicas:   q.replicas,
	}); err != nil {
		return fmt.Errorf("service: stream %s: %w", EventsStream, err)
	}
	return q.setupFleet(ctx, ackWait)
}

// maxDeliveries bounds the claims of one job (Job.Claims).
const maxDeliveries = 20

// close drains the connection and stops the embedded server. Idempotent.
func (q *queue) close() {
	if q.nc != nil {
		_ = q.nc.Drain()
		q.nc.Close()
	}
	if q.ns != nil {
		q.ns.Shutdown()
		q.ns.WaitForShutdown()
	}
}

// get reads a job and its revision.
func (q *queue) get(ctx context.Context, id string) (*Job, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	e, err := q.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("%w: %s", errNotFound, id)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("service: read job %s: %w", id, err)
	}
	var j Job
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return nil, 0, fmt.Errorf("service: job %s: %w", id, err)
	}
	return &j, e.Revision(), nil
}

// create stores a new job; it fails if the ID exists.
func (q *queue) create(ctx context.Context, j *Job) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	if _, err := q.kv.Create(ctx, j.ID, b); err != nil {
		return fmt.Errorf("service: store job %s: %w", j.ID, err)
	}
	return nil
}

// updateRetries bounds the read-modify-write rounds of update.
const updateRetries = 10

// update applies fn to the stored job and writes it back with a revision
// check, rereading and reapplying fn when another writer came first. fn
// may return errSkip to write nothing.
func (q *queue) update(ctx context.Context, id string, fn func(*Job) error) (*Job, error) {
	for range updateRetries {
		j, rev, err := q.get(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := fn(j); err != nil {
			if errors.Is(err, errSkip) {
				return j, nil
			}
			return j, err
		}
		b, err := json.Marshal(j)
		if err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, natsTimeout)
		_, err = q.kv.Update(wctx, id, b, rev)
		cancel()
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("service: write job %s: %w", id, err)
		}
		return j, nil
	}
	return nil, fmt.Errorf("%w: %s after %d tries", ErrConflict, id, updateRetries)
}

// errSkip tells update that fn changed nothing.
var errSkip = errors.New("service: nothing to write")

// roomKey is the KV key claiming a room: the name hex-encoded (any
// string is a valid key then).
func roomKey(t RoomType, name string) string {
	return fmt.Sprintf("room.%s.%x", t, name)
}

// claimRoom records that job holds the room; it fails with errRoomTaken
// (and the holder's ID) when another unfinished job holds it.
func (q *queue) claimRoom(ctx context.Context, t RoomType, name, job string) (holder string, err error) {
	ctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	key := roomKey(t, name)
	_, err = q.kv.Create(ctx, key, []byte(job))
	if errors.Is(err, jetstream.ErrKeyExists) {
		e, gerr := q.kv.Get(ctx, key)
		if gerr != nil {
			return "", fmt.Errorf("service: room %s: %w", name, gerr)
		}
		return string(e.Value()), errRoomTaken
	}
	if err != nil {
		return "", fmt.Errorf("service: claim room %s: %w", name, err)
	}
	return "", nil
}

// errRoomTaken: another unfinished job records the room.
var errRoomTaken = errors.New("service: room already recorded")

// releaseRoom drops job's claim on the room (only its own).
func (q *queue) releaseRoom(ctx context.Context, t RoomType, name, job string) {
	ctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	key := roomKey(t, name)
	e, err := q.kv.Get(ctx, key)
	if err != nil || string(e.Value()) != job {
		return
	}
	if err := q.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		q.log.Warn("release room", "job", job, "err", err)
	}
}

// enqueue publishes the job's ID on the work queue.
func (q *queue) enqueue(ctx context.Context, j *Job) error {
	ctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	_, err := q.js.Publish(ctx, JobsSubject+string(j.Kind), []byte(j.ID), jetstream.WithMsgID(j.ID))
	if err != nil {
		return fmt.Errorf("service: enqueue job %s: %w", j.ID, err)
	}
	return nil
}

// cache mirrors the bucket's jobs for listing, capacity and metrics. The
// watch goroutine writes it, and put (a job just created, under the
// service's createMu); mu guards jobs and ready.
type cache struct {
	mu    sync.RWMutex
	jobs  map[string]*Job
	ready bool
}

// watch fills the cache from the bucket and follows it until ctx ends.
func (c *cache) watch(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) error {
	return followBucket(ctx, kv, KVBucket, func(e jetstream.KeyValueEntry) { c.apply(e, log) })
}

func (c *cache) apply(e jetstream.KeyValueEntry, log *slog.Logger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e == nil { // the initial values are in
		c.ready = true
		return
	}
	if strings.HasPrefix(e.Key(), "room.") || strings.HasPrefix(e.Key(), secretPrefix) {
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(c.jobs, e.Key())
		return
	}
	var j Job
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		log.Warn("unreadable job in the bucket", "job", e.Key(), "err", err)
		return
	}
	c.jobs[j.ID] = &j
}

// list returns copies of the jobs matching keep, newest first.
func (c *cache) list(keep func(*Job) bool) []Job {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Job, 0, len(c.jobs))
	for _, j := range c.jobs {
		if keep == nil || keep(j) {
			out = append(out, *j)
		}
	}
	slices.SortFunc(out, func(a, b Job) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func (c *cache) isReady() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ready
}

// put stores a job just created in the cache ahead of the watcher, unless
// the watcher has it already (maybe newer).
func (c *cache) put(j *Job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.jobs[j.ID]; !ok {
		cp := *j
		c.jobs[j.ID] = &cp
	}
}

// noMessage reports whether a fetch error only says no message came.
func noMessage(err error) bool {
	return errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}
