package service

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// leaseTestTTL is the lease TTL of the lease tests: short, so that
// expiries come quickly, long enough that a loaded machine renews in time
// (a renewal is one in-process KV write, milliseconds).
const leaseTestTTL = time.Second

// leaseSlack is the tolerance on an expiry's moment: JetStream's MaxAge
// expiry runs on a timer and the waiter polls every TTL/10.
const leaseSlack = 700 * time.Millisecond

// testQueue opens an embedded JetStream with the fleet's buckets.
func testQueue(t *testing.T) *queue {
	t.Helper()
	q, err := openQueue(t.Context(), "", t.TempDir(), leaseTestTTL, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.close)
	if q.leaseTTL != leaseTestTTL {
		t.Fatalf("lease TTL %v, want %v", q.leaseTTL, leaseTestTTL)
	}
	return q
}

// otherConn is a second client of q's embedded server (another worker).
func otherConn(t *testing.T, q *queue) (*nats.Conn, jetstream.KeyValue) {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(q.ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(t.Context(), LeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	return nc, kv
}

var discard = slog.New(slog.DiscardHandler)

// TestLeaseExclusive: a second holder waits while the first renews (for
// several TTLs), takes the lease as soon as it is released, and a holder
// that stops renewing loses it one TTL after its last renewal.
func TestLeaseExclusive(t *testing.T) {
	q := testQueue(t)
	_, kvB := otherConn(t, q)
	ctx := t.Context()
	a, err := acquireLease(ctx, q.leases, q.leaseTTL, "room.whip.61", Lease{Job: "j", Attempt: 1, Worker: "a"}, discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	kctx, stopKeep := context.WithCancel(ctx)
	keepDone := make(chan struct{})
	go func() { a.keep(kctx); close(keepDone) }()

	// B waits through 3 TTLs of renewals.
	wctx, cancel := context.WithTimeout(ctx, 3*leaseTestTTL)
	waited := false
	_, err = acquireLease(wctx, kvB, q.leaseTTL, "room.whip.61", Lease{Job: "j", Attempt: 2, Worker: "b"}, discard, func(h Lease) {
		waited = true
		if h.Worker != "a" {
			t.Errorf("holder %+v, want a", h)
		}
	})
	cancel()
	if err == nil || !waited {
		t.Fatalf("B took a renewed lease (err %v, waited %v)", err, waited)
	}
	if a.isLost() {
		t.Fatalf("A lost its lease while renewing: %v", a.err)
	}

	// A stops renewing without releasing (killed): B gets it about a TTL
	// after A's last renewal, not before.
	stopKeep()
	<-keepDone
	stopped := time.Now()
	b, err := acquireLease(ctx, kvB, q.leaseTTL, "room.whip.61", Lease{Job: "j", Attempt: 2, Worker: "b"}, discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(stopped)
	// The last renewal was at most TTL/leaseRenewDivisor before stopped.
	if took < leaseTestTTL-leaseTestTTL/leaseRenewDivisor-leaseSlack/10 || took > leaseTestTTL+leaseSlack {
		t.Errorf("B took the lease %v after A stopped renewing, want about %v", took, leaseTestTTL)
	}
	// A's stale renewal is refused (revision check) and A knows it lost.
	kctx2, stop2 := context.WithTimeout(ctx, 2*leaseTestTTL)
	defer stop2()
	a.renewedAt = time.Now() // as if A had just renewed: only the revision check stops it
	a.keep(kctx2)
	if !a.isLost() || !errors.Is(a.err, ErrLeaseLost) || !strings.Contains(a.err.Error(), "another holder") {
		t.Fatalf("A after B took over: lost %v, err %v", a.isLost(), a.err)
	}
	// B releases: a third holder takes it at once.
	b.release(ctx)
	start := time.Now()
	if _, err := acquireLease(ctx, q.leases, q.leaseTTL, "room.whip.61", Lease{Job: "j", Attempt: 3, Worker: "c"}, discard, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > leaseSlack {
		t.Errorf("a released lease took %v to take", d)
	}
}

// TestLeaseFence: a holder cut off from JetStream (its connection closed,
// as in a partition) fences itself fenceAfter after its last renewal,
// before the lease can expire on the server, i.e. before anyone else can
// take it.
func TestLeaseFence(t *testing.T) {
	q := testQueue(t)
	ncA, kvA := otherConn(t, q)
	ctx := t.Context()
	a, err := acquireLease(ctx, kvA, q.leaseTTL, "room.whip.62", Lease{Job: "j", Attempt: 1, Worker: "a"}, discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { a.keep(ctx); close(done) }()
	time.Sleep(leaseTestTTL) // a few renewals
	ncA.Close()
	cut := time.Now()
	fencedAt := make(chan time.Time, 1)
	go func() {
		<-a.lost
		fencedAt <- time.Now()
	}()
	b, err := acquireLease(ctx, q.leases, q.leaseTTL, "room.whip.62", Lease{Job: "j", Attempt: 2, Worker: "b"}, discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	taken := time.Now()
	<-done
	fenced := <-fencedAt
	if !a.isLost() || !errors.Is(a.err, ErrLeaseLost) {
		t.Fatalf("A not fenced: %v", a.err)
	}
	if fenced.IsZero() || !fenced.Before(taken) {
		t.Fatalf("A fenced at %v, B took the lease at %v: two holders", fenced.Sub(cut), taken.Sub(cut))
	}
	t.Logf("cut at 0: A fenced at %v, B took the lease at %v (TTL %v)", fenced.Sub(cut).Round(time.Millisecond), taken.Sub(cut).Round(time.Millisecond), leaseTestTTL)
	b.release(ctx)
}

func TestJobCost(t *testing.T) {
	two := &Room{Type: RoomWHIP, Participants: []Grant{{ID: "a"}, {ID: "b"}}}
	cases := []struct {
		name string
		job  Job
		cpu  float64
	}{
		{"record-only", Job{Kind: KindRecord, Room: two, Output: Output{Compose: ComposeNone}}, 2 * RecordCPUPerParticipant},
		{"live 720p", Job{Kind: KindRecord, Room: two}, 2*RecordCPUPerParticipant + LiveCPUAt720p},
		{"live small", Job{Kind: KindRecord, Room: two, Output: Output{Width: 320, Height: 180}}, 2*RecordCPUPerParticipant + LiveCPUAt180p},
		{"offline", Job{Kind: KindRecord, Room: two, Output: Output{Compose: ComposeOffline}}, 2*RecordCPUPerParticipant + OfflineCPU},
		{"livekit record-only", Job{Kind: KindRecord, Room: &Room{Type: RoomLiveKit, Name: "x"}, Output: Output{Compose: ComposeNone}}, DefaultLiveKitParticipants * RecordCPUPerParticipant},
		{"compose", Job{Kind: KindCompose}, OfflineCPU},
		{"compose and upload", Job{Kind: KindCompose, Output: Output{Upload: true}}, OfflineCPU + UploadCPU},
		{"upload", Job{Kind: KindUpload}, UploadCPU},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := JobCost(&c.job).CPU; math.Abs(got-c.cpu) > 1e-9 {
				t.Errorf("CPU %g, want %g", got, c.cpu)
			}
		})
	}
}

// FuzzJobCost: every cost is finite and positive, and grows with the
// participants.
func FuzzJobCost(f *testing.F) {
	f.Add(2, 320, 180, 30, "live", false)
	f.Add(0, 0, 0, 0, "none", true)
	f.Add(64, 4096, 4096, 60, "offline", false)
	f.Fuzz(func(t *testing.T, n, w, h, fps int, mode string, upload bool) {
		if n < 0 || n > maxParticipants || w < 0 || h < 0 || w > maxDimension || h > maxDimension || fps < 0 || fps > maxFPS {
			return
		}
		j := Job{
			Kind: KindRecord, Room: &Room{Type: RoomWHIP, Participants: make([]Grant, n)},
			Output: Output{Width: w, Height: h, FPS: fps, Compose: ComposeMode(mode), Upload: upload},
		}
		c := JobCost(&j)
		if math.IsNaN(c.CPU) || math.IsInf(c.CPU, 0) || c.CPU < 0 || c.Memory < 0 {
			t.Fatalf("cost %+v", c)
		}
		j.Room.Participants = append(j.Room.Participants, Grant{})
		if c2 := JobCost(&j); c2.CPU <= c.CPU || c2.Memory <= c.Memory {
			t.Fatalf("one more participant: %+v, was %+v", c2, c)
		}
	})
}

func FuzzParseMemTotal(f *testing.F) {
	f.Add([]byte("MemTotal:        8048576 kB\nMemFree: 1 kB\n"))
	f.Add([]byte("MemTotal: x kB"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := parseMemTotal(b); n < 0 {
			t.Fatalf("%d", n)
		}
	})
}

func TestParseMemTotal(t *testing.T) {
	if got := parseMemTotal([]byte("MemTotal:        8048576 kB\n")); got != 8048576<<10 {
		t.Errorf("%d", got)
	}
}

// TestCapacity: reservations fill the capacity exactly, a drain refuses
// new ones and returns the hand-offs, release frees.
func TestCapacity(t *testing.T) {
	c := newCapacity(Cost{CPU: 0.025, Memory: 1 << 30})
	job := func(id string) WorkerJob {
		return WorkerJob{ID: id, Kind: KindRecord, Cost: Cost{CPU: RecordCPUPerParticipant, Memory: RecordMemoryPerParticipant}}
	}
	if !c.reserve(job("a")) || !c.reserve(job("b")) {
		t.Fatal("two fit")
	}
	if c.reserve(job("c")) {
		t.Fatal("a third fits in 0.025 cores")
	}
	handed := 0
	c.setHandoff("a", func() { handed++ })
	if fs := c.drain(); len(fs) != 1 {
		t.Fatalf("%d hand-offs, want 1", len(fs))
	}
	c.release("b")
	if c.reserve(job("c")) {
		t.Fatal("a draining worker took a job")
	}
	c.setHandoff("x", func() { t.Error("hand-off of an unknown job") })
	jobs, _, draining, _ := c.state()
	if len(jobs) != 1 || !draining || handed != 0 {
		t.Fatalf("jobs %v draining %v handed %d", jobs, draining, handed)
	}
}

func TestWorkerKey(t *testing.T) {
	if got := workerKey("host.example-12-ab_c"); got != "host_example-12-ab_c" {
		t.Errorf("%q", got)
	}
}
