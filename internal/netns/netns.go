// Package netns runs a test inside a private network namespace of its own,
// so that WebRTC stacks that leave loopback out of ICE (Chromium, the
// LiveKit SDK) still have a non-loopback address to use, and no packet
// reaches the machine's real interfaces. [EnterTmpfs] likewise runs a test
// in a private mount namespace with a small file system, to fill a disk.
//
// [Enter] re-executes the test binary, restricted to the calling test,
// under `unshare -rn` (a user namespace mapping the caller to root, plus a
// new network namespace; no real root needed). Inside, it brings up lo and
// a veth pair whose two ends carry private addresses that exist only in
// that namespace (10.213.0.1/24 and 10.213.0.2/24 by default). Every
// process the child test starts (a browser, a server) inherits the
// namespace.
//
//	func TestBrowser(t *testing.T) {
//		ns := netns.Enter(t, netns.Config{})
//		if ns == nil {
//			return // the test ran in the namespace child; its result is ours
//		}
//		// Here: lo is up, ns.Addr and ns.PeerAddr are usable addresses.
//	}
package netns

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// childEnv marks the namespace child; its value is the test it runs.
const childEnv = "ROOMTAPE_NETNS_CHILD"

// requireEnv, when set to 1, turns a missing namespace facility into a test
// failure instead of a skip (CI sets it where unshare is known to work).
const requireEnv = "ROOMTAPE_REQUIRE_NETNS"

// ErrUnavailable is returned by [Available] when this machine cannot create
// an unprivileged user and network namespace.
var ErrUnavailable = errors.New("netns: unprivileged network namespaces unavailable")

// Default addresses of the veth pair.
var (
	DefaultAddr     = netip.MustParsePrefix("10.213.0.1/24")
	DefaultPeerAddr = netip.MustParsePrefix("10.213.0.2/24")
)

// Config describes the namespace. The zero value works.
type Config struct {
	// Link (optional) defaults to "rt0".
	Link string
	// PeerLink (optional) defaults to "rt1".
	PeerLink string
	// Addr (optional) defaults to DefaultAddr; assigned to Link.
	Addr netip.Prefix
	// PeerAddr (optional) defaults to DefaultPeerAddr; assigned to PeerLink.
	PeerAddr netip.Prefix
}

func (c Config) withDefaults() Config {
	if c.Link == "" {
		c.Link = "rt0"
	}
	if c.PeerLink == "" {
		c.PeerLink = "rt1"
	}
	if !c.Addr.IsValid() {
		c.Addr = DefaultAddr
	}
	if !c.PeerAddr.IsValid() {
		c.PeerAddr = DefaultPeerAddr
	}
	return c
}

// Namespace is the network the child test runs in.
type Namespace struct {
	// Addr is the address of the first veth end; bind servers here.
	Addr netip.Addr
	// PeerAddr is the address of the other end.
	PeerAddr netip.Addr
	// Link and PeerLink are the interface names.
	Link, PeerLink string
}

var (
	availOnce sync.Once
	availErr  error
)

// Available reports whether `unshare -rn` works here; the error wraps
// [ErrUnavailable] and says why.
func Available() error {
	availOnce.Do(func() {
		if _, err := exec.LookPath("unshare"); err != nil {
			availErr = fmt.Errorf("%w: %w", ErrUnavailable, err)
			return
		}
		if _, err := exec.LookPath("ip"); err != nil {
			availErr = fmt.Errorf("%w: %w (install iproute2)", ErrUnavailable, err)
			return
		}
		out, err := exec.Command("unshare", "-rn", "ip", "link", "set", "lo", "up").CombinedOutput()
		if err != nil {
			availErr = fmt.Errorf("%w: unshare -rn: %w: %s", ErrUnavailable, err, bytes.TrimSpace(out))
		}
	})
	return availErr
}

// Inside reports whether the process is a namespace child made by [Enter].
func Inside() bool { return os.Getenv(childEnv) != "" }

// Enter makes the calling test run inside a private network namespace.
//
// Called in the parent test process, it re-executes the test binary under
// `unshare -rn`, restricted to t's full name, relays the child's output
// through t.Log, fails t if the child failed, and returns nil: the caller
// must then return at once. Called in that child, it configures lo and the
// veth pair and returns the [Namespace].
//
// When namespaces are unavailable the test is skipped, or failed when the
// environment variable ROOMTAPE_REQUIRE_NETNS=1 is set.
func Enter(tb testing.TB, cfg Config) *Namespace {
	tb.Helper()
	t := tb
	cfg = cfg.withDefaults()
	if Inside() {
		if got := os.Getenv(childEnv); got != t.Name() {
			t.Fatalf("netns: child made for %q but Enter called by %q", got, t.Name())
		}
		ns, err := setup(cfg)
		if err != nil {
			t.Fatalf("netns: %v", err)
		}
		return ns
	}
	if err := Available(); err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%v (%s=1)", err, requireEnv)
		}
		t.Skipf("%v", err)
	}
	reexec(t, "-rn")
	return nil
}

// mountAvail caches whether `unshare -rm` can mount a tmpfs.
var (
	mountOnce sync.Once
	mountErr  error
)

// availableMount reports whether `unshare -rm` can mount a tmpfs here.
func availableMount() error {
	mountOnce.Do(func() {
		for _, bin := range []string{"unshare", "mount", "umount"} {
			if _, err := exec.LookPath(bin); err != nil {
				mountErr = fmt.Errorf("%w: %w", ErrUnavailable, err)
				return
			}
		}
		out, err := exec.Command("unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", os.TempDir()).CombinedOutput()
		if err != nil {
			mountErr = fmt.Errorf("%w: unshare -rm mount -t tmpfs: %w: %s", ErrUnavailable, err, bytes.TrimSpace(out))
		}
	})
	return mountErr
}

// EnterTmpfs makes the calling test run inside a private mount namespace
// with a file system of its own that holds at most size bytes: a test of
// what happens when the disk is full (ENOSPC).
//
// Like [Enter], called in the parent test process it re-executes the test
// binary, here under `unshare -rm` (a user namespace mapping the caller to
// root, plus a new mount namespace), relays the child's result and returns
// "": the caller must then return at once. Called in that child, it mounts
// a tmpfs of size bytes on a new temporary directory, unmounted when the
// test ends, and returns that directory. The machine's file systems are
// untouched; the network is the machine's (nothing here needs one).
//
// When mount namespaces are unavailable the test is skipped, or failed when
// ROOMTAPE_REQUIRE_NETNS=1 is set.
func EnterTmpfs(tb testing.TB, size int64) string {
	tb.Helper()
	t := tb
	if Inside() {
		if got := os.Getenv(childEnv); got != t.Name() {
			t.Fatalf("netns: child made for %q but EnterTmpfs called by %q", got, t.Name())
		}
		dir := t.TempDir()
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
			t.Fatalf("netns: mount tmpfs on %s: %v: %s", dir, err, bytes.TrimSpace(out))
		}
		// Registered after TempDir's removal, so it runs before it.
		t.Cleanup(func() {
			if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
				t.Errorf("netns: umount %s: %v: %s", dir, err, bytes.TrimSpace(out))
			}
		})
		return dir
	}
	if err := availableMount(); err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%v (%s=1)", err, requireEnv)
		}
		t.Skipf("%v", err)
	}
	reexec(t, "-rm")
	return ""
}

// runPattern is a -test.run pattern that matches exactly the test name
// (subtests included, one anchored element per level).
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// killGrace is how long the child gets to finish after the parent's
// deadline before it is killed: enough to print its failure.
const killGrace = 5 * time.Second

// reexec runs t alone in a child test process under `unshare flags` and
// makes t's result the child's: failed if it failed or ran nothing,
// skipped (with the child's reason) if it skipped.
func reexec(tb testing.TB, flags string) {
	tb.Helper()
	t := tb
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	// -test.v always: the child's "--- SKIP" line tells a skip from a
	// pass, which its exit status does not.
	args := []string{flags, exe, "-test.run", runPattern(t.Name()), "-test.count", "1", "-test.v"}
	ctx := t.Context()
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			args = append(args, "-test.timeout", time.Until(dl).Round(time.Second).String())
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl.Add(killGrace))
			defer cancel()
		}
	}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	runErr := cmd.Run()
	// Read before the scanner below drains the buffer.
	childOut := out.String()
	// Prefix the child's lines so that test2json does not take its
	// "--- PASS" lines for ours.
	var b strings.Builder
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		b.WriteString("│ ")
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	t.Logf("netns child (%s):\n%s", t.Name(), b.String())
	if runErr != nil {
		t.Fatalf("netns: child test failed: %v", runErr)
	}
	if strings.Contains(childOut, "testing: warning: no tests to run") {
		t.Fatalf("netns: child ran no test for pattern %q", runPattern(t.Name()))
	}
	if reason, skipped := childSkipped(childOut, t.Name()); skipped {
		t.Skipf("netns: child test skipped: %s", reason)
	}
}

// childSkipped reports whether the verbose test output out says that the
// test named name skipped, and the reason it logged: go test -v streams a
// test's log lines, indented under it, before its "--- SKIP" line.
func childSkipped(out, name string) (reason string, skipped bool) {
	lines := strings.Split(out, "\n")
	indentOf := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
	for i, l := range lines {
		tl := strings.TrimSpace(l)
		if tl != "--- SKIP: "+name && !strings.HasPrefix(tl, "--- SKIP: "+name+" (") {
			continue
		}
		var r []string
		for j := i - 1; j >= 0; j-- {
			m := lines[j]
			if indentOf(m) <= indentOf(l) || strings.HasPrefix(strings.TrimSpace(m), "=== ") {
				break
			}
			r = append([]string{strings.TrimSpace(m)}, r...)
		}
		if len(r) == 0 {
			r = []string{"no reason given"}
		}
		return strings.Join(r, "; "), true
	}
	return "", false
}

// setup brings up lo and the veth pair; it runs inside the namespace.
func setup(cfg Config) (*Namespace, error) {
	cmds := [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", cfg.Link, "type", "veth", "peer", "name", cfg.PeerLink},
		{"addr", "add", cfg.Addr.String(), "dev", cfg.Link},
		{"addr", "add", cfg.PeerAddr.String(), "dev", cfg.PeerLink},
		{"link", "set", cfg.Link, "up"},
		{"link", "set", cfg.PeerLink, "up"},
	}
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip %s: %w: %s", strings.Join(c, " "), err, bytes.TrimSpace(out))
		}
	}
	ns := &Namespace{Addr: cfg.Addr.Addr(), PeerAddr: cfg.PeerAddr.Addr(), Link: cfg.Link, PeerLink: cfg.PeerLink}
	return ns, nil
}
