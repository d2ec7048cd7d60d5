package avlog

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/asticode/go-astiav"
)

func testLogger(name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(&strings.Builder{}, nil)).With("owner", name)
}

// TestPointer: the address read from Class().String() is the one go-astiav
// exports for codec contexts, and that of each kind of context.
func TestPointer(t *testing.T) {
	cc := astiav.AllocCodecContext(nil)
	defer cc.Free()
	if got, want := parsePointer(cc.Class().String()), uintptr(cc.UnsafePointer()); got != want || got == 0 {
		t.Errorf("parsed %#x from %q, want %#x", got, cc.Class().String(), want)
	}
	fc := astiav.AllocFormatContext()
	defer fc.Free()
	fg := astiav.AllocFilterGraph()
	defer fg.Free()
	for _, c := range []astiav.Classer{cc, fc, fg} {
		if Pointer(c) == 0 {
			t.Errorf("no pointer for %s", c.Class())
		}
	}
}

// TestSet: registered contexts resolve to their owner's logger until
// released; a release leaves an address another owner registered since.
func TestSet(t *testing.T) {
	a, b := testLogger("a"), testLogger("b")
	cc := astiav.AllocCodecContext(nil)
	defer cc.Free()
	fc := astiav.AllocFormatContext()
	defer fc.Free()
	n := Len()
	var sa, sb Set
	sa.Add(cc, a)
	sa.Add(fc, a)
	sa.Add(fc, slog.New(slog.DiscardHandler)) // ignored: a logger nobody reads
	if Lookup([2]uintptr{Pointer(cc)}) != a || Lookup([2]uintptr{0, Pointer(fc)}) != a {
		t.Fatal("registered contexts do not resolve to their owner")
	}
	if Len() != n+2 {
		t.Errorf("%d contexts registered, want %d", Len(), n+2)
	}
	// fc's address taken over by b (as a freed and reallocated context
	// would be): a's release leaves it to b.
	sb.Add(fc, b)
	sa.Release()
	sa.Release()
	if Lookup([2]uintptr{Pointer(cc)}) != nil {
		t.Error("a released context still resolves")
	}
	if Lookup([2]uintptr{Pointer(fc)}) != b {
		t.Error("a's release removed b's registration")
	}
	sb.Release()
	if Len() != n {
		t.Errorf("%d contexts left, want %d", Len(), n)
	}
	if Lookup([2]uintptr{}) != nil {
		t.Error("no key resolved")
	}
}

// TestMaxContexts: the registry holds at most MaxContexts; beyond, a
// registration is refused and counted.
func TestMaxContexts(t *testing.T) {
	var s Set
	defer s.Release()
	log := testLogger("many")
	var ccs []*astiav.CodecContext
	defer func() {
		for _, cc := range ccs {
			cc.Free()
		}
	}()
	before := Refused()
	for Len() < MaxContexts+1 && len(ccs) < MaxContexts+10 {
		cc := astiav.AllocCodecContext(nil)
		ccs = append(ccs, cc)
		s.Add(cc, log)
	}
	if Len() > MaxContexts {
		t.Errorf("%d contexts registered, bound %d", Len(), MaxContexts)
	}
	if Refused() == before {
		t.Error("no registration refused beyond the bound")
	}
}

func FuzzParsePointer(f *testing.F) {
	f.Add("libx264 [AVCodecContext] @ 0xc0ffee", uint64(0x7f0012345678))
	f.Add(" @ 0x", uint64(0))
	f.Add("a @ 0x1 @ 0xzz", uint64(1))
	f.Fuzz(func(t *testing.T, s string, v uint64) {
		_ = parsePointer(s) // never panics
		want := uintptr(v)
		if got := parsePointer(fmt.Sprintf("%s [AVClass] @ 0x%x", s, want)); got != want {
			t.Fatalf("parsed %#x from an item named %q, want %#x", got, s, want)
		}
	})
}
