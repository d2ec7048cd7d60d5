package netns

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Bridge is a switch inside the namespace child of [Enter], with hosts
// plugged into it: each [Host] is a network namespace of its own (its own
// lo and one address), so that a test runs "machines" that reach each
// other only through the bridge, and a host's link can be cut (a
// partition) and mended. The child test itself (the parent of the hosts)
// has the bridge's address. Nothing reaches the machine's interfaces.
type Bridge struct {
	// Name is the bridge interface; Addr its address in the child.
	Name string
	Addr netip.Prefix
}

// hostReady bounds the wait for a host's namespace to exist.
const hostReady = 5 * time.Second

// NewBridge creates bridge name with address addr in the namespace child
// (call it after [Enter] returned a namespace).
func NewBridge(tb testing.TB, name string, addr netip.Prefix) *Bridge {
	tb.Helper()
	if !Inside() {
		tb.Fatalf("netns: NewBridge outside a namespace child")
	}
	for _, c := range [][]string{
		{"link", "add", name, "type", "bridge"},
		{"addr", "add", addr.String(), "dev", name},
		{"link", "set", name, "up"},
	} {
		if err := ip(c...); err != nil {
			tb.Fatalf("netns: %v", err)
		}
	}
	return &Bridge{Name: name, Addr: addr}
}

// Host is a network namespace plugged into a [Bridge] by a veth pair.
type Host struct {
	// Name names the host (and its veth ends: Name and Name+"p").
	Name string
	// Addr is the host's address.
	Addr netip.Addr
	// holder keeps the namespace alive; its PID names it.
	holder *exec.Cmd
}

// AddHost creates a host with address addr (in the bridge's subnet) and
// lo up; it lives until the test ends. name must be a valid interface
// name of at most 14 bytes.
func (b *Bridge) AddHost(tb testing.TB, name string, addr netip.Prefix) *Host {
	tb.Helper()
	// The holder: a process in a new network namespace, owned by the
	// child's user namespace (so that this process may enter it).
	holder := exec.Command("unshare", "-n", "sleep", "86400")
	if err := holder.Start(); err != nil {
		tb.Fatalf("netns: host %s: %v", name, err)
	}
	h := &Host{Name: name, Addr: addr.Addr(), holder: holder}
	tb.Cleanup(func() {
		_ = holder.Process.Kill()
		_ = holder.Wait()
	})
	pid := strconv.Itoa(holder.Process.Pid)
	self, _ := os.Readlink("/proc/self/ns/net")
	deadline := time.Now().Add(hostReady)
	for {
		ns, err := os.Readlink("/proc/" + pid + "/ns/net")
		if err == nil && ns != self {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("netns: host %s: no namespace of its own after %v", name, hostReady)
		}
		time.Sleep(10 * time.Millisecond)
	}
	peer := name + "p"
	for _, c := range [][]string{
		{"link", "add", name, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", pid},
		{"link", "set", name, "master", b.Name},
		{"link", "set", name, "up"},
	} {
		if err := ip(c...); err != nil {
			tb.Fatalf("netns: host %s: %v", name, err)
		}
	}
	for _, c := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", addr.String(), "dev", peer},
		{"link", "set", peer, "up"},
	} {
		if out, err := h.Command(context.Background(), "ip", c...).CombinedOutput(); err != nil {
			tb.Fatalf("netns: host %s: ip %s: %v: %s", name, strings.Join(c, " "), err, bytes.TrimSpace(out))
		}
	}
	return h
}

// Command is exec.CommandContext running name inside the host's
// namespace (through nsenter, which execs it: the process's PID is
// name's own, so that a signal reaches it).
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	all := append([]string{"--net=/proc/" + strconv.Itoa(h.holder.Process.Pid) + "/ns/net", "--", name}, args...)
	return exec.CommandContext(ctx, "nsenter", all...)
}

// SetLink brings the host's link to the bridge down (a partition: no
// packet in or out) or up again.
func (h *Host) SetLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ip("link", "set", h.Name, state)
}

func ip(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
