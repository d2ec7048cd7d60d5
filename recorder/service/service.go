package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/recorder/whip"
)

// Defaults of [Config].
const (
	DefaultDataDir       = "./roomtape-data"
	DefaultMaxRecordings = 10
	DefaultWorkers       = DefaultMaxRecordings + 2
)

// ErrConfig is wrapped by every configuration error of [New].
var ErrConfig = errors.New("service: bad configuration")

// APIKey is a key that may call the API. Key is a secret: never logged.
type APIKey struct {
	Key string
	// ReadOnly keys may list and get, not create or stop (403).
	ReadOnly bool
}

// minAPIKeyBytes is the shortest API key accepted: 128 bits of hex.
const minAPIKeyBytes = 16

// LiveKit is the LiveKit server the service records (LiveKit rooms and
// auto-recording). APIKey and APISecret are secrets: never logged.
type LiveKit struct {
	URL       string
	APIKey    string
	APISecret string
	// AutoRecord is the auto-recording rule for the webhook receiver: ""
	// records nothing automatically, "*" every room, any other value is a
	// path.Match pattern on the room name.
	AutoRecord string
}

// Daily lets the service mint meeting tokens for Daily rooms whose
// record request brings none, and receive Daily's webhooks. APIKey and
// WebhookSecret are secrets: never logged.
type Daily struct {
	APIKey string
	// APIURL (optional) is Daily's REST API base; defaults to
	// browser.DefaultDailyAPI.
	APIURL string
	// WebhookSecret is the webhook's hmac secret as Daily gives it
	// (base64); it enables POST /v1/daily/webhook.
	WebhookSecret string
	// Domain is the Daily domain whose rooms the webhook records:
	// "acme" for https://acme.daily.co/ROOM.
	Domain string
	// AutoRecord is the auto-recording rule for meeting.started, as
	// LiveKit.AutoRecord: "" nothing, "*" every room, else a path.Match
	// pattern on the room name.
	AutoRecord string
}

// Webhook is where outgoing events go. Secret is never logged.
type Webhook struct {
	URL    string
	Secret string
}

// S3 is the store of upload jobs and of record jobs with output.upload.
// AccessKeyID and SecretAccessKey are secrets: never logged.
type S3 struct {
	Bucket, Region, Endpoint, Prefix, BaseURL string
	AccessKeyID, SecretAccessKey              string
}

// Config configures a [Service]. Only APIKeys and PublicURL are required.
type Config struct {
	// DataDir (optional) holds the recordings (DataDir/recordings) and the
	// embedded NATS server's JetStream store (DataDir/nats); defaults to
	// DefaultDataDir.
	DataDir string
	// NATSURL (optional) is an external NATS server or cluster
	// ("nats://a:4222,nats://b:4222"); empty starts an embedded one.
	NATSURL string
	// APIKeys may call the API; at least one, each of at least 16 bytes.
	APIKeys []APIKey
	// PublicURL is the service's base URL as publishers and the web page
	// reach it ("http://127.0.0.1:8080"): WHIP URLs and file URLs are
	// built on it.
	PublicURL string
	// MaxRecordings (optional) bounds the unfinished record jobs; a create
	// beyond it is answered 429. Defaults to DefaultMaxRecordings.
	MaxRecordings int
	// Workers (optional) bounds the jobs this process runs at once;
	// defaults to MaxRecordings + 2 (room for compositions).
	Workers int
	// AckWait (optional) is the takeover time of a job whose worker died;
	// defaults to DefaultAckWait.
	AckWait time.Duration
	// PublicICE (optional) offers every interface's ICE candidates to WHIP
	// publishers; false offers 127.0.0.1 only.
	PublicICE bool
	// WHIPHosts (optional) are host names WHIP publishers may use besides
	// the service's IP address; WHIPOrigins the web origins that may
	// publish (CORS).
	WHIPHosts, WHIPOrigins []string
	// LiveKit (optional) enables LiveKit rooms and the webhook receiver.
	LiveKit LiveKit
	// Daily (optional) mints the bot's meeting tokens for Daily rooms.
	Daily Daily
	// Webhook (optional) enables outgoing webhooks.
	Webhook Webhook
	// S3 (optional) enables uploads.
	S3 S3
	// Output (optional) is the default composition of record jobs.
	Output Output
	// Logger (optional) defaults to discarding logs.
	Logger *slog.Logger

	// The fleet (fleet.go). Role (optional) defaults to RoleAll; RoleAPI
	// and RoleWorker need NATSURL.
	Role Role
	// Cores and Memory (optional) are the capacity this process offers to
	// jobs (see JobCost); default all the machine's cores and memory.
	Cores  float64
	Memory int64
	// APIURL (optional) is the API front-end's base URL, on which WHIP
	// and file URLs are built; defaults to PublicURL (a worker's
	// PublicURL is its own address, where the API forwards WHIP
	// requests).
	APIURL string
	// Replicas (optional) of the JetStream streams and buckets; defaults
	// to 1 with the embedded server, else to the servers the connection
	// knows (at most 3).
	Replicas int
}

// LogValue keeps secrets out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("data_dir", c.DataDir),
		slog.Bool("embedded_nats", c.NATSURL == ""),
		slog.Int("api_keys", len(c.APIKeys)),
		slog.String("public_url", c.PublicURL),
		slog.Int("max_recordings", c.MaxRecordings),
		slog.String("livekit", c.LiveKit.URL),
		slog.String("auto_record", c.LiveKit.AutoRecord),
		slog.Bool("daily_api_key", c.Daily.APIKey != ""),
		slog.Bool("webhook", c.Webhook.URL != ""),
		slog.Bool("s3", c.S3.Bucket != ""),
		slog.String("role", string(c.Role)),
		slog.Float64("cores", c.Cores),
	)
}

func (c *Config) check() error {
	var errs []error
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.MaxRecordings <= 0 {
		c.MaxRecordings = DefaultMaxRecordings
	}
	if c.Workers <= 0 {
		c.Workers = c.MaxRecordings + 2
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	errs = append(errs, c.checkFleet())
	if len(c.APIKeys) == 0 {
		errs = append(errs, fmt.Errorf("%w: no API key", ErrConfig))
	}
	for i, k := range c.APIKeys {
		if len(k.Key) < minAPIKeyBytes {
			errs = append(errs, fmt.Errorf("%w: API key %d is shorter than %d bytes", ErrConfig, i+1, minAPIKeyBytes))
		}
	}
	if c.PublicURL == "" {
		errs = append(errs, fmt.Errorf("%w: no public URL", ErrConfig))
	}
	if c.Webhook.URL != "" && len(c.Webhook.Secret) < minAPIKeyBytes {
		errs = append(errs, fmt.Errorf("%w: the webhook secret must be at least %d bytes", ErrConfig, minAPIKeyBytes))
	}
	if c.LiveKit.AutoRecord != "" && (c.LiveKit.APIKey == "" || c.LiveKit.APISecret == "") {
		errs = append(errs, fmt.Errorf("%w: auto-recording needs the LiveKit API key and secret (webhook signatures)", ErrConfig))
	}
	errs = append(errs, c.Daily.check()...)
	return errors.Join(errs...)
}

// Service is the recording service: queue, workers, API. Create it with
// [New], serve [Service.Handler], run [Service.Run], then [Service.Close].
type Service struct {
	cfg      Config
	log      *slog.Logger
	q        *queue
	cache    *cache
	metrics  *metrics
	worker   string // this process's worker ID
	recDir   string
	events   chan Event
	apiKeys  []apiKey
	sessions *sessions

	// rooms are the WHIP handlers mounted by running record jobs, by job
	// ID; roomsMu guards the map (never held while calling a handler).
	roomsMu sync.Mutex
	rooms   map[string]*whip.Handler

	// createMu serialises creations so that the capacity check counts
	// every job created before (the cache has it before it is released).
	createMu sync.Mutex

	// running counts the jobs this process runs, by kind (CPU metric);
	// runMu guards it.
	runMu   sync.Mutex
	running map[Kind]int

	cap     *capacity   // this worker's reservations (fleet.go)
	fleet   *fleetWatch // the workers' entries (every role: placement and the fleet view)
	fm      *fleetMetrics
	started time.Time
	beatNow chan struct{} // asks beat for a status write now (buffer 1)
}

// New opens the queue (starting the embedded NATS server unless
// Config.NATSURL is set) and returns the service.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if compose.FFmpegLogger() == nil {
		// FFmpeg's log is process-wide: its lines carry no job ID.
		compose.SetFFmpegLogger(log.With("component", "ffmpeg"))
	}
	recDir := filepath.Join(cfg.DataDir, "recordings")
	if err := os.MkdirAll(recDir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: data dir: %w", ErrConfig, err)
	}
	q, err := openQueue(ctx, cfg.NATSURL, filepath.Join(cfg.DataDir, "nats"), cfg.AckWait, cfg.Replicas, log.With("component", "queue"))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	c := &cache{jobs: map[string]*Job{}}
	s := &Service{
		cfg:      cfg,
		log:      log,
		q:        q,
		cache:    c,
		metrics:  newMetrics(c),
		worker:   fmt.Sprintf("%s-%d-%s", host, os.Getpid(), newID("")[:6]),
		recDir:   recDir,
		events:   make(chan Event, eventBuffer),
		sessions: newSessions(),
		rooms:    map[string]*whip.Handler{},
		running:  map[Kind]int{},
		cap:      newCapacity(Cost{CPU: cfg.Cores, Memory: cfg.Memory}),
		fleet:    &fleetWatch{seen: map[string]seenWorker{}},
		started:  time.Now().UTC(),
		beatNow:  make(chan struct{}, 1),
	}
	s.fm = newFleetMetrics(s)
	for _, k := range cfg.APIKeys {
		s.apiKeys = append(s.apiKeys, newAPIKey(k))
	}
	log.Info("service ready", "config", cfg, "worker", s.worker)
	return s, nil
}

// Run runs the job cache, the workers and the webhook delivery until ctx
// ends. Jobs still running then are abandoned, not finished: their queue
// messages are redelivered to the next worker (this one restarted, or
// another), which resumes them.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.cache.watch(ctx, s.q.kv, s.log) })
	if s.cfg.Role.runsJobs() {
		g.Go(func() error { return s.work(ctx) })
		g.Go(func() error { s.sampleCPU(ctx); return nil })
		g.Go(func() error { s.beat(ctx); return nil })
		g.Go(func() error { return s.serveDrain(ctx) })
	}
	g.Go(func() error { return s.fleet.watch(ctx, s.q.workers, s.log) })
	if s.cfg.Webhook.URL != "" {
		g.Go(func() error { s.publishEvents(ctx); return nil })
		if s.cfg.Role.servesAPI() {
			g.Go(func() error { return s.deliverEvents(ctx) })
		}
	}
	return g.Wait()
}

// Close stops the queue connection and the embedded server; call it after
// Run returned.
func (s *Service) Close() error {
	s.q.close()
	return nil
}

// Ready reports whether the service serves: the job cache is loaded and
// the NATS connection is up.
func (s *Service) Ready() bool {
	return s.cache.isReady() && s.q.nc.IsConnected()
}

// Worker returns this process's worker ID.
func (s *Service) Worker() string { return s.worker }
