package netns

import (
	"io"
	"net"
	"net/netip"
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
