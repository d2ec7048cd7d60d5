package netns

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRunPattern(t *testing.T) {
	cases := []struct {
		name, want string
	}{
		{"TestA", "^TestA$"},
		{"TestA/sub_case", "^TestA$/^sub_case$"},
		{"TestA/x.y(1)", `^TestA$/^x\.y\(1\)$`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := runPattern(c.name); got != c.want {
				t.Fatalf("runPattern(%q) = %q, want %q", c.name, got, c.want)
			}
		})
	}
}

func TestEnter(t *testing.T) {
	ns := Enter(t, Config{})
	if ns == nil {
		return
	}
	if !Inside() {
		t.Fatal("Enter returned a namespace outside the child")
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, i := range ifs {
		names[i.Name] = true
	}
	// Only lo and the veth pair: the machine's own interfaces are not here.
	if len(ifs) != 3 || !names["lo"] || !names[ns.Link] || !names[ns.PeerLink] {
		t.Fatalf("interfaces in namespace: %v, want lo, %s, %s", names, ns.Link, ns.PeerLink)
	}
	if ns.Addr != DefaultAddr.Addr() || ns.PeerAddr != DefaultPeerAddr.Addr() {
		t.Fatalf("addresses %v %v", ns.Addr, ns.PeerAddr)
	}
	for _, a := range []netip.Addr{ns.Addr, ns.PeerAddr, netip.MustParseAddr("127.0.0.1")} {
		roundTrip(t, a)
	}
}

// roundTrip listens on addr and echoes one message through TCP.
func roundTrip(t *testing.T, addr netip.Addr) {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatalf("listen on %v: %v", addr, err)
	}
	defer func() { _ = ln.Close() }()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		_, _ = io.Copy(c, c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial %v: %v", ln.Addr(), err)
	}
	defer func() { _ = c.Close() }()
	msg := []byte("roomtape")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("echo via %v: %v", addr, err)
	}
}

func TestChildSkipped(t *testing.T) {
	cases := []struct {
		name, out, test, reason string
		skipped                 bool
	}{
		{"pass", "=== RUN   TestA\n--- PASS: TestA (0.01s)\nPASS\n", "TestA", "", false},
		{"skip", "=== RUN   TestA\n    a_test.go:9: no server\n--- SKIP: TestA (0.00s)\nPASS\n", "TestA", "a_test.go:9: no server", true},
		{"skip without reason", "--- SKIP: TestA (0.00s)\nPASS\n", "TestA", "no reason given", true},
		{"subtest skipped only", "=== RUN   TestA/x\n        a_test.go:9: later\n    --- SKIP: TestA/x (0.00s)\n--- PASS: TestA (0.00s)\n", "TestA", "", false},
		{"subtest's own skip", "=== RUN   TestA/x\n        a_test.go:9: later\n    --- SKIP: TestA/x (0.00s)\n--- PASS: TestA (0.00s)\n", "TestA/x", "a_test.go:9: later", true},
		{"other test", "    why\n--- SKIP: TestAB (0.00s)\n", "TestA", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reason, skipped := childSkipped(c.out, c.test)
			if skipped != c.skipped || reason != c.reason {
				t.Fatalf("childSkipped = %q, %v; want %q, %v", reason, skipped, c.reason, c.skipped)
			}
		})
	}
}

// skipperEnv makes TestSkipper's namespace child skip.
const skipperEnv = "ROOMTAPE_NETNS_TEST_SKIPPER"

// TestSkipper is run by TestEnterChildSkipIsSkip as a helper process.
func TestSkipper(t *testing.T) {
	if os.Getenv(skipperEnv) == "" {
		t.Skip("helper process of TestEnterChildSkipIsSkip")
	}
	if Enter(t, Config{}) == nil {
		return
	}
	t.Skip("the part this test needs is missing")
}

// TestEnterChildSkipIsSkip checks that a test whose namespace child skipped
// is reported as skipped, with the child's reason, not as passed.
func TestEnterChildSkipIsSkip(t *testing.T) {
	if err := Available(); err != nil {
		requireOrSkip(t, err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, "-test.run", "^TestSkipper$", "-test.v", "-test.count", "1")
	cmd.Env = append(os.Environ(), skipperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- SKIP: TestSkipper") || !strings.Contains(string(out), "the part this test needs is missing") {
		t.Fatalf("the parent did not report the child's skip:\n%s", out)
	}
	if strings.Contains(string(out), "--- PASS: TestSkipper") {
		t.Fatalf("the parent passed although its child skipped:\n%s", out)
	}
}

// requireOrSkip fails t under ROOMTAPE_REQUIRE_NETNS=1, else skips it.
func requireOrSkip(t *testing.T, err error) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%v (%s=1)", err, requireEnv)
	}
	t.Skipf("%v", err)
}

func TestEnterTmpfs(t *testing.T) {
	const size = 256 << 10
	dir := EnterTmpfs(t, size)
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	buf := make([]byte, 32<<10)
	written := 0
	for written <= 2*size {
		n, err := f.Write(buf)
		written += n
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("write: %v, want ENOSPC", err)
			}
			if written > size {
				t.Fatalf("wrote %d bytes into a %d-byte file system", written, size)
			}
			return
		}
	}
	t.Fatalf("wrote %d bytes without ENOSPC", written)
}
