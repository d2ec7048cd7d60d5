// Package s3test starts a real S3 server for tests: versitygw with its
// posix backend, on 127.0.0.1, storing into a temporary directory, with
// test credentials. The server is stopped when the test ends.
//
// The versitygw binary is found through $ROOMTAPE_VERSITYGW (set by the
// Makefile after scripts/setup.sh installs it), else on $PATH. When it is
// nowhere, Start skips the test with a loud reason; when
// $ROOMTAPE_VERSITYGW names a missing file, Start fails it.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/roomtape/roomtape/internal/syncbuf"
)

// EnvBinary names the versitygw binary to run.
const EnvBinary = "ROOMTAPE_VERSITYGW"

// EnvRequire names the variable that, set to 1 (as `make test` does), fails tests that need
// versitygw when it is missing instead of skipping them.
const EnvRequire = "ROOMTAPE_REQUIRE_S3"

// Test server parameters.
const (
	Region = "us-east-1"
	// startTimeout bounds how long the server may take to accept
	// connections: it starts in well under a second, but the machine may be
	// busy with builds.
	startTimeout = 20 * time.Second
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:port.
	Endpoint string
	// AccessKeyID and SecretAccessKey are the root credentials, random
	// for each server.
	AccessKeyID, SecretAccessKey string
	// Dir is the posix backend's directory: one subdirectory per bucket.
	Dir string

	t      testing.TB
	bin    string
	addr   string
	iamDir string
	mu     sync.Mutex
	cmd    *exec.Cmd
	output *Buffer
	done   chan struct{}
}

// Binary returns the path of the versitygw binary, or skips (binary not
// installed) or fails (ROOMTAPE_VERSITYGW set but wrong) t.
func Binary(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv(EnvBinary); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			tb.Fatalf("s3test: %s=%s: %v (run scripts/setup.sh)", EnvBinary, bin, err)
		}
		return bin
	}
	bin, err := exec.LookPath("versitygw")
	if err != nil && os.Getenv(EnvRequire) == "1" {
		tb.Fatalf("s3test: versitygw is not installed (%s is empty and versitygw is not on PATH; %s=1); run scripts/setup.sh", EnvBinary, EnvRequire)
	}
	if err != nil {
		tb.Skipf("s3test: SKIPPING S3 TESTS: versitygw is not installed (%s is empty and versitygw is not on PATH); "+
			"run scripts/setup.sh or `make test`, which set %s", EnvBinary, EnvBinary)
	}
	return bin
}

// Options tune StartWith. The zero value is Start's server.
type Options struct {
	// IAM enables versitygw's internal IAM, so that CreateUser can add
	// users besides the root one. (optional) defaults to false: single
	// account mode.
	IAM bool
	// Host (optional) is the address to listen on; defaults to
	// 127.0.0.1 (a test with network namespaces gives its bridge's).
	Host string
}

// Start starts a server for the duration of the test.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, Options{})
}

// StartWith starts a server with opts for the duration of the test.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := &Server{
		t:               tb,
		bin:             Binary(tb),
		Dir:             tb.TempDir(),
		AccessKeyID:     "RT" + randomHex(9),
		SecretAccessKey: randomHex(20),
	}
	if opts.IAM {
		s.iamDir = tb.TempDir()
	}
	// A free port can be taken by another process before the server binds
	// it: try a few.
	var err error
	for range startTries {
		if s.addr, err = freePort(opts.Host); err != nil {
			tb.Fatalf("s3test: %v", err)
		}
		s.Endpoint = "http://" + s.addr
		if err = s.start(); err == nil {
			tb.Cleanup(s.Stop)
			return s
		}
		tb.Logf("s3test: %v; trying another port", err)
	}
	tb.Fatalf("s3test: %v", err)
	return nil
}

// startTries is how many ports StartWith tries.
const startTries = 3

// freePort returns an address of host (default 127.0.0.1) with a port that
// was free.
func freePort(host string) (string, error) {
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	return ln.Addr().String(), ln.Close()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails.
	return hex.EncodeToString(b)
}

// Restart starts the server again after Stop, on the same address and
// directory. It returns once the server accepts connections.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("s3test: %v", err)
	}
}

// answers reports whether the server at s.addr accepts s's credentials.
func (s *Server) answers() bool {
	c, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = s.Client().ListBuckets(ctx, &awss3.ListBucketsInput{}, func(o *awss3.Options) { o.RetryMaxAttempts = 1 })
	return err == nil
}

// start runs the server and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("start while the server runs")
	}
	s.output = &Buffer{}
	args := []string{"--port", s.addr, "--access", s.AccessKeyID, "--secret", s.SecretAccessKey, "--region", Region, "--quiet"}
	if s.iamDir != "" {
		args = append(args, "--iam-dir", s.iamDir)
	}
	cmd := exec.Command(s.bin, append(args, "posix", s.Dir)...)
	cmd.Env = append(cleanEnv(), "HOME="+s.Dir)
	cmd.Stdout, cmd.Stderr = s.output, s.output
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	deadline := time.Now().Add(startTimeout)
	for {
		// Ready when the server answers a request signed with its own
		// credentials: another server that took the port would refuse it.
		if s.answers() {
			select {
			case <-done:
				return fmt.Errorf("versitygw exited at start: %s", s.output)
			default:
			}
			s.cmd, s.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("versitygw exited at start: %s", s.output)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("versitygw does not accept connections on %s after %s: %s", s.addr, startTimeout, s.output)
		}
	}
}

// cleanEnv is the environment without the variables that configure
// versitygw or AWS clients, so that the host's settings cannot leak in.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if hasAnyPrefix(kv, "VGW_", "ROOT_", "AWS_", "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}

// Stop kills the server, as a crash or a lost network would, and waits for
// it to exit. Calling it when the server is stopped does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Pause freezes the server (SIGSTOP): connections stay open, nothing
// answers. It returns once every thread of the server is stopped. Resume
// undoes it.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP)
	s.mu.Lock()
	pid := s.cmd.Process.Pid
	s.mu.Unlock()
	if err := waitStopped(pid, startTimeout); err != nil {
		s.t.Fatalf("s3test: pause: %v", err)
	}
}

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("s3test: signal %v: server not running", sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("s3test: signal %v: %v", sig, err)
	}
}

// CreateUser adds a user with the "user" role (no access to buckets it
// does not own, unless a bucket policy grants it) and returns its
// credentials. The server must have been started with Options.IAM.
func (s *Server) CreateUser(tb testing.TB) (accessKeyID, secretAccessKey string) {
	tb.Helper()
	if s.iamDir == "" {
		tb.Fatal("s3test: CreateUser needs a server started with Options{IAM: true}")
	}
	accessKeyID, secretAccessKey = "RTU"+randomHex(8), randomHex(20)
	cmd := exec.Command(s.bin, "admin", "--access", s.AccessKeyID, "--secret", s.SecretAccessKey,
		"--endpoint-url", s.Endpoint, "--region", Region,
		"create-user", "--access", accessKeyID, "--secret", secretAccessKey, "--role", "user")
	cmd.Env = append(cleanEnv(), "HOME="+s.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("s3test: create user: %v: %s", err, out)
	}
	return accessKeyID, secretAccessKey
}

// Client returns an SDK client with the root credentials, for setting up
// and inspecting the server independently of the code under test.
func (s *Server) Client() *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""),
	})
}

// CreateBucket creates a bucket with a fresh name and returns the name.
func (s *Server) CreateBucket(tb testing.TB) string {
	tb.Helper()
	name := "rt-" + randomHex(6)
	if _, err := s.Client().CreateBucket(context.WithoutCancel(tb.Context()), &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("s3test: create bucket: %v", err)
	}
	return name
}

// Uploads returns the keys of the multipart uploads in progress in bucket.
func (s *Server) Uploads(tb testing.TB, bucket string) []string {
	tb.Helper()
	out, err := s.Client().ListMultipartUploads(context.WithoutCancel(tb.Context()), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		tb.Fatalf("s3test: list multipart uploads: %v", err)
	}
	keys := make([]string, 0, len(out.Uploads))
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// String describes the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("versitygw at %s (dir %s)", s.Endpoint, s.Dir) }

// Buffer is a bytes.Buffer safe for concurrent writers: the server's
// output, or the logs of code under test.
type Buffer = syncbuf.Buffer
