package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// childEnv makes the test binary run main() instead of the tests, so that
// the tests drive the real program (flags, signals, exit code) without a
// separate build.
const childEnv = "ROOMTAPE_BOT_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Timing of the signal tests.
const (
	recordFor   = 4 * time.Second  // of publishing before the first signal
	exitTimeout = 60 * time.Second // for the bot to finish after it
	// leaveTolerance: the participant leaves when the signal is handled;
	// session.json must say so within this (signal delivery, closing the
	// peer connection, the race detector).
	leaveTolerance = 1500 * time.Millisecond
)

// botProc is the program under test, running as a child process.
type botProc struct {
	cmd    *exec.Cmd
	dir    string
	mu     sync.Mutex
	stdout strings.Builder
	lines  chan string
}

var whipURL = regexp.MustCompile(`Recording WHIP publishers at (http://\S+)`)

// startBot runs the bot in WHIP mode on 127.0.0.1 with extra args.
func startBot(t *testing.T, args ...string) *botProc {
	t.Helper()
	b := &botProc{dir: t.TempDir(), lines: make(chan string, 100)}
	args = append([]string{
		"--whip-listen", "127.0.0.1:0", "--ice-loopback", "--idle-timeout", "1h",
		"--recordings-dir", b.dir, "--env-file", "",
	}, args...)
	b.cmd = exec.Command(os.Args[0], args...)
	b.cmd.Env = append(os.Environ(), childEnv+"=1")
	b.cmd.Stderr = &logWriter{t: t}
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b.cmd.ProcessState == nil {
			_ = b.cmd.Process.Kill()
			_ = b.cmd.Wait()
		}
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			b.mu.Lock()
			b.stdout.WriteString(sc.Text() + "\n")
			b.mu.Unlock()
			select {
			case b.lines <- sc.Text():
			default:
			}
		}
		close(b.lines)
	}()
	return b
}

// waitLine waits for a stdout line matching re and returns its submatches.
func (b *botProc) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(exitTimeout)
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				t.Fatalf("bot stdout ended before %q:\n%s", re, b.out())
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("no line %q in %v:\n%s", re, exitTimeout, b.out())
		}
	}
}

func (b *botProc) out() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stdout.String()
}

// wait waits for the bot to exit and returns its exit code.
func (b *botProc) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(exitTimeout):
		t.Fatalf("bot did not exit in %v:\n%s", exitTimeout, b.out())
		return -1
	}
}

// session returns the one recorded session.
func (b *botProc) session(t *testing.T) *manifest.Session {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(b.dir, "*", "session.json"))
	if len(files) != 1 {
		t.Fatalf("session.json files: %v", files)
	}
	m, err := manifest.Load(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// publish connects a synthetic participant to the bot.
func publish(t *testing.T, url string) *synth.Publisher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pub, err := synth.Publish(ctx, url, synth.Participant{Name: "Synth", Width: 320, Height: 180})
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// recordThenSignal starts the bot with args, publishes a synthetic
// participant to it for recordFor, then sends SIGINT (at sent).
func recordThenSignal(t *testing.T, args ...string) (b *botProc, pub *synth.Publisher, sent time.Time) {
	t.Helper()
	b = startBot(t, args...)
	pub = publish(t, b.waitLine(t, whipURL)[1])
	time.Sleep(recordFor)
	sent = time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	return b, pub, sent
}

// TestSignalFinishes: the first SIGINT ends the recording cleanly —
// the publisher is made to leave, session.json is final, the composition
// runs, and the bot exits 0.
func TestSignalFinishes(t *testing.T) {
	if testing.Short() {
		t.Skip("records a session")
	}
	b, pub, sent := recordThenSignal(t, "--width", "320", "--height", "180", "--preset", "ultrafast")
	if code := b.wait(t); code != 0 {
		t.Fatalf("exit code %d after one SIGINT:\n%s", code, b.out())
	}
	_ = pub.Close(context.Background()) // the bot already ended it
	for _, want := range []string{"Step 1 done in ", "Composition done in ", "DONE — total post-processing: "} {
		if !strings.Contains(b.out(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, b.out())
		}
	}
	m := b.session(t)
	if len(m.Participants) != 1 {
		t.Fatalf("participants %+v", m.Participants)
	}
	p := m.Participants[0]
	started, err := time.Parse(time.RFC3339Nano, m.StartedAt)
	if err != nil {
		t.Fatal(err)
	}
	if leave := started.Add(manifest.FromSeconds(p.LeaveTimeS)); leave.Sub(sent).Abs() > leaveTolerance {
		t.Errorf("leave recorded at %v, SIGINT sent at %v", leave, sent)
	}
	out := filepath.Join(b.dir, m.SessionID, m.SessionID+"_recording.mp4")
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Errorf("composed output %s: %v", out, err)
	}
}

// TestSecondSignalAborts: a second SIGINT during composition aborts it:
// the bot exits non-zero, every recorded file and session.json are kept,
// and no (partial) output is left under the final name.
func TestSecondSignalAborts(t *testing.T) {
	if testing.Short() {
		t.Skip("records a session")
	}
	// A slow composition, so that the second signal lands in it.
	b, pub, _ := recordThenSignal(t, "--width", "1280", "--height", "720", "--preset", "veryslow")
	b.waitLine(t, regexp.MustCompile(`^Step 1 done in`))
	if err := b.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(t); code == 0 {
		t.Fatalf("exit code 0 after two SIGINTs:\n%s", b.out())
	}
	_ = pub.Close(context.Background())
	if !strings.Contains(b.out(), "Composition failed; recording kept in ") {
		t.Errorf("stdout does not say the recording is kept:\n%s", b.out())
	}
	m := b.session(t)
	for _, p := range m.Participants {
		for _, f := range []string{p.VideoPath, p.AudioPath} {
			if st, err := os.Stat(f); err != nil || st.Size() == 0 {
				t.Errorf("recorded file %s: %v", f, err)
			}
		}
	}
	// No composed MP4; the live composition's partial file is kept (as
	// after a crash) for examples/compose --finalize, nothing else.
	left, _ := filepath.Glob(filepath.Join(b.dir, m.SessionID, "*.mp4*"))
	for _, f := range left {
		if !strings.HasSuffix(f, ".part.mp4") {
			t.Errorf("output file left after the abort: %s", f)
		}
	}
}

// logWriter relays the child's stderr to the test log.
type logWriter struct{ t *testing.T }

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = (*logWriter)(nil)
