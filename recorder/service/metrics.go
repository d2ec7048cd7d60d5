package service

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the service's Prometheus metrics, in their own registry.
// The prometheus types are safe for concurrent use.
type metrics struct {
	reg          *prometheus.Registry
	participants prometheus.Gauge
	lag          prometheus.Gauge
	written      prometheus.Counter
	uploaded     prometheus.Counter
	cpu          *prometheus.CounterVec
	errors       *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
	requests     *prometheus.CounterVec
	// The stream outputs' (streams.go), by kind (rtmp, rtmps, hls).
	streamFailures, streamReconnects, streamDropped *prometheus.CounterVec
}

func newMetrics(c *cache) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		participants: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomtape_recording_participants",
			Help: "Participants present in the rooms this process records.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomtape_live_composition_lag_seconds",
			Help: "The largest lag behind the call among this process's live compositions.",
		}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomtape_bytes_written_total",
			Help: "Bytes of recorded media and composed output written by finished jobs.",
		}),
		uploaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomtape_bytes_uploaded_total",
			Help: "Bytes uploaded to the S3 store.",
		}),
		cpu: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomtape_job_cpu_seconds_total",
			Help: "Process CPU time attributed to each job kind (each second's CPU split evenly among the jobs running).",
		}, []string{"kind"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomtape_errors_total",
			Help: "Errors by kind (record, compose, upload, webhook, ...).",
		}, []string{"kind"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomtape_webhook_deliveries_total",
			Help: "Outgoing webhook attempts by result (delivered, retried, abandoned).",
		}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomtape_api_requests_total",
			Help: "API requests by status code.",
		}, []string{"code"}),
		streamFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomtape_stream_failures_total",
			Help: "Failed connections and writes of the recordings' stream outputs (RTMP, HLS).",
		}, []string{"kind"}),
		streamReconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomtape_stream_reconnects_total",
			Help: "Connections of stream outputs after their first (an RTMP target that came back).",
		}, []string{"kind"}),
		streamDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomtape_stream_dropped_packets_total",
			Help: "Packets a stream output did not send (its queue was full, or it skipped to a keyframe after a gap or a reconnection).",
		}, []string{"kind"}),
	}
	m.reg.MustRegister(m.streamFailures, m.streamReconnects, m.streamDropped)
	m.reg.MustRegister(m.participants, m.lag, m.written, m.uploaded, m.cpu, m.errors, m.webhooks, m.requests,
		&jobsCollector{c: c}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// jobsCollector reports the cached jobs by kind and state at each scrape.
type jobsCollector struct{ c *cache }

var jobsDesc = prometheus.NewDesc("roomtape_jobs", "Jobs by kind and state (all workers, from the job bucket).", []string{"kind", "state"}, nil)

func (jc *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (jc *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[Kind]map[State]int{}
	for _, k := range []Kind{KindRecord, KindCompose, KindUpload} {
		counts[k] = map[State]int{}
	}
	for _, j := range jc.c.list(nil) {
		if counts[j.Kind] != nil {
			counts[j.Kind][j.State]++
		}
	}
	for k, byState := range counts {
		for _, s := range States {
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(byState[s]), string(k), string(s))
		}
	}
}
