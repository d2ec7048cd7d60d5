package s3

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Defaults of Config.
const (
	// DefaultPartSize is the multipart part size: large enough for
	// throughput, small enough that Concurrency+1 buffers stay modest.
	DefaultPartSize = 8 << 20
	// MinPartSize is S3's smallest allowed part (except the last one).
	MinPartSize = 5 << 20
	// MaxParts is S3's largest number of parts in one upload.
	MaxParts = 10000
	// DefaultConcurrency is how many parts upload at once.
	DefaultConcurrency = 4
	// DefaultMaxAttempts is how many times a request or part is tried.
	DefaultMaxAttempts = 5
	// DefaultMaxBackoff caps the delay between two attempts.
	DefaultMaxBackoff = 10 * time.Second
	// DefaultTimeout bounds one attempt of an upload request and the wait
	// for a response or for more data on a connection.
	DefaultTimeout = 5 * time.Minute
	// DefaultRegion is used when neither Config nor the AWS chain name one.
	DefaultRegion = "us-east-1"
)

// Addressing selects how the bucket appears in request URLs.
type Addressing int

// Addressing styles.
const (
	// AddressingAuto uses path style with a custom Endpoint (S3-compatible
	// servers) and virtual-hosted style on AWS.
	AddressingAuto Addressing = iota
	// AddressingPath puts the bucket in the path: https://host/bucket/key.
	AddressingPath
	// AddressingVirtualHost puts the bucket in the host name:
	// https://bucket.host/key.
	AddressingVirtualHost
)

// Config configures a Store. Only Bucket is required.
type Config struct {
	// Bucket is the bucket objects are stored in. Required.
	Bucket string
	// Region is the bucket's region. (optional) defaults to the AWS chain's
	// (AWS_REGION, shared config), else DefaultRegion.
	Region string
	// Endpoint is the base URL of an S3-compatible server, e.g.
	// "http://127.0.0.1:7070". (optional) defaults to the AWS chain's
	// (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL), else AWS.
	Endpoint string
	// Addressing selects path or virtual-hosted style. (optional) defaults
	// to AddressingAuto.
	Addressing Addressing
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials.
	// (optional) default to the standard AWS credential chain
	// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, shared files, SSO, IMDS...).
	AccessKeyID, SecretAccessKey, SessionToken string
	// BaseURL, when set, is joined with keys by URL: a CDN in front of the
	// bucket (the prototype's BASE_CDN_URL). (optional) defaults to "", the
	// bucket's own URL.
	BaseURL string

	// PartSize is the size of multipart parts, and the largest object
	// uploaded with a single request. Raised to MinPartSize if lower, and
	// raised as needed to fit PutOptions.Size in MaxParts parts.
	// (optional) defaults to DefaultPartSize.
	PartSize int64
	// Concurrency is how many parts upload at once; memory use is about
	// (Concurrency+1)*PartSize per Put. (optional) defaults to
	// DefaultConcurrency.
	Concurrency int
	// MaxAttempts is how many times a request or part is tried before Put
	// fails. (optional) defaults to DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff caps the exponential, jittered delay between attempts.
	// (optional) defaults to DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Timeout bounds each attempt of an upload request, and how long any
	// request waits for response data. (optional) defaults to
	// DefaultTimeout.
	Timeout time.Duration
	// SkipBucketCheck skips the request New makes to fail early on an
	// unreachable server, a missing bucket or unknown credentials.
	// (optional) defaults to false.
	SkipBucketCheck bool

	// Logger receives the store's messages and the SDK's. Credentials,
	// signatures and tokens are redacted from both. (optional) defaults to
	// discarding.
	Logger *slog.Logger
	// SDKLogMode selects what the AWS SDK logs (at debug level) to Logger,
	// e.g. aws.LogRetries|aws.LogRequest. (optional) defaults to
	// aws.LogRetries.
	SDKLogMode aws.ClientLogMode
}

// Environment variables read by ConfigFromEnv: the prototype's, and
// S3_ENDPOINT for an S3-compatible server.
const (
	EnvBucket   = "S3_BUCKET"
	EnvBaseURL  = "BASE_CDN_URL"
	EnvEndpoint = "S3_ENDPOINT"
)

// ErrNoBucket means no bucket was configured.
var ErrNoBucket = errors.New("s3: no bucket configured")

// ConfigFromEnv returns the Config of the prototype's environment:
// S3_BUCKET (required), BASE_CDN_URL and S3_ENDPOINT (optional). Region,
// credentials and, without S3_ENDPOINT, the endpoint are left to the AWS
// chain, which reads AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL among others.
func ConfigFromEnv() (Config, error) {
	cfg := Config{Bucket: os.Getenv(EnvBucket), BaseURL: os.Getenv(EnvBaseURL), Endpoint: os.Getenv(EnvEndpoint)}
	if cfg.Bucket == "" {
		return cfg, fmt.Errorf("%w: set %s", ErrNoBucket, EnvBucket)
	}
	return cfg, nil
}

// withDefaults returns cfg with its defaults filled in.
func (cfg Config) withDefaults() Config {
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	cfg.PartSize = max(cfg.PartSize, MinPartSize)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.SDKLogMode == 0 {
		cfg.SDKLogMode = aws.LogRetries
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}
