package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roomtape/roomtape/recorder/service"
)

// fleetOpts are the fleet's flags of the server.
type fleetOpts struct {
	role         *string
	cores        *float64
	memoryMiB    *int64
	apiURL       *string
	replicas     *int
	drainTimeout *time.Duration
}

func fleetFlags(fs *flag.FlagSet) fleetOpts {
	return fleetOpts{
		role:         fs.String("role", "all", "api (HTTP API only, never records), worker (runs jobs, no API) or all (both: one machine)"),
		cores:        fs.Float64("cores", 0, "cores this worker offers to jobs (default all); see the job cost table in README.md"),
		memoryMiB:    fs.Int64("memory-mib", 0, "memory this worker offers to jobs, MiB (default the machine's)"),
		apiURL:       fs.String("api-url", "", "a worker: the API front-end's base URL, on which WHIP and file URLs are built"),
		replicas:     fs.Int("nats-replicas", 0, "replicas of the JetStream streams and buckets (default 1 embedded, else the cluster's servers up to 3)"),
		drainTimeout: fs.Duration("drain-timeout", 10*time.Minute, "on SIGTERM, how long to wait for jobs to finish or be handed off (0: stop at once)"),
	}
}

// fleetTimeout bounds one request of the fleet command.
const fleetTimeout = 10 * time.Second

// fleetCommand is `server fleet [--api URL] [drain WORKER]`: the fleet
// view (workers, capacity, jobs, queued) or a drain request. The key is
// ROOMTAPE_API_KEY, else the first of ROOMTAPE_API_KEYS.
func fleetCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("server fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := fs.String("api", "http://127.0.0.1:8080", "the API's base URL")
	asJSON := fs.Bool("json", false, "print the JSON view")
	fs.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "usage: server fleet [--api URL] [--json] [drain WORKER-ID]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	key := os.Getenv("ROOMTAPE_API_KEY")
	if key == "" {
		key, _, _ = strings.Cut(os.Getenv("ROOMTAPE_API_KEYS"), ",")
		key = strings.TrimSuffix(key, ":ro")
	}
	if key == "" {
		return errors.New("fleet: set ROOMTAPE_API_KEY (or ROOMTAPE_API_KEYS)")
	}
	ctx, cancel := context.WithTimeout(ctx, fleetTimeout)
	defer cancel()
	base := strings.TrimSuffix(*api, "/")
	switch rest := fs.Args(); {
	case len(rest) == 0:
		var v service.FleetView
		body, err := call(ctx, http.MethodGet, base+"/v1/fleet", key, &v)
		if err != nil {
			return err
		}
		if *asJSON {
			_, err = stdout.Write(body)
			return err
		}
		return printFleet(stdout, v)
	case len(rest) == 2 && rest[0] == "drain":
		var st service.WorkerStatus
		if _, err := call(ctx, http.MethodPost, base+"/v1/fleet/workers/"+url.PathEscape(rest[1])+"/drain", key, &st); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "worker %s draining: %d jobs left\n", st.ID, len(st.Jobs))
		return err
	default:
		fs.Usage()
		return flag.ErrHelp
	}
}

// call sends one API request and decodes a 2xx answer into v.
func call(ctx context.Context, method, u, key string, v any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("fleet: %s: %w", u, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("fleet: %s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("fleet: %s: %w", u, err)
	}
	return body, nil
}

func printFleet(w io.Writer, v service.FleetView) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	_, _ = fmt.Fprintf(tw, "WORKER\tROLE\tCORES USED/TOTAL\tMEMORY MiB USED/TOTAL\tJOBS\tSTATE\n")
	for _, wk := range v.Workers {
		state := "taking jobs"
		if wk.Draining {
			state = "draining"
		}
		var jobs []string
		for _, j := range wk.Jobs {
			jobs = append(jobs, j.ID)
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%.2f/%.2f\t%d/%d\t%s\t%s\n", wk.ID, wk.Role, wk.Used.CPU, wk.Capacity.CPU,
			wk.Used.Memory>>20, wk.Capacity.Memory>>20, strings.Join(jobs, ","), state)
	}
	_, _ = fmt.Fprintf(tw, "\nFLEET\t\t%.2f/%.2f\t%d/%d\t\t%d queued, %d unplaceable\n", v.Used.CPU, v.Capacity.CPU,
		v.Used.Memory>>20, v.Capacity.Memory>>20, len(v.Queued), v.Unplaceable)
	for _, q := range v.Queued {
		_, _ = fmt.Fprintf(tw, "queued\t%s\t%s %.2f cores\t%d\t%.0f s\t%s\n", q.ID, q.Kind, q.Cost.CPU, q.Cost.Memory>>20, q.QueuedS, q.Reason)
	}
	return tw.Flush()
}
