package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Exactly one recorder per room.
//
// A record job's worker holds the room's lease, a key of LeaseBucket
// (the room's roomKey), from before it mounts the room until it has left
// it. The bucket's MaxAge is the lease TTL: JetStream drops a key TTL
// after its last write, so a holder that stops renewing (killed,
// partitioned, stalled) loses the lease TTL after its last renewal, and
// only then can another worker create the key.
//
// Why a bucket-wide MaxAge and not a per-key TTL: nats-server 2.11+ (the
// served v2.15.2 included) has per-message TTLs and nats.go's Create
// takes jetstream.KeyTTL, but the revision-checked Update that renews a
// lease carries no TTL, so a renewed key would lose its expiry. MaxAge on
// a bucket of leases only gives every key "TTL since its last write",
// which is exactly a lease, and works on every JetStream server (Debian's
// 2.9 too). The first process that creates the bucket sets the TTL (its
// takeover time); the others adopt it.
//
// The three rules, each with its reason:
//
//  1. Acquiring is a create-only write (kv.Create): it fails while
//     another holder's key lives, whatever its age, so two workers
//     racing for a room (a duplicate delivery, a redelivered job racing
//     a slow-but-alive worker) cannot both win.
//  2. Renewing is a revision-checked update (kv.Update with the revision
//     of our last write): a holder whose key was deleted, expired and
//     recreated by another worker fails its renewal and stops at once; it
//     never writes over its successor's lease.
//  3. Fencing without the server: a holder that cannot reach JetStream
//     (a partition) cannot learn that it lost the lease, so it stops on
//     its own clock. Every renewal the server wrote was sent before it
//     was written, so the key lives at least TTL from the send time of
//     the last successful renewal, measured on the server's clock; clocks
//     need not agree, only run at about the same rate (microseconds per
//     ten seconds). The holder cancels its recording fenceAfter = TTL -
//     TTL/leaseFenceDivisor after that send time, and the recording stops
//     writing (the WHIP room is unmounted, the tracks are closed) within
//     the stop budget TTL/leaseFenceDivisor, so its last write precedes
//     the moment its successor can create the key. Renewals go every
//     TTL/leaseRenewDivisor, so two may fail in a row (a NATS client
//     reconnecting) before the holder fences itself.
//
// A JetStream outage longer than fenceAfter (a NATS leader election takes
// 4 to 9 s in nats-server's raft) fences a recorder that nobody else
// could replace: its job is then resumed after the takeover time, with a
// gap, by whichever worker gets it. A takeover (--takeover) of 12 s or
// more rides out such an election without a gap; the default trades that
// for less media lost when a worker dies.
const (
	// LeaseBucket holds the room leases (key: roomKey).
	LeaseBucket = "roomtape_leases"
	// leaseRenewDivisor: a holder renews every TTL/leaseRenewDivisor.
	leaseRenewDivisor = 4
	// leaseFenceDivisor: a holder stops TTL/leaseFenceDivisor before the
	// earliest expiry of its lease; that is its stop budget.
	leaseFenceDivisor = 4
	// leaseRetryDivisor: a worker waiting for a room polls its lease every
	// TTL/leaseRetryDivisor (at least leaseRetryMin).
	leaseRetryDivisor = 10
	leaseRetryMin     = 100 * time.Millisecond
)

// ErrLeaseLost is a recording stopped because its worker lost (or could
// not renew) the room's lease.
var ErrLeaseLost = errors.New("service: room lease lost")

// Lease is the value of a room's lease key.
type Lease struct {
	Job     string `json:"job"`
	Attempt uint64 `json:"attempt"`
	Worker  string `json:"worker"`
	// URL is the holder's base URL; the API forwards the room's WHIP
	// requests there.
	URL   string    `json:"url,omitempty"`
	Since time.Time `json:"since"`
}

// openBucket creates a KV bucket whose keys expire ttl after their last
// write, or adopts the existing one and returns its TTL (the first
// process to create it decides).
func openBucket(ctx context.Context, js jetstream.JetStream, name string, ttl time.Duration, replicas int, log *slog.Logger) (jetstream.KeyValue, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: name, History: 1, TTL: ttl, Storage: jetstream.FileStorage, Replicas: replicas,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		if kv, err = js.KeyValue(ctx, name); err == nil {
			var st jetstream.KeyValueStatus
			if st, err = kv.Status(ctx); err == nil {
				if st.TTL() != ttl {
					log.Warn("bucket TTL set by the process that created it", "bucket", name, "ttl", st.TTL(), "ours", ttl)
				}
				return kv, st.TTL(), nil
			}
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("service: KV bucket %s: %w", name, err)
	}
	return kv, ttl, nil
}

// lease is a held room lease. Ownership: acquireLease returns it to the
// job's goroutine; keep (its own goroutine, started once) then owns rev
// and renewedAt until it returns, after which release may run. lost is
// closed by keep, with err set before, when the lease is gone; other
// goroutines only wait on lost and read err after it closed.
type lease struct {
	kv  jetstream.KeyValue
	key string
	val []byte
	ttl time.Duration
	log *slog.Logger

	rev       uint64
	renewedAt time.Time // send time of the last successful write

	lost chan struct{}
	err  error
	once sync.Once
}

// acquireLease takes the lease of key with value v, waiting while another
// holder's key lives, until ctx ends. onWait is called (on this
// goroutine) once with the holder when it has to wait.
func acquireLease(ctx context.Context, kv jetstream.KeyValue, ttl time.Duration, key string, v Lease, log *slog.Logger, onWait func(Lease)) (*lease, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	retry := max(ttl/leaseRetryDivisor, leaseRetryMin)
	waited := false
	for {
		sent := time.Now()
		cctx, cancel := context.WithTimeout(ctx, natsTimeout)
		rev, err := kv.Create(cctx, key, b)
		cancel()
		if err == nil {
			return &lease{kv: kv, key: key, val: b, ttl: ttl, log: log, rev: rev, renewedAt: sent, lost: make(chan struct{})}, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			log.Warn("lease create", "key", key, "err", err)
		} else if !waited {
			waited = true
			if onWait != nil {
				var holder Lease
				gctx, cancel := context.WithTimeout(ctx, natsTimeout)
				if e, gerr := kv.Get(gctx, key); gerr == nil {
					_ = json.Unmarshal(e.Value(), &holder)
				}
				cancel()
				onWait(holder)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("service: waiting for the lease of %s: %w", key, ctx.Err())
		case <-time.After(retry):
		}
	}
}

// fenceAfter is how long after the send time of its last successful
// renewal a holder stops on its own (rule 3).
func (l *lease) fenceAfter() time.Duration { return l.ttl - l.ttl/leaseFenceDivisor }

// keep renews the lease until ctx ends (the job is over: the caller
// releases it then) or the lease is lost, when it closes lost. It is the
// lease's one renewing goroutine.
func (l *lease) keep(ctx context.Context) {
	t := time.NewTicker(l.ttl / leaseRenewDivisor)
	defer t.Stop()
	for {
		deadline := time.Until(l.renewedAt.Add(l.fenceAfter()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(deadline):
			l.fail(fmt.Errorf("%w: %s not renewed for %v (fenced before its %v expiry)", ErrLeaseLost, l.key, l.fenceAfter(), l.ttl))
			return
		case <-t.C:
		}
		sent := time.Now()
		// A renewal may not outlive the fence: a reply after it is late.
		rctx, cancel := context.WithDeadline(ctx, l.renewedAt.Add(l.fenceAfter()))
		rev, err := l.kv.Update(rctx, l.key, l.val, l.rev)
		cancel()
		switch {
		case err == nil:
			l.rev, l.renewedAt = rev, sent
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			l.fail(fmt.Errorf("%w: %s taken by another holder: %w", ErrLeaseLost, l.key, err))
			return
		case ctx.Err() == nil:
			l.log.Warn("lease renewal failed; retrying", "key", l.key, "err", err, "fence_in", time.Until(l.renewedAt.Add(l.fenceAfter())).Round(time.Millisecond))
		}
	}
}

func (l *lease) fail(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.lost)
	})
}

// isLost reports whether keep gave the lease up.
func (l *lease) isLost() bool {
	select {
	case <-l.lost:
		return true
	default:
		return false
	}
}

// release deletes the lease (revision-checked: only ours) so that the
// room's next holder need not wait for its expiry. Call it after keep
// returned; a lost lease is not released.
func (l *lease) release(ctx context.Context) {
	if l.isLost() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev)); err != nil {
		l.log.Warn("lease release", "key", l.key, "err", err)
	}
}

// roomLease reads the current holder of a room, if any.
func (q *queue) roomLease(ctx context.Context, t RoomType, name string) (Lease, bool) {
	if q.leases == nil {
		return Lease{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	e, err := q.leases.Get(ctx, roomKey(t, name))
	if err != nil {
		return Lease{}, false
	}
	var l Lease
	if json.Unmarshal(e.Value(), &l) != nil {
		return Lease{}, false
	}
	return l, true
}
