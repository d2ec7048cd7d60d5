package service_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/internal/syncbuf"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder/service"
	"github.com/roomtape/roomtape/storage/s3/s3test"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// The fleet tests run real processes on simulated machines: three
// nats-server nodes forming a JetStream cluster, three workers and an API
// front-end (examples/server with --role), each worker and NATS node in
// a network namespace of its own on one bridge (internal/netns), with
// versitygw as the shared S3 store and synthetic WHIP publishers as the
// rooms. The recordings directory is one directory of the test: the
// hosts share the file system, as a fleet's workers share a volume until
// the service records in segments to S3 (issue 16's other half) and
// continues sessions from the store alone.
//
// nats-server is built from the module this repository embeds
// (github.com/nats-io/nats-server/v2, go.mod's version): the same server
// as the embedded one, no system package needed, and per-key TTLs and
// the raft timings the lease comments rely on are the ones tested.

// Timing of the fleet tests, each bound with its reason.
const (
	// fleetTakeover is the workers' --takeover (AckWait and lease TTL):
	// short, so that the gaps stay a few seconds.
	fleetTakeover = 3 * time.Second
	// takeoverBound bounds a kill -9's gap: the lease TTL after the last
	// renewal (fleetTakeover), the redelivery (AckWait, concurrent), the
	// waiting worker's lease poll (TTL/10), the room's start (WHIP mount,
	// under a second) and the publisher's reconnection (its retry period
	// 200 ms, ICE and DTLS, about a second on a loaded machine), plus the
	// last checkpoint the dead worker missed (1 s).
	takeoverBound = fleetTakeover + 5*time.Second
	// partitionBound bounds a partition's gap: as takeoverBound, plus the
	// publishers noticing their recorder is gone (pion's disconnected
	// timeout, 5 s, since the test does not tell them).
	partitionBound = takeoverBound + 6*time.Second
	// handoffBound bounds the gap of a drain's hand-off: the recording's
	// stop (files closed), the nak and redelivery (immediate), the
	// publishers noticing (the recorder closes their connection: DTLS
	// close, under a second) and reconnecting, on a loaded machine.
	handoffBound = 5 * time.Second
	// natsLossBound bounds the gaps of a NATS node's loss: when the node
	// led the lease bucket, raft elects a new leader in 4 to 9 s, longer
	// than the lease's fence (3/4 of fleetTakeover), so the recording may
	// be fenced and taken over: the election plus partitionBound.
	natsLossBound = 9*time.Second + partitionBound
	// clusterReady bounds the NATS cluster's start (meta leader elected).
	clusterReady = 30 * time.Second
	// fleetJobDone bounds a recording's offline composition and upload
	// after its call (320x180, ultrafast, a loaded machine).
	fleetJobDone = 120 * time.Second
	// callStretch is how long the call runs between the test's actions:
	// long enough for two marker periods (synth.MarkerPeriod) per part.
	callStretch = 6 * time.Second
)

// Addresses of the simulated machines (a private subnet that exists only
// in the test's namespace).
var (
	bridgeAddr = netip.MustParsePrefix("10.214.0.1/24")
	natsAddrs  = []netip.Prefix{netip.MustParsePrefix("10.214.0.11/24"), netip.MustParsePrefix("10.214.0.12/24"), netip.MustParsePrefix("10.214.0.13/24")}
	workerAddr = []netip.Prefix{netip.MustParsePrefix("10.214.0.21/24"), netip.MustParsePrefix("10.214.0.22/24"), netip.MustParsePrefix("10.214.0.23/24")}
)

const (
	natsClientPort  = 4222
	natsClusterPort = 6222
	workerPort      = 8080
	fleetBucket     = "recordings"
)

var (
	natsOnce sync.Once
	natsBin  string
	natsErr  error
)

// natsServerBinary builds the module's nats-server once per test run.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	natsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "roomtape-nats-*")
		if err != nil {
			natsErr = err
			return
		}
		natsBin = filepath.Join(dir, "nats-server")
		out, err := exec.Command("go", "build", "-o", natsBin, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsErr = fmt.Errorf("go build nats-server: %w\n%s", err, out)
		}
	})
	if natsErr != nil {
		t.Fatal(natsErr)
	}
	return natsBin
}

// natsNode is one nats-server of the cluster.
type natsNode struct {
	name string
	host *netns.Host
	cmd  *exec.Cmd
	logs *syncbuf.Buffer
	done chan struct{}
}

func (n *natsNode) kill() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// worker is one examples/server --role worker on its host.
type worker struct {
	host *netns.Host
	args []string
	srv  *server
}

// fleet is a running fleet.
type fleet struct {
	t       *testing.T
	br      *netns.Bridge
	nodes   []*natsNode
	natsURL string
	s3      *s3test.Server
	dir     string // the shared data directory
	env     []string
	api     *server
	workers []*worker
}

// fleetOptions shape a fleet.
type fleetOptions struct {
	// cores is each worker's --cores ("" for all).
	cores string
}

// newFleet starts the cluster, versitygw, the API and three workers. It
// must run in the namespace child of netns.Enter.
func newFleet(t *testing.T, o fleetOptions) *fleet {
	t.Helper()
	f := &fleet{t: t, br: netns.NewBridge(t, "rtbr0", bridgeAddr), dir: t.TempDir()}
	bin := natsServerBinary(t)
	var routes []string
	for _, a := range natsAddrs {
		routes = append(routes, fmt.Sprintf("nats-route://%s:%d", a.Addr(), natsClusterPort))
	}
	var urls []string
	for i, a := range natsAddrs {
		name := fmt.Sprintf("n%d", i+1)
		h := f.br.AddHost(t, "rtn"+name, a)
		conf := filepath.Join(f.dir, name+".conf")
		body := fmt.Sprintf("server_name: %s\nlisten: %q\njetstream { store_dir: %q }\ncluster { name: roomtape\n listen: %q\n routes: [%s] }\n",
			name, fmt.Sprintf("%s:%d", a.Addr(), natsClientPort), filepath.Join(f.dir, name),
			fmt.Sprintf("%s:%d", a.Addr(), natsClusterPort), strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		n := &natsNode{name: name, host: h, logs: &syncbuf.Buffer{}, done: make(chan struct{})}
		n.cmd = h.Command(context.Background(), bin, "-c", conf)
		n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = n.cmd.Wait(); close(n.done) }()
		t.Cleanup(func() {
			n.kill()
			if t.Failed() {
				t.Logf("%s logs:\n%s", name, tail(n.logs.String(), 40))
			}
		})
		f.nodes = append(f.nodes, n)
		urls = append(urls, fmt.Sprintf("nats://%s:%d", a.Addr(), natsClientPort))
	}
	f.natsURL = strings.Join(urls, ",")
	f.waitCluster()

	f.s3 = s3test.StartWith(t, s3test.Options{Host: bridgeAddr.Addr().String()})
	if _, err := f.s3.Client().CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String(fleetBucket)}); err != nil {
		t.Fatal(err)
	}
	f.env = []string{
		"AWS_ACCESS_KEY_ID=" + f.s3.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + f.s3.SecretAccessKey,
		"AWS_REGION=" + s3test.Region, "S3_BUCKET=" + fleetBucket, "S3_ENDPOINT=" + f.s3.Endpoint,
	}
	common := []string{"--nats", f.natsURL, "--log-json", "--log-level", "DEBUG"}
	api := fmt.Sprintf("%s:%d", bridgeAddr.Addr(), workerPort)
	f.api = startNode(t, nil, api, f.dir, f.env, append(common, "--role", "api", "--max-recordings", "50")...)
	for i, a := range workerAddr {
		args := append(cloneArgs(common), "--role", "worker", "--api-url", f.api.URL, "--ice-public")
		if o.cores != "" {
			args = append(args, "--cores", o.cores)
		}
		w := &worker{host: f.br.AddHost(t, fmt.Sprintf("rtw%d", i+1), a), args: args}
		w.start(t, f)
		f.workers = append(f.workers, w)
	}
	waitFor(t, serverStart, "the API sees three workers", func() bool { return len(f.view().Workers) == 3 })
	return f
}

func cloneArgs(s []string) []string { return append([]string(nil), s...) }

// listen is the worker's address.
func (w *worker) listen() string { return fmt.Sprintf("%s:%d", w.host.Addr, workerPort) }

// start (re)starts the worker process.
func (w *worker) start(t *testing.T, f *fleet) {
	t.Helper()
	w.srv = startNode(t, w.host, w.listen(), f.dir, f.env, w.args...)
}

// waitCluster waits until the cluster has a JetStream meta leader.
func (f *fleet) waitCluster() {
	f.t.Helper()
	deadline := time.Now().Add(clusterReady)
	for {
		err := func() error {
			nc, err := nats.Connect(f.natsURL, nats.Timeout(time.Second))
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(f.t.Context(), 2*time.Second)
			defer cancel()
			_, err = js.AccountInfo(ctx)
			return err
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("NATS cluster not ready in %v: %v", clusterReady, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startNode runs examples/server on host (nil: the test's own namespace)
// like startServer.
func startNode(t *testing.T, host *netns.Host, addr, dataDir string, env []string, args ...string) *server {
	t.Helper()
	bin := serverBinary(t)
	all := append([]string{"--listen", addr, "--data-dir", dataDir, "--env-file", "", "--takeover", fleetTakeover.String()}, args...)
	var cmd *exec.Cmd
	if host == nil {
		cmd = exec.Command(bin, all...)
	} else {
		cmd = host.Command(context.Background(), bin, all...)
	}
	cmd.Env = append(os.Environ(), "ROOMTAPE_API_KEYS="+testKey+","+readKey+":ro")
	cmd.Env = append(cmd.Env, env...)
	return runServer(t, cmd)
}

// runServer starts cmd (an examples/server) and waits until it is ready.
func runServer(t *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
	logs := &syncbuf.Buffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, logs: logs, done: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := serviceLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.kill()
		if strings.Contains(logs.String(), "WARNING: DATA RACE") {
			t.Errorf("a server reported a data race")
		}
		if t.Failed() {
			t.Logf("server %s logs:\n%s", s.URL, tail(logs.String(), 150))
		}
	})
	select {
	case s.URL = <-urls:
	case <-s.done:
		t.Fatalf("server exited: %s", logs.String())
	case <-time.After(serverStart):
		t.Fatalf("server not up in %v: %s", serverStart, logs.String())
	}
	waitFor(t, serverStart, "ready", func() bool {
		resp, err := http.Get(s.URL + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200
	})
	return s
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// view reads the API's fleet view.
func (f *fleet) view() service.FleetView {
	f.t.Helper()
	code, body := f.api.do("GET", "/v1/fleet", testKey, nil)
	if code != 200 {
		f.t.Fatalf("GET /v1/fleet: %d %s", code, body)
	}
	var v service.FleetView
	mustJSON(f.t, body, &v)
	return v
}

// holder returns the worker whose fleet entry runs job id (nil if none).
func (f *fleet) holder(id string) *worker {
	for _, st := range f.view().Workers {
		for _, j := range st.Jobs {
			if j.ID != id {
				continue
			}
			for _, w := range f.workers {
				if strings.TrimSuffix(st.URL, "/") == "http://"+w.listen() {
					return w
				}
			}
		}
	}
	return nil
}

// mustHolder is holder, failing the test when no worker runs job id.
func (f *fleet) mustHolder(id string) *worker {
	f.t.Helper()
	w := f.holder(id)
	if w == nil {
		f.t.Fatalf("no worker runs %s: %+v", id, f.view())
	}
	return w
}

// leave stops every participant.
func leave(ps []*participant) {
	for _, p := range ps {
		p.stop()
	}
}

// participant is a publisher that stays in the call: it publishes again
// whenever its connection is lost (or the test kicks it), until stopped.
// Its goroutine (run) owns pub; mu guards joins and pub for the test.
type participant struct {
	t      *testing.T
	url    string
	token  string
	index  int
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	pub   *synth.Publisher
	joins []time.Time
}

// stay starts a participant that keeps publishing to rec's room.
func stay(t *testing.T, rec service.RecordingResponse, id string, index int) *participant {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	p := &participant{t: t, url: rec.WHIP.URL, token: rec.WHIP.Tokens[id], index: index, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go p.run(ctx)
	t.Cleanup(p.stop)
	return p
}

// rejoinRetry spaces a participant's attempts while its room is not
// served (404 queued or taking over, 502 the worker unreachable).
const rejoinRetry = 200 * time.Millisecond

func (p *participant) run(ctx context.Context) {
	defer close(p.done)
	for ctx.Err() == nil {
		pub, err := synth.PublishClip(ctx, p.url, synth.Participant{Token: p.token, Index: p.index, AnyInterface: true, ConnectTimeout: 5 * time.Second}, clip(p.t, p.index))
		if err != nil {
			sleep(ctx, rejoinRetry)
			continue
		}
		p.mu.Lock()
		p.pub = pub
		p.joins = append(p.joins, time.Now())
		p.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-pub.Done():
		case <-p.kick:
			pub.Sever()
		}
		_ = pub.Close(context.WithoutCancel(ctx))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// rejoin makes the participant publish again at once (its recorder was
// killed: it would otherwise notice only after pion's timeout).
func (p *participant) rejoin() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// joined returns the participant's join times.
func (p *participant) joined() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.joins...)
}

// stop leaves the call (idempotent).
func (p *participant) stop() {
	p.cancel()
	<-p.done
}

// waitJoins waits until every participant has joined n times.
func waitJoins(t *testing.T, timeout time.Duration, what string, ps []*participant, n int) {
	t.Helper()
	waitFor(t, timeout, what, func() bool {
		for _, p := range ps {
			if len(p.joined()) < n {
				return false
			}
		}
		return true
	})
}

// fleetRecording creates the two-person recording every fleet call test
// uses: offline composition at the test size, uploaded to S3.
func (f *fleet) fleetRecording() service.RecordingResponse {
	return f.api.createRecording(service.RecordingRequest{
		Room:   service.Room{Type: service.RoomWHIP, Participants: []service.Grant{{ID: "alice"}, {ID: "bob"}}, IdleTimeoutS: 2},
		Output: service.Output{Width: outW, Height: outH, Preset: "ultrafast", Compose: service.ComposeOffline, Upload: true},
	})
}

// startCall creates the fleet recording, starts its two participants and
// waits until both are recorded; it returns the job's API path too.
func (f *fleet) startCall() (service.RecordingResponse, string, []*participant) {
	f.t.Helper()
	rec := f.fleetRecording()
	path := "/v1/recordings/" + rec.Job.ID
	ps := []*participant{stay(f.t, rec, "alice", 0), stay(f.t, rec, "bob", 1)}
	waitFor(f.t, roomStart, "both recorded", func() bool { return f.api.job(path).Progress.Participants == 2 })
	return rec, path, ps
}

// checkCall checks a finished call: done, with parts parts, each
// participant present in each part with the gaps between parts in (0,
// bound], the MP4 uploaded and, with markers, carrying every
// participant's markers in every part. It returns the gaps.
func (f *fleet) checkCall(jb service.Job, parts int, bound time.Duration, markers bool) []time.Duration {
	t := f.t
	t.Helper()
	if jb.State != service.StateDone || len(jb.Parts) != parts {
		t.Fatalf("job %s: %s with %d parts, want done with %d: %s", jb.ID, jb.State, len(jb.Parts), parts, jb.Error)
	}
	rec, ok := jb.File(service.FileRecording)
	if !ok || !strings.HasPrefix(rec.URL, "http") {
		t.Fatalf("job %s: recording not uploaded: %+v", jb.ID, jb.Files)
	}
	key := strings.TrimPrefix(rec.URL, f.s3.Endpoint+"/"+fleetBucket+"/")
	if _, err := f.s3.Client().HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(fleetBucket), Key: aws.String(key)}); err != nil {
		t.Errorf("uploaded recording %s (key %s): %v", rec.URL, key, err)
	}
	mf, _ := jb.File(service.FileManifest)
	cm := trimmed(t, mf.Path)
	var gaps []time.Duration
	for _, p := range cm.Participants {
		iv := p.Intervals()
		if len(iv) != parts {
			t.Fatalf("%s: presence %+v, want %d parts", p.Key(), iv, parts)
		}
		for i := 1; i < len(iv); i++ {
			gap := iv[i].Join() - iv[i-1].Leave()
			gaps = append(gaps, gap)
			t.Logf("%s: gap %d: %v", p.Key(), i, gap)
			if gap <= 0 || gap > bound {
				t.Errorf("%s: gap %d is %v, want (0, %v]", p.Key(), i, gap, bound)
			}
		}
	}
	if !markers {
		return gaps
	}
	_, flashes := checkOutput(t, rec.Path, cm, outW, outH, []who{{"alice", 0}, {"bob", 1}})
	iv := cm.Participants[0].Intervals()
	for id, fs := range flashes {
		for i, span := range iv {
			if n := len(within(fs, span.Join(), span.Leave())); n < minFlashesPerPart {
				t.Errorf("%s: %d flashes in part %d (%v–%v), want at least %d", id, n, i+1, span.Join(), span.Leave(), minFlashesPerPart)
			}
		}
	}
	return gaps
}

// trimmed loads session.json at path, trimmed as composed.
func trimmed(t *testing.T, path string) *manifest.Session {
	t.Helper()
	m, err := manifest.Load(path)
	if err == nil {
		m, _, err = m.Trim()
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// minFlashesPerPart: a part of the call lasts at least callStretch, two
// marker periods; one flash may fall on its edges.
const minFlashesPerPart = 1

// logLine is a JSON log line of a server.
type logLine struct {
	Time time.Time `json:"time"`
	Msg  string    `json:"msg"`
	Job  string    `json:"job"`
	Err  string    `json:"err"`
}

// lines returns the server's JSON log lines about job with message msg.
func lines(s *server, job, msg string) []logLine {
	var out []logLine
	for l := range strings.SplitSeq(s.logs.String(), "\n") {
		var ll logLine
		if json.Unmarshal([]byte(l), &ll) == nil && ll.Msg == msg && (job == "" || ll.Job == job) {
			out = append(out, ll)
		}
	}
	return out
}

// fleetTest runs the test in a namespace child and starts its fleet
// there; it returns nil in the parent (whose result is the child's).
func fleetTest(t *testing.T, o fleetOptions) *fleet {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a NATS cluster and four servers and records a call")
	}
	if netns.Enter(t, netns.Config{}) == nil {
		return nil
	}
	return newFleet(t, o)
}

// TestFleetKillWorker kills the worker recording a call with SIGKILL:
// another worker takes the room's lease after its TTL, rejoins the room
// (the publishers come back through the API's forwarding) and continues
// the same job; the MP4, composed from both workers' parts and uploaded,
// covers the call with one gap, and every participant's markers are in
// both parts.
func TestFleetKillWorker(t *testing.T) {
	f := fleetTest(t, fleetOptions{})
	if f == nil {
		return // the namespace child ran the test
	}
	rec, path, ps := f.startCall()
	time.Sleep(callStretch)
	victim := f.mustHolder(rec.Job.ID)
	victim.srv.kill()
	killed := time.Now()
	for _, p := range ps {
		p.rejoin()
	}
	waitJoins(t, takeoverBound+roomStart, "both back", ps, 2)
	back := time.Since(killed)
	time.Sleep(callStretch)
	leave(ps)
	jb, _ := f.api.waitJob(path, fleetJobDone)
	gaps := f.checkCall(jb, 2, takeoverBound, true)
	var took time.Duration
	for _, w := range f.workers {
		if w == victim {
			continue
		}
		for _, l := range lines(w.srv, rec.Job.ID, "room lease acquired") {
			took = l.Time.Sub(killed)
		}
	}
	if took <= 0 {
		t.Errorf("no other worker logged taking the room's lease")
	}
	t.Logf("TAKEOVER: lease taken %v after the kill -9, publishers back %v after it; media lost per participant %v (takeover %v)",
		took.Round(10*time.Millisecond), back.Round(10*time.Millisecond), gaps, fleetTakeover)
}

// TestFleetPartition cuts the link of the worker recording a call and
// mends it later: another worker takes the room over only after the cut
// worker stopped recording (its log's stop precedes the lease taken
// elsewhere), the cut worker never writes to the job again, and the call
// is one job of two parts.
func TestFleetPartition(t *testing.T) {
	f := fleetTest(t, fleetOptions{})
	if f == nil {
		return // the namespace child ran the test
	}
	rec, path, ps := f.startCall()
	time.Sleep(callStretch)
	victim := f.mustHolder(rec.Job.ID)
	if err := victim.host.SetLink(false); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	waitJoins(t, partitionBound+roomStart, "both back on another worker", ps, 2)
	t.Logf("publishers back %v after the cut", time.Since(cut).Round(10*time.Millisecond))
	time.Sleep(callStretch / 2)
	if err := victim.host.SetLink(true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(callStretch / 2)
	leave(ps)
	jb, _ := f.api.waitJob(path, fleetJobDone)
	// No marker check here: media stops at the cut, but the cut worker
	// keeps its participants present until it fences itself (3/4 of the
	// TTL later), so its part ends with that much frozen tile, which the
	// tile probes would hit. TestFleetKillWorker checks the markers.
	f.checkCall(jb, 2, partitionBound, false)

	// Never two recorders: the cut worker's recording stopped writing
	// (fenced, then its recorder's session closed: every track and
	// session.json written) before any other worker took the lease.
	fenced := lines(victim.srv, rec.Job.ID, "recording fenced")
	left := lines(victim.srv, rec.Job.ID, "session closed")
	if len(fenced) != 1 || len(left) != 1 {
		t.Fatalf("cut worker: %d fence and %d session-closed lines, want one each", len(fenced), len(left))
	}
	for _, w := range f.workers {
		if w == victim {
			continue
		}
		for _, l := range lines(w.srv, rec.Job.ID, "room lease acquired") {
			t.Logf("cut worker fenced %v and stopped %v after the cut; %s took the lease %v after it",
				fenced[0].Time.Sub(cut).Round(time.Millisecond), left[0].Time.Sub(cut).Round(time.Millisecond), w.host.Name, l.Time.Sub(cut).Round(time.Millisecond))
			if !left[0].Time.Before(l.Time) {
				t.Errorf("two recorders: the cut worker stopped at %v, %s took the lease at %v", left[0].Time, w.host.Name, l.Time)
			}
		}
	}
	if strings.Contains(victim.srv.logs.String(), `"msg":"job finished"`) {
		t.Errorf("the cut worker finished the job after the partition healed")
	}
}

// TestFleetNATSNodeLoss kills the NATS node that leads the lease bucket
// while a call is recorded: the job continues (at worst after one
// takeover) and a recording created after the loss runs.
func TestFleetNATSNodeLoss(t *testing.T) {
	f := fleetTest(t, fleetOptions{})
	if f == nil {
		return // the namespace child ran the test
	}
	_, path, ps := f.startCall()
	time.Sleep(callStretch)
	leader := f.streamLeader("KV_" + service.LeaseBucket)
	var lost *natsNode
	for _, n := range f.nodes {
		if n.name == leader {
			lost = n
		}
	}
	if lost == nil {
		t.Fatalf("lease bucket leader %q is none of the nodes", leader)
	}
	lost.kill()
	t.Logf("killed %s, the lease bucket's leader", leader)
	time.Sleep(natsLossBound)
	// A new recording after the loss is placed and records.
	rec2 := f.api.createRecording(service.RecordingRequest{
		Room: service.Room{Type: service.RoomWHIP, Participants: []service.Grant{{ID: "carol"}}, IdleTimeoutS: 1}, Output: service.Output{Compose: service.ComposeNone},
	})
	p2 := stay(t, rec2, "carol", 0)
	waitFor(t, roomStart, "a recording after the loss", func() bool {
		return f.api.job("/v1/recordings/"+rec2.Job.ID).Progress.Participants == 1
	})
	time.Sleep(callStretch)
	p2.stop()
	leave(ps)
	jb, _ := f.api.waitJob(path, fleetJobDone)
	parts := len(jb.Parts)
	if parts > 2 {
		t.Errorf("%d parts: the node's loss cost more than one takeover", parts)
	}
	gaps := f.checkCall(jb, max(parts, 1), natsLossBound, parts == 1)
	t.Logf("NATS node loss: %d part(s), gaps %v", parts, gaps)
	j2, _ := f.api.waitJob("/v1/recordings/"+rec2.Job.ID, fleetJobDone)
	if j2.State != service.StateDone {
		t.Errorf("recording after the loss: %s %s", j2.State, j2.Error)
	}
}

// streamLeader is the server name leading stream name.
func (f *fleet) streamLeader(name string) string {
	f.t.Helper()
	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		f.t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		f.t.Fatal(err)
	}
	st, err := js.Stream(f.t.Context(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := st.Info(f.t.Context())
	if err != nil || info.Cluster == nil {
		f.t.Fatalf("stream %s info: %v %+v", name, err, info)
	}
	return info.Cluster.Leader
}

// Shape of the capacity test: each worker offers capacityCores, room for
// roomsPerWorker one-person record-only rooms (RecordCPUPerParticipant
// each) and not one more.
const (
	roomsPerWorker = 2
	capacityRooms  = 3*roomsPerWorker + 2
)

var capacityCores = fmt.Sprintf("%g", (float64(roomsPerWorker)+0.5)*service.RecordCPUPerParticipant)

// TestFleetCapacity creates more rooms than the fleet has room for: the
// first two go to the same worker (packing), each worker takes
// roomsPerWorker, the excess stays queued and is reported by the fleet
// view and the metrics, and runs once rooms end; none is dropped.
func TestFleetCapacity(t *testing.T) {
	f := fleetTest(t, fleetOptions{cores: capacityCores})
	if f == nil {
		return // the namespace child ran the test
	}
	var recs []service.RecordingResponse
	var ps []*participant
	for i := range capacityRooms {
		rec := f.api.createRecording(service.RecordingRequest{
			Room:   service.Room{Type: service.RoomWHIP, Participants: []service.Grant{{ID: "p"}}, IdleTimeoutS: 1},
			Output: service.Output{Compose: service.ComposeNone},
		})
		recs = append(recs, rec)
		ps = append(ps, stay(t, rec, "p", i))
		if i < 3*roomsPerWorker {
			waitFor(t, roomStart, fmt.Sprintf("room %d recorded", i+1), func() bool {
				return f.api.job("/v1/recordings/"+rec.Job.ID).Progress.Participants == 1
			})
		}
		if i == 1 {
			if a, b := f.holder(recs[0].Job.ID), f.holder(recs[1].Job.ID); a == nil || a != b {
				t.Errorf("packing: the first two rooms on %v and %v, want one worker", a, b)
			}
		}
	}
	// The excess: queued, reported unplaceable, in the metrics too.
	time.Sleep(2 * declineSettle)
	v := f.view()
	if len(v.Queued) != capacityRooms-3*roomsPerWorker || v.Unplaceable != len(v.Queued) {
		t.Fatalf("fleet view: %d queued, %d unplaceable, want %d both: %+v", len(v.Queued), v.Unplaceable, capacityRooms-3*roomsPerWorker, v)
	}
	for _, w := range v.Workers {
		if len(w.Jobs) != roomsPerWorker {
			t.Errorf("worker %s runs %d jobs, want %d", w.ID, len(w.Jobs), roomsPerWorker)
		}
	}
	t.Logf("queued: %+v", v.Queued)
	_, metrics := f.api.do("GET", "/metrics", testKey, nil)
	want := fmt.Sprintf(`roomtape_fleet_queued_jobs{placeable="false"} %d`, len(v.Queued))
	if !strings.Contains(string(metrics), want) {
		t.Errorf("metrics lack %q", want)
	}
	// Rooms end: the queued ones are placed and record.
	for i := range 2 {
		ps[i].stop()
	}
	for _, rec := range recs[3*roomsPerWorker:] {
		waitFor(t, fleetJobDone, "a queued room placed", func() bool {
			return f.api.job("/v1/recordings/"+rec.Job.ID).Progress.Participants == 1
		})
	}
	leave(ps)
	for _, rec := range recs {
		j, _ := f.api.waitJob("/v1/recordings/"+rec.Job.ID, fleetJobDone)
		if j.State != service.StateDone {
			t.Errorf("room %s: %s %s", rec.Job.ID, j.State, j.Error)
		}
	}
}

// declineSettle: a declined job is offered again after 200 ms and an idle
// worker looks every 500 ms; a second is enough for every worker to have
// declined it.
const declineSettle = time.Second

// TestFleetRollingRestart restarts every worker in turn during one call,
// draining each first (SIGTERM for two, the API's drain for one): the
// worker recording the call hands it off to another, and the call is
// recorded throughout with every gap within handoffBound.
func TestFleetRollingRestart(t *testing.T) {
	f := fleetTest(t, fleetOptions{})
	if f == nil {
		return // the namespace child ran the test
	}
	rec, path, ps := f.startCall()
	handoffs := 0
	for i, w := range f.workers {
		time.Sleep(callStretch)
		held := f.holder(rec.Job.ID) == w
		if i == 1 {
			var st service.WorkerStatus
			id := ""
			for _, s := range f.view().Workers {
				if s.URL == w.srv.URL || strings.TrimSuffix(s.URL, "/") == "http://"+w.listen() {
					id = s.ID
				}
			}
			code, body := f.api.do("POST", "/v1/fleet/workers/"+id+"/drain", testKey, nil)
			if code != 202 {
				t.Fatalf("drain %s: %d %s", id, code, body)
			}
			mustJSON(t, body, &st)
			if !st.Draining {
				t.Errorf("drain answer: %+v", st)
			}
		}
		_ = w.srv.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.srv.done:
		case <-time.After(serverStart):
			t.Fatalf("%s did not drain and stop in %v", w.host.Name, serverStart)
		}
		if held {
			handoffs++
			waitJoins(t, handoffBound+roomStart, "back after the hand-off", ps, handoffs+1)
		}
		w.start(t, f)
	}
	time.Sleep(callStretch)
	leave(ps)
	jb, _ := f.api.waitJob(path, fleetJobDone)
	if handoffs == 0 {
		t.Fatalf("no worker held the call when drained")
	}
	gaps := f.checkCall(jb, handoffs+1, handoffBound, true)
	t.Logf("rolling restart: %d hand-offs, gaps %v", handoffs, gaps)
}
