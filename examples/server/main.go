// Command server runs roomtape as a recording service: an HTTP API
// (/v1/...) that records WHIP rooms it hosts and LiveKit rooms, composes
// and uploads them, with the job queue on NATS JetStream (embedded by
// default, storage in --data-dir), outgoing signed webhooks, LiveKit
// and Daily auto-recording, Prometheus /metrics and a web page at /. See
// README.md.
//
// Secrets come from the environment (or a .env file), never from flags:
// ROOMTAPE_API_KEYS (comma-separated; a ":ro" suffix makes a read-only
// key), ROOMTAPE_WEBHOOK_SECRET, LIVEKIT_API_KEY, LIVEKIT_API_SECRET,
// DAILY_API_KEY, DAILY_WEBHOOK_SECRET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. Without ROOMTAPE_API_KEYS a key
// is generated once and kept in <data-dir>/api-key (mode 0600).
//
// Roles (--role): all (default) is API and worker in one process; a fleet
// runs api front-ends and workers against one NATS cluster (--nats
// nats://a,nats://b,nats://c). `server fleet` shows the fleet and drains
// a worker (see fleet.go).
//
// SIGINT or SIGTERM drains a process that runs jobs (its recordings are
// handed off to other workers, its compositions finish; at most
// --drain-timeout), a second one stops it at once; jobs still running are
// resumed by the next start or another worker (their queue messages are
// redelivered).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/roomtape/roomtape/internal/bot"
	"github.com/roomtape/roomtape/recorder/service"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds the HTTP server's graceful stop.
const shutdownTimeout = 5 * time.Second

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "fleet" {
		return fleetCommand(ctx, args[1:], stdout, stderr)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", ".env", "read KEY=VALUE settings from this file when it exists")
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP address of the API, the WHIP rooms and the web page")
	publicURL := fs.String("public-url", "", "base URL publishers and browsers use (default http://<listen address>)")
	dataDir := fs.String("data-dir", service.DefaultDataDir, "recordings and the embedded NATS store")
	natsURL := fs.String("nats", "", "external NATS server or cluster (nats://a:4222,nats://b:4222); default: embedded")
	maxRec := fs.Int("max-recordings", service.DefaultMaxRecordings, "most unfinished recordings (429 beyond)")
	workers := fs.Int("workers", 0, "most jobs this process runs at once (default max-recordings + 2)")
	ackWait := fs.Duration("takeover", service.DefaultAckWait, "how long a dead worker's job waits before it is resumed")
	publicICE := fs.Bool("ice-public", false, "offer every interface's ICE candidates to WHIP publishers (default 127.0.0.1 only)")
	whipHosts := fs.String("whip-host", "", "comma-separated host names WHIP publishers may use besides the IP address")
	whipOrigins := fs.String("whip-origin", "", "comma-separated web origins that may publish over WHIP (CORS)")
	lkURL := fs.String("livekit-url", "", "LiveKit server (ws://...) for LiveKit rooms (env LIVEKIT_URL)")
	autoRecord := fs.String("auto-record", "", `record LiveKit rooms on their room_started webhook: "*" for all, or a name pattern (path.Match)`)
	dailyDomain := fs.String("daily-domain", "", "Daily domain whose rooms Daily's webhooks record (acme for https://acme.daily.co/ROOM; webhook secret: env DAILY_WEBHOOK_SECRET)")
	dailyAuto := fs.String("daily-auto-record", "", `record Daily rooms on their meeting.started webhook: "*" for all, or a name pattern (path.Match)`)
	webhookURL := fs.String("webhook-url", "", "POST signed events here (secret: env ROOMTAPE_WEBHOOK_SECRET)")
	s3Bucket := fs.String("s3-bucket", "", "S3 bucket for uploads (env S3_BUCKET)")
	s3Endpoint := fs.String("s3-endpoint", "", "S3-compatible endpoint (env S3_ENDPOINT)")
	layout := fs.String("layout", "columns", "default layout: columns or grid")
	logLevel := fs.String("log-level", "INFO", "DEBUG, INFO, WARN or ERROR")
	logJSON := fs.Bool("log-json", false, "log JSON lines")
	ff := fleetFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	role, err := service.ParseRole(*ff.role)
	if err != nil {
		return err
	}
	env, err := bot.WithDotEnv(bot.OSEnv, *envFile)
	if err != nil {
		return err
	}
	get := func(k string) string { v, _ := env(k); return v }
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", *logLevel, err)
	}
	log := bot.NewLogger(stderr, level, *logJSON)

	keys, err := apiKeys(get("ROOMTAPE_API_KEYS"), *dataDir, stdout)
	if err != nil {
		return err
	}
	if err := service.CheckAutoRecordRule(*autoRecord); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	defer func() { _ = ln.Close() }()
	pub := *publicURL
	if pub == "" {
		pub = "http://" + ln.Addr().String()
	}
	cfg := service.Config{
		DataDir: *dataDir, NATSURL: *natsURL, APIKeys: keys, PublicURL: pub,
		MaxRecordings: *maxRec, Workers: *workers, AckWait: *ackWait,
		PublicICE: *publicICE, WHIPHosts: split(*whipHosts), WHIPOrigins: split(*whipOrigins),
		LiveKit: service.LiveKit{
			URL: or(*lkURL, get("LIVEKIT_URL")), APIKey: get("LIVEKIT_API_KEY"), APISecret: get("LIVEKIT_API_SECRET"),
			AutoRecord: *autoRecord,
		},
		Daily: service.Daily{
			APIKey: get("DAILY_API_KEY"), APIURL: get("DAILY_API_URL"),
			WebhookSecret: get("DAILY_WEBHOOK_SECRET"), Domain: *dailyDomain, AutoRecord: *dailyAuto,
		},
		Webhook: service.Webhook{URL: *webhookURL, Secret: get("ROOMTAPE_WEBHOOK_SECRET")},
		S3: service.S3{
			Bucket: or(*s3Bucket, get("S3_BUCKET")), Endpoint: or(*s3Endpoint, get("S3_ENDPOINT")),
			Region: get("AWS_REGION"), Prefix: get("S3_PREFIX"), BaseURL: get("BASE_CDN_URL"),
			AccessKeyID: get("AWS_ACCESS_KEY_ID"), SecretAccessKey: get("AWS_SECRET_ACCESS_KEY"),
		},
		Output: service.Output{Layout: *layout},
		Logger: log,
		Role:   role, Cores: *ff.cores, Memory: *ff.memoryMiB << 20,
		APIURL: *ff.apiURL, Replicas: *ff.replicas,
	}
	svc, err := service.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = svc.Close() }()
	handler := svc.Handler()
	if role == service.RoleWorker {
		handler = svc.WorkerHandler()
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- svc.Run(ctx) }()
	go func() { errc <- srv.Serve(ln) }()
	if role == service.RoleWorker {
		_, _ = fmt.Fprintf(stdout, "roomtape service on %s (worker %s)\n", pub, svc.Worker())
	} else {
		_, _ = fmt.Fprintf(stdout, "roomtape service on %s (web page %s/, API %s/v1/recordings)\n", pub, pub, pub)
	}
	select {
	case <-ctx.Done():
	case <-sigs:
		if role != service.RoleAPI && *ff.drainTimeout > 0 {
			_, _ = fmt.Fprintf(stdout, "draining (a second signal stops at once)\n")
			svc.Drain()
			select {
			case <-svc.Drained():
			case <-sigs:
			case <-time.After(*ff.drainTimeout):
				log.Warn("drain timed out; stopping with jobs left for other workers", "timeout", *ff.drainTimeout)
			case err = <-errc:
			}
		}
	case err = <-errc:
	}
	stop()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if rerr := <-errc; err == nil && !errors.Is(rerr, http.ErrServerClosed) {
		err = rerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// apiKeys parses ROOMTAPE_API_KEYS or, when empty, reads (or creates) the
// key kept in dataDir/api-key.
func apiKeys(v, dataDir string, stdout io.Writer) ([]service.APIKey, error) {
	var keys []service.APIKey
	for _, k := range split(v) {
		key, ro := strings.CutSuffix(k, ":ro")
		keys = append(keys, service.APIKey{Key: key, ReadOnly: ro})
	}
	if len(keys) > 0 {
		return keys, nil
	}
	path := filepath.Join(dataDir, "api-key")
	if b, err := os.ReadFile(path); err == nil {
		return []service.APIKey{{Key: strings.TrimSpace(string(b))}}, nil
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	key := hex.EncodeToString(b[:])
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write the generated API key: %w", err)
	}
	_, _ = fmt.Fprintf(stdout, "No ROOMTAPE_API_KEYS: generated an API key in %s\n", path)
	return []service.APIKey{{Key: key}}, nil
}

func split(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
