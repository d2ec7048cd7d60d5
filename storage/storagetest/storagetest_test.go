package storagetest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/storagetest"
)

// flawedStore is an in-memory store that can break one rule of the
// contract, to show that the suite notices.
type flawedStore struct {
	flaw    string
	mu      sync.Mutex
	objects map[string][]byte
	sums    map[string]string
}

// Flaws, each expected to fail the named subtest of Run.
var flaws = map[string]string{
	"no-key-check":    "HostileKeys",
	"no-checksum":     "ChecksumMismatch",
	"partial-writes":  "ReaderError",
	"ignores-context": "CancelMidUpload",
	"missing-is-nil":  "Missing",
	"truncates":       "Large",
}

func (m *flawedStore) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Object, error) {
	if m.flaw != "no-key-check" {
		if err := storage.ValidKey(key); err != nil {
			return storage.Object{}, err
		}
	}
	if m.flaw != "ignores-context" {
		r = storage.ContextReader(ctx, r)
	}
	var buf bytes.Buffer
	_, err := io.Copy(&buf, r)
	if m.flaw == "truncates" && buf.Len() > 1<<20 {
		buf.Truncate(1 << 20)
	}
	if err != nil && m.flaw != "partial-writes" {
		return storage.Object{}, err
	}
	h := sha256.Sum256(buf.Bytes())
	sum := hex.EncodeToString(h[:])
	if m.flaw != "no-checksum" && opts.SHA256 != "" && opts.SHA256 != sum {
		return storage.Object{}, storage.ErrChecksum
	}
	m.mu.Lock()
	m.objects[key], m.sums[key] = buf.Bytes(), sum
	m.mu.Unlock()
	if err != nil {
		return storage.Object{}, err
	}
	return storage.Object{Key: key, Size: int64(buf.Len()), SHA256: sum}, nil
}

func (m *flawedStore) Get(ctx context.Context, key string) (io.ReadCloser, storage.Object, error) {
	obj, err := m.Stat(ctx, key)
	if err != nil {
		return nil, obj, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return io.NopCloser(bytes.NewReader(m.objects[key])), obj, nil
}

func (m *flawedStore) Stat(_ context.Context, key string) (storage.Object, error) {
	if m.flaw != "no-key-check" {
		if err := storage.ValidKey(key); err != nil {
			return storage.Object{}, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		if m.flaw == "missing-is-nil" {
			return storage.Object{Key: key}, nil
		}
		return storage.Object{}, fmt.Errorf("%q: %w", key, storage.ErrNotFound)
	}
	return storage.Object{Key: key, Size: int64(len(b)), SHA256: m.sums[key]}, nil
}

func (m *flawedStore) Delete(_ context.Context, key string) error {
	if m.flaw != "no-key-check" {
		if err := storage.ValidKey(key); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// envFlaw tells the child process which flaw to run the suite with.
const envFlaw = "STORAGETEST_FLAW"

// TestFlawedStore is run by TestSuiteCatchesFlaws in a child process; on
// its own it runs the suite on the store without flaws, which must pass.
func TestFlawedStore(t *testing.T) {
	flaw := os.Getenv(envFlaw)
	storagetest.Run(t, func(*testing.T) storage.Store {
		return &flawedStore{flaw: flaw, objects: map[string][]byte{}, sums: map[string]string{}}
	})
}

// TestSuiteCatchesFlaws runs the suite on stores that each break one rule,
// in child processes, and checks that it fails where it should.
func TestSuiteCatchesFlaws(t *testing.T) {
	for flaw, subtest := range flaws {
		t.Run(flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestFlawedStore$", "-test.v")
			cmd.Env = append(os.Environ(), envFlaw+"="+flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with flaw %q:\n%s", flaw, out)
			}
			if want := "--- FAIL: TestFlawedStore/" + subtest + " "; !strings.Contains(string(out), want) {
				t.Fatalf("flaw %q: no %q in:\n%s", flaw, want, out)
			}
		})
	}
}
