package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Role is what a process of a fleet does. Every role connects to the same
// NATS cluster; the job queue, the job bucket and the leases there are
// the only state they share (with the recordings' store).
type Role string

// Roles.
const (
	// RoleAll is API and worker in one process: the single-machine
	// default.
	RoleAll Role = "all"
	// RoleAPI serves the HTTP API, the web page, the webhook receiver and
	// the outgoing webhooks; it never records. It forwards a WHIP room's
	// requests to the worker that holds the room's lease.
	RoleAPI Role = "api"
	// RoleWorker runs jobs within its capacity; it serves no API, only
	// the WHIP rooms it records, /metrics and the health endpoints.
	RoleWorker Role = "worker"
)

// ParseRole reads a role name; "" is RoleAll.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case "", RoleAll:
		return RoleAll, nil
	case RoleAPI, RoleWorker:
		return Role(s), nil
	}
	return "", fmt.Errorf("%w: role %q: want api, worker or all", ErrConfig, s)
}

func (r Role) runsJobs() bool  { return r != RoleAPI }
func (r Role) servesAPI() bool { return r != RoleWorker }

// Names and timing of the fleet's shared state.
const (
	// WorkersBucket holds each worker's WorkerStatus (key: the worker ID
	// made a valid key), rewritten every workerBeat; its MaxAge drops a
	// dead worker's entry after workerTTL.
	WorkersBucket = "roomtape_workers"
	workerBeat    = time.Second
	workerTTL     = 5 * workerBeat
	// drainSubject is the core NATS subject of drain requests; the
	// payload is the worker ID, and only that worker answers.
	drainSubject = "roomtape.fleet.drain"
)

// Placement timing (see work).
const (
	// idlePull is how long an idle worker (no job running) waits for a
	// job in one pull, and how long it waits after deferring one to a
	// busier worker, so that the busier worker's pull gets it.
	idlePull = 500 * time.Millisecond
	// declineDelay is how long a declined or deferred job waits before it
	// is offered again.
	declineDelay = 200 * time.Millisecond
	// declineBackoff is how long a worker that declined a job for lack of
	// room pulls nothing (unless one of its jobs ends first), so that the
	// workers that may have room get the job.
	declineBackoff = 2 * time.Second
)

// ErrDraining is the cause of a recording handed off by a draining worker.
var ErrDraining = errors.New("service: worker draining")

// WorkerJob is a job a worker runs, with its reservation.
type WorkerJob struct {
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	Cost Cost   `json:"cost"`
}

// WorkerStatus is a worker's entry in WorkersBucket and the fleet view.
type WorkerStatus struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
	// URL is the worker's base URL (its WHIP rooms).
	URL       string      `json:"url,omitempty"`
	Capacity  Cost        `json:"capacity"`
	Used      Cost        `json:"used"`
	Jobs      []WorkerJob `json:"jobs"`
	Draining  bool        `json:"draining"`
	StartedAt time.Time   `json:"started_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// Free is the worker's capacity minus its reservations.
func (w WorkerStatus) Free() Cost { return w.Capacity.Sub(w.Used) }

// capacity is this worker's reservations and drain state. mu guards every
// field: the work loop reserves, each job's goroutine releases, the drain
// request and the status beat read; nothing is called under mu.
type capacity struct {
	mu       sync.Mutex
	total    Cost
	jobs     map[string]*reservation
	draining bool
	// changed is closed (and replaced) when a job ends or draining
	// starts: it wakes the work loop and Drained's waiters.
	changed chan struct{}
}

// reservation is one running job's; handoff (set by runMsg for record
// jobs, under mu) cancels its recording for another worker to resume.
type reservation struct {
	job     WorkerJob
	handoff func()
}

func newCapacity(total Cost) *capacity {
	return &capacity{total: total, jobs: map[string]*reservation{}, changed: make(chan struct{})}
}

// reserve books c for job id when it fits and the worker is not
// draining.
func (c *capacity) reserve(j WorkerJob) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining || !j.Cost.Fits(c.total.Sub(c.usedLocked())) {
		return false
	}
	c.jobs[j.ID] = &reservation{job: j}
	return true
}

func (c *capacity) usedLocked() Cost {
	var u Cost
	for _, r := range c.jobs {
		u = u.Add(r.job.Cost)
	}
	return u
}

// release drops job id's reservation.
func (c *capacity) release(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.jobs, id)
	c.wakeLocked()
}

func (c *capacity) wakeLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// setHandoff registers job id's hand-off; with the worker already
// draining it is called at once (on the caller's goroutine).
func (c *capacity) setHandoff(id string, f func()) {
	c.mu.Lock()
	r, ok := c.jobs[id]
	if ok {
		r.handoff = f
	}
	now := ok && c.draining
	c.mu.Unlock()
	if now {
		f()
	}
}

// drain stops new reservations and returns the hand-offs to call.
func (c *capacity) drain() []func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var fs []func()
	if !c.draining {
		c.draining = true
		for _, r := range c.jobs {
			if r.handoff != nil {
				fs = append(fs, r.handoff)
			}
		}
		c.wakeLocked()
	}
	return fs
}

// state returns the reservations, the drain flag and the wake channel.
func (c *capacity) state() ([]WorkerJob, Cost, bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	jobs := make([]WorkerJob, 0, len(c.jobs))
	for _, r := range c.jobs {
		jobs = append(jobs, r.job)
	}
	slices.SortFunc(jobs, func(a, b WorkerJob) int { return strings.Compare(a.ID, b.ID) })
	return jobs, c.usedLocked(), c.draining, c.changed
}

// Drain makes this worker take no new job, hands its recordings off to
// other workers (each stops and is resumed elsewhere at once, the handoff
// a short gap in the session) and lets its compositions and uploads
// finish. [Service.Drained] closes when no job is left. Idempotent.
func (s *Service) Drain() {
	if !s.cfg.Role.runsJobs() {
		return
	}
	fs := s.cap.drain()
	select { // the fleet learns at once (idle workers defer to busy ones with room)
	case s.beatNow <- struct{}{}:
	default:
	}
	s.log.Info("draining", "recordings_handed_off", len(fs))
	for _, f := range fs {
		f()
	}
}

// Drained returns a channel closed once the worker drains and runs no
// job.
func (s *Service) Drained() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			jobs, _, draining, changed := s.cap.state()
			if draining && len(jobs) == 0 {
				return
			}
			<-changed
		}
	}()
	return done
}

// status is this worker's entry.
func (s *Service) status() WorkerStatus {
	jobs, used, draining, _ := s.cap.state()
	return WorkerStatus{
		ID: s.worker, Role: s.cfg.Role, URL: s.cfg.PublicURL,
		Capacity: s.cap.total, Used: used, Jobs: jobs, Draining: draining,
		StartedAt: s.started, UpdatedAt: time.Now().UTC(),
	}
}

// workerKey is the worker's key in WorkersBucket.
func workerKey(id string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, id)
}

// beat writes this worker's status every workerBeat, and at once when a
// drain starts (beatNow), until ctx ends, then deletes it.
func (s *Service) beat(ctx context.Context) {
	t := time.NewTicker(workerBeat)
	defer t.Stop()
	key := workerKey(s.worker)
	for {
		b, err := json.Marshal(s.status())
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, natsTimeout)
			_, err = s.q.workers.Put(pctx, key, b)
			cancel()
		}
		if err != nil && ctx.Err() == nil {
			s.log.Debug("worker status not written", "err", err)
		}
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), natsTimeout)
			_ = s.q.workers.Delete(dctx, key)
			cancel()
			return
		case <-t.C:
		case <-s.beatNow:
		}
	}
}

// serveDrain answers drain requests naming this worker until ctx ends.
func (s *Service) serveDrain(ctx context.Context) error {
	sub, err := s.q.nc.Subscribe(drainSubject, func(m *nats.Msg) {
		if string(m.Data) != s.worker {
			return
		}
		s.log.Info("drain requested through the API")
		s.Drain()
		b, _ := json.Marshal(s.status())
		_ = m.Respond(b)
	})
	if err != nil {
		return fmt.Errorf("service: subscribe %s: %w", drainSubject, err)
	}
	<-ctx.Done()
	_ = sub.Unsubscribe()
	return nil
}

// work takes jobs from the queue while this worker has a free slot
// (Config.Workers) and room for the job's cost, until ctx ends; it waits
// for the jobs it started.
//
// Placement, as LiveKit's egress bidding packs rooms onto busy nodes: a
// worker that runs jobs takes a job that fits; an idle worker takes one
// only when no busy worker (in the workers bucket, at most workerBeat
// old) has room for it, else it defers it (nak'ed with declineDelay) and
// waits idlePull, so that a busy worker's pull gets it; idle workers can
// then be scaled down. A job that fits nowhere is declined by each worker
// (nak'ed with declineDelay; the decliner pulls nothing for
// declineBackoff), stays in the queue, offered again and again (the
// consumer's MaxDeliver is unlimited; a job that keeps killing its
// workers is failed by its Claims count instead), and the API's fleet
// view and metrics report it as unplaceable.
func (s *Service) work(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		jobs, _, draining, changed := s.cap.state()
		if draining || len(jobs) >= s.cfg.Workers {
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		idle := len(jobs) == 0
		wait := fetchWait
		if idle {
			wait = idlePull
		}
		msg, err := s.q.jobs.Next(jetstream.FetchMaxWait(wait))
		if err != nil {
			if !noMessage(err) && ctx.Err() == nil {
				s.log.Warn("job fetch", "err", err)
				sleepCtx(ctx, fetchWait)
			}
			continue
		}
		id := string(msg.Data())
		j, ok := s.cache.get(id)
		if !ok {
			if j, _, err = s.q.get(ctx, id); err != nil && !errors.Is(err, errNotFound) {
				s.log.Warn("job read", "job", id, "err", err)
				_ = msg.NakWithDelay(declineDelay)
				continue
			}
		}
		if j == nil || j.State.Final() {
			s.runMsg(ctx, msg) // acks or terminates it at once
			continue
		}
		wj := WorkerJob{ID: id, Kind: j.Kind, Cost: JobCost(j)}
		if idle && s.busierHasRoom(wj.Cost) {
			s.log.Debug("job deferred to a busy worker", "job", id, "cost", wj.Cost)
			_ = msg.NakWithDelay(declineDelay)
			sleepCtx(ctx, idlePull)
			continue
		}
		if !s.cap.reserve(wj) {
			s.log.Debug("job declined: no room", "job", id, "cost", wj.Cost)
			_ = msg.NakWithDelay(declineDelay)
			t := time.NewTimer(declineBackoff)
			select {
			case <-ctx.Done():
			case <-changed:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		wg.Go(func() {
			defer s.cap.release(id)
			s.runMsg(ctx, msg)
		})
	}
	return nil
}

// busierHasRoom reports whether another worker that runs jobs (and does
// not drain) has room for c.
func (s *Service) busierHasRoom(c Cost) bool {
	for _, w := range s.fleet.workers() {
		if w.ID != s.worker && !w.Draining && w.Role.runsJobs() && len(w.Jobs) > 0 && c.Fits(w.Free()) {
			return true
		}
	}
	return false
}

// holdRoom takes the room lease of record job j for this run, waiting for
// a previous holder's to end (a takeover). It returns nil, nil for a job
// that needs none (no room, or its call is over).
func (s *Service) holdRoom(ctx context.Context, j *Job, attempt uint64, log *slog.Logger) (*lease, error) {
	if j.Kind != KindRecord || j.Room == nil || j.RecordedAt != nil {
		return nil, nil
	}
	v := Lease{Job: j.ID, Attempt: attempt, Worker: s.worker, URL: s.cfg.PublicURL, Since: time.Now().UTC()}
	start := time.Now()
	waited := false
	l, err := acquireLease(ctx, s.q.leases, s.q.leaseTTL, roomKey(j.Room.Type, j.Room.Name), v, log, func(h Lease) {
		waited = true
		log.Info("waiting for the room's lease", "holder", h.Worker, "holder_job", h.Job, "holder_attempt", h.Attempt)
	})
	if err != nil {
		return nil, err
	}
	if waited {
		s.fm.takeovers.Inc()
	}
	log.Info("room lease acquired", "room", j.Room.Name, "waited", time.Since(start).Round(time.Millisecond))
	return l, nil
}

// get returns a copy of the cached job id.
func (c *cache) get(id string) (*Job, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	j, ok := c.jobs[id]
	if !ok {
		return nil, false
	}
	cp := *j
	return &cp, true
}

// forwardedHeader marks a WHIP request forwarded by an API front-end: it
// is never forwarded again (a lease left by a dead process at this
// process's own address would loop).
const forwardedHeader = "Roomtape-Forwarded"

// proxyWHIP forwards a WHIP request to the worker holding the room's
// lease; it reports false when no other worker holds it.
func (s *Service) proxyWHIP(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get(forwardedHeader) != "" {
		return false
	}
	id := r.PathValue("id")
	j, ok := s.cache.get(id)
	if !ok || j.Room == nil {
		return false
	}
	l, ok := s.q.roomLease(r.Context(), j.Room.Type, j.Room.Name)
	if !ok || l.Job != id || l.Worker == s.worker || l.URL == "" || strings.TrimSuffix(l.URL, "/") == strings.TrimSuffix(s.cfg.PublicURL, "/") {
		return false
	}
	target, err := url.Parse(l.URL)
	if err != nil || target.Host == "" {
		return false
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// SetURL also sets the Host header to the worker's, which its
			// WHIP handler's DNS-rebinding check expects.
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedHeader, "1")
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			s.log.Warn("whip forward failed", "job", id, "worker", l.Worker, "err", err)
			http.Error(w, "roomtape: the room's worker is unreachable; retry", http.StatusBadGateway)
		},
	}
	rp.ServeHTTP(w, r)
	return true
}

// WorkerHandler is a worker's HTTP handler: its WHIP rooms (the API
// forwards publishers there), /healthz, /readyz and /metrics; no API.
func (s *Service) WorkerHandler() http.Handler {
	mux := http.NewServeMux()
	s.healthRoutes(mux)
	mux.HandleFunc("/v1/rooms/{id}/whip", s.serveWHIP)
	mux.HandleFunc("/v1/rooms/{id}/whip/{res}", s.serveWHIP)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "roomtape: a worker serves no API (use the API front-end)", http.StatusNotFound)
	})
	return s.countRequests(mux)
}

// fleetWatch mirrors WorkersBucket for the fleet view. The watch
// goroutine writes seen; mu guards it. An entry older than workerTTL (by
// this process's clock when it arrived) is a dead worker: the bucket's
// MaxAge expiry sends no delete.
type fleetWatch struct {
	mu   sync.RWMutex
	seen map[string]seenWorker
}

type seenWorker struct {
	st WorkerStatus
	at time.Time
}

func (f *fleetWatch) watch(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) error {
	return followBucket(ctx, kv, WorkersBucket, func(e jetstream.KeyValueEntry) {
		if e == nil {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if e.Operation() != jetstream.KeyValuePut {
			delete(f.seen, e.Key())
			return
		}
		var st WorkerStatus
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			log.Warn("unreadable worker status", "key", e.Key(), "err", err)
			return
		}
		f.seen[e.Key()] = seenWorker{st: st, at: time.Now()}
	})
}

// followBucket calls apply with every entry of bucket kv (named name),
// then nil once the initial values are in, then every update, on the
// calling goroutine until ctx ends.
func followBucket(ctx context.Context, kv jetstream.KeyValue, name string, apply func(jetstream.KeyValueEntry)) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("service: watch %s: %w", name, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			apply(e)
		}
	}
}

// workers returns the live workers, by ID.
func (f *fleetWatch) workers() []WorkerStatus {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]WorkerStatus, 0, len(f.seen))
	for _, sw := range f.seen {
		if time.Since(sw.at) <= workerTTL {
			out = append(out, sw.st)
		}
	}
	slices.SortFunc(out, func(a, b WorkerStatus) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// FleetView answers GET /v1/fleet.
type FleetView struct {
	Workers []WorkerStatus `json:"workers"`
	// Capacity and Used sum the workers that take jobs (not draining).
	Capacity Cost `json:"capacity"`
	Used     Cost `json:"used"`
	// Queued are the jobs waiting for a worker, oldest first.
	Queued []QueuedJob `json:"queued"`
	// Unplaceable counts the queued jobs no worker has room for now.
	Unplaceable int `json:"unplaceable"`
}

// QueuedJob is a job waiting in the queue.
type QueuedJob struct {
	ID        string  `json:"id"`
	Kind      Kind    `json:"kind"`
	Cost      Cost    `json:"cost"`
	QueuedS   float64 `json:"queued_s"`
	Placeable bool    `json:"placeable"`
	// Reason says why it is not placeable.
	Reason string `json:"reason,omitempty"`
}

// fleetView computes the view from the workers' entries and the job
// cache.
func (s *Service) fleetView() FleetView {
	v := FleetView{Workers: s.fleet.workers(), Queued: []QueuedJob{}}
	var biggest Cost
	for _, w := range v.Workers {
		if w.Draining || !w.Role.runsJobs() {
			continue
		}
		v.Capacity, v.Used = v.Capacity.Add(w.Capacity), v.Used.Add(w.Used)
		biggest.CPU, biggest.Memory = max(biggest.CPU, w.Capacity.CPU), max(biggest.Memory, w.Capacity.Memory)
	}
	queued := s.cache.list(func(j *Job) bool { return j.State == StateQueued && !j.StopRequest })
	slices.Reverse(queued) // oldest first
	for _, j := range queued {
		q := QueuedJob{ID: j.ID, Kind: j.Kind, Cost: JobCost(&j), QueuedS: time.Since(j.CreatedAt).Round(100 * time.Millisecond).Seconds()}
		for _, w := range v.Workers {
			if !w.Draining && w.Role.runsJobs() && q.Cost.Fits(w.Free()) {
				q.Placeable = true
				break
			}
		}
		switch {
		case q.Placeable:
		case biggest.CPU == 0:
			q.Reason = "no worker takes jobs"
		case !q.Cost.Fits(biggest):
			q.Reason = fmt.Sprintf("needs %.2f cores and %d MiB: more than any worker has", q.Cost.CPU, q.Cost.Memory>>20)
		default:
			q.Reason = fmt.Sprintf("needs %.2f cores and %d MiB: no worker has that free now", q.Cost.CPU, q.Cost.Memory>>20)
		}
		if !q.Placeable {
			v.Unplaceable++
		}
		v.Queued = append(v.Queued, q)
	}
	return v
}

func (s *Service) getFleet(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.fleetView())
}

// drainWorker asks worker {id} to drain (POST /v1/fleet/workers/{id}/drain)
// and answers its status.
func (s *Service) drainWorker(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == s.worker && s.cfg.Role.runsJobs() {
		s.Drain()
		writeJSON(w, http.StatusAccepted, s.status())
		return
	}
	msg, err := s.q.nc.RequestWithContext(r.Context(), drainSubject, []byte(id))
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("no worker %q answers", id))
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
		return
	}
	var st WorkerStatus
	if err := json.Unmarshal(msg.Data, &st); err != nil {
		writeError(w, http.StatusBadGateway, "", "unreadable worker answer: "+err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, st)
}

// fleetCollector reports the fleet (API) and this worker's reservations
// (worker) at each scrape.
type fleetCollector struct{ s *Service }

var (
	fleetWorkersDesc     = prometheus.NewDesc("roomtape_fleet_workers", "Live workers seen in the workers bucket, by draining.", []string{"draining"}, nil)
	fleetCoresDesc       = prometheus.NewDesc("roomtape_fleet_cores", "Cores of the workers that take jobs: capacity and reserved.", []string{"kind"}, nil)
	fleetQueuedDesc      = prometheus.NewDesc("roomtape_fleet_queued_jobs", "Queued jobs, by whether a worker has room for them now.", []string{"placeable"}, nil)
	workerCoresDesc      = prometheus.NewDesc("roomtape_worker_cores", "This worker's cores: capacity and reserved by its jobs.", []string{"kind"}, nil)
	workerMemoryDesc     = prometheus.NewDesc("roomtape_worker_memory_bytes", "This worker's memory: capacity and reserved by its jobs.", []string{"kind"}, nil)
	workerJobsDesc       = prometheus.NewDesc("roomtape_worker_jobs", "Jobs this worker runs, by kind.", []string{"kind"}, nil)
	workerDrainingDesc   = prometheus.NewDesc("roomtape_worker_draining", "1 while this worker drains.", nil, nil)
	fleetCollectorDescs  = []*prometheus.Desc{fleetWorkersDesc, fleetCoresDesc, fleetQueuedDesc}
	workerCollectorDescs = []*prometheus.Desc{workerCoresDesc, workerMemoryDesc, workerJobsDesc, workerDrainingDesc}
)

func (fc *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range append(slices.Clone(fleetCollectorDescs), workerCollectorDescs...) {
		ch <- d
	}
}

func (fc *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	s := fc.s
	g := prometheus.GaugeValue
	if s.cfg.Role.servesAPI() {
		v := s.fleetView()
		n := map[bool]int{}
		for _, w := range v.Workers {
			if w.Role.runsJobs() {
				n[w.Draining]++
			}
		}
		ch <- prometheus.MustNewConstMetric(fleetWorkersDesc, g, float64(n[false]), "false")
		ch <- prometheus.MustNewConstMetric(fleetWorkersDesc, g, float64(n[true]), "true")
		ch <- prometheus.MustNewConstMetric(fleetCoresDesc, g, v.Capacity.CPU, "capacity")
		ch <- prometheus.MustNewConstMetric(fleetCoresDesc, g, v.Used.CPU, "reserved")
		ch <- prometheus.MustNewConstMetric(fleetQueuedDesc, g, float64(len(v.Queued)-v.Unplaceable), "true")
		ch <- prometheus.MustNewConstMetric(fleetQueuedDesc, g, float64(v.Unplaceable), "false")
	}
	if s.cfg.Role.runsJobs() {
		jobs, used, draining, _ := s.cap.state()
		ch <- prometheus.MustNewConstMetric(workerCoresDesc, g, s.cap.total.CPU, "capacity")
		ch <- prometheus.MustNewConstMetric(workerCoresDesc, g, used.CPU, "reserved")
		ch <- prometheus.MustNewConstMetric(workerMemoryDesc, g, float64(s.cap.total.Memory), "capacity")
		ch <- prometheus.MustNewConstMetric(workerMemoryDesc, g, float64(used.Memory), "reserved")
		byKind := map[Kind]int{KindRecord: 0, KindCompose: 0, KindUpload: 0}
		for _, j := range jobs {
			byKind[j.Kind]++
		}
		for k, c := range byKind {
			ch <- prometheus.MustNewConstMetric(workerJobsDesc, g, float64(c), string(k))
		}
		d := 0.0
		if draining {
			d = 1
		}
		ch <- prometheus.MustNewConstMetric(workerDrainingDesc, g, d)
	}
}

// healthRoutes mounts /healthz, /readyz and /metrics (API key, read).
func (s *Service) healthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return
		}
		writeJSON(w, 200, map[string]string{"status": "ready"})
	})
	metricsHandler := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", s.auth(accessRead, metricsHandler.ServeHTTP))
}

// apiURL is the API's base URL: Config.APIURL, else PublicURL.
func (s *Service) apiURL() string {
	return strings.TrimSuffix(cmpOr(s.cfg.APIURL, s.cfg.PublicURL), "/")
}

// checkFleet validates and defaults the fleet fields of Config.
func (c *Config) checkFleet() error {
	var errs []error
	r, err := ParseRole(string(c.Role))
	if err != nil {
		errs = append(errs, err)
	}
	c.Role = r
	if c.Role != RoleAll && c.Role != "" && c.NATSURL == "" {
		errs = append(errs, fmt.Errorf("%w: role %s needs the NATS cluster's URL (an embedded server serves one process only)", ErrConfig, c.Role))
	}
	if c.Cores < 0 || c.Memory < 0 || c.Replicas < 0 {
		errs = append(errs, fmt.Errorf("%w: cores %g, memory %d and replicas %d must not be negative", ErrConfig, c.Cores, c.Memory, c.Replicas))
	}
	if c.Cores == 0 {
		c.Cores = float64(runtime.NumCPU())
	}
	if c.Memory == 0 {
		if c.Memory = machineMemory(); c.Memory == 0 {
			c.Memory = unknownMemory
		}
	}
	return errors.Join(errs...)
}

// unknownMemory is the memory capacity where the machine's is unknown:
// unbounded in effect, CPU alone places jobs.
const unknownMemory = 1 << 50

// defaultReplicas is Config.Replicas or its default: 1 with the embedded
// server, else the servers the connection knows, at most maxReplicas.
func (q *queue) defaultReplicas(n int) int {
	if n > 0 {
		return n
	}
	if q.ns != nil {
		return 1
	}
	return min(max(len(q.nc.Servers()), 1), maxReplicas)
}

// maxReplicas: JetStream replicates over at most 5; 3 survives one lost
// node, which is what the fleet is built for.
const maxReplicas = 3

// setupFleet opens the lease and worker buckets; the lease TTL is the
// takeover time (ackWait), unless the bucket exists with another.
func (q *queue) setupFleet(ctx context.Context, ackWait time.Duration) error {
	var err error
	if q.leases, q.leaseTTL, err = openBucket(ctx, q.js, LeaseBucket, ackWait, q.replicas, q.log); err != nil {
		return err
	}
	q.workers, _, err = openBucket(ctx, q.js, WorkersBucket, workerTTL, q.replicas, q.log)
	return err
}

// fleetMetrics are the counters of the fleet's events on this process.
type fleetMetrics struct {
	takeovers, leaseLosses, handoffs prometheus.Counter
}

func newFleetMetrics(s *Service) *fleetMetrics {
	fm := &fleetMetrics{
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomtape_worker_takeovers_total",
			Help: "Recordings this worker resumed after waiting for another holder's room lease to end.",
		}),
		leaseLosses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomtape_worker_lease_losses_total",
			Help: "Recordings this worker stopped because it lost or could not renew their room lease.",
		}),
		handoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomtape_worker_handoffs_total",
			Help: "Recordings this worker handed off to another while draining.",
		}),
	}
	s.metrics.reg.MustRegister(fm.takeovers, fm.leaseLosses, fm.handoffs, &fleetCollector{s: s})
	return fm
}

// leaseRun holds the room lease of run r's record job for the run (none
// for other jobs) and registers its hand-off: on a lost lease or a drain
// the run's context is cancelled with the cause (ErrLeaseLost,
// ErrDraining). The returned function stops renewing and releases the
// lease; it is idempotent and must be called once the recording stopped.
func (s *Service) leaseRun(ctx context.Context, r *run, cancel context.CancelCauseFunc) (func(), error) {
	j := r.current()
	s.cap.setHandoff(j.ID, func() {
		if c := r.current(); c.Kind == KindRecord && c.RecordedAt == nil { // a composition finishes here
			cancel(ErrDraining)
		}
	})
	l, err := s.holdRoom(ctx, j, r.attempt, r.log)
	if err != nil || l == nil {
		return func() {}, err
	}
	var kw sync.WaitGroup
	kctx, stopKeep := context.WithCancel(ctx)
	kw.Go(func() {
		l.keep(kctx)
		if l.isLost() {
			s.fm.leaseLosses.Inc()
			r.log.Error("recording fenced", "err", l.err)
			cancel(l.err)
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			stopKeep()
			kw.Wait()
			l.release(context.WithoutCancel(ctx))
		})
	}, nil
}

// leaveMsg leaves a job whose run stopped before its end for the next
// worker: at once (nak) when handed off by a drain, after AckWait
// otherwise (the message is not acked; a worker that lost its job or its
// lease may not even own the message any more).
func (s *Service) leaveMsg(ctx, rctx context.Context, msg jetstream.Msg, log *slog.Logger, err error) {
	if errors.Is(context.Cause(rctx), ErrDraining) && ctx.Err() == nil {
		s.fm.handoffs.Inc()
		log.Info("recording handed off (draining)")
		_ = msg.Nak()
		return
	}
	if c := context.Cause(rctx); c != nil && !errors.Is(c, context.Canceled) {
		err = errors.Join(err, c)
	}
	log.Warn("job left for redelivery", "err", err)
}
