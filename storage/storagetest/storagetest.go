// Package storagetest is the conformance suite of storage.Store, in the
// manner of testing/fstest and testing/slogtest: every implementation runs
// Run against fresh, empty stores and so checks the contract documented on
// storage.Store.
//
//nolint:thelper // The test* functions are subtest bodies, not helpers: failures must point into them.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/roomtape/roomtape/storage"
)

// Sizes of the objects the suite writes.
const (
	// LargeSize is larger than two parts of 5 MiB, the smallest part size
	// S3 allows, so that multipart backends upload at least three parts.
	LargeSize = 12 << 20
	// cancelAfter is how much of a large upload is streamed before the
	// context is cancelled: more than one 5 MiB part, so that a multipart
	// backend has started (and must abort) a multipart upload.
	cancelAfter = 7 << 20
)

// Run runs the conformance suite as subtests of t. newStore must return a
// new, empty store for each call; it can register t.Cleanup functions that
// check backend-specific leftovers (temporary files, multipart uploads).
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, s storage.Store)
}{
	{"Empty", testEmpty},
	{"Small", testSmall},
	{"Large", testLarge},
	{"Overwrite", testOverwrite},
	{"OverwriteFailedKeepsOld", testOverwriteFailedKeepsOld},
	{"ReaderError", testReaderError},
	{"ChecksumMismatch", testChecksumMismatch},
	{"ChecksumMatch", testChecksumMatch},
	{"Missing", testMissing},
	{"Delete", testDelete},
	{"CancelBeforeStart", testCancelBeforeStart},
	{"CancelMidUpload", testCancelMidUpload},
	{"HostileKeys", testHostileKeys},
	{"OddKeys", testOddKeys},
	{"Concurrent", testConcurrent},
}

// payload returns n deterministic pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b) // Never fails.
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// streamOnly hides every method but Read, so that a store cannot learn the
// length in advance, seek or use io.WriterTo: it has to stream.
type streamOnly struct{ r io.Reader }

func (s streamOnly) Read(p []byte) (int, error) { return s.r.Read(p) }

// put writes b under key and checks the returned Object.
func put(t *testing.T, s storage.Store, key string, b []byte, opts storage.PutOptions) {
	t.Helper()
	obj, err := s.Put(t.Context(), key, streamOnly{bytes.NewReader(b)}, opts)
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(b), err)
	}
	if obj.Key != key || obj.Size != int64(len(b)) || obj.SHA256 != sum(b) {
		t.Fatalf("Put(%q) = {Key %q, Size %d, SHA256 %s}, want {%q, %d, %s}",
			key, obj.Key, obj.Size, obj.SHA256, key, len(b), sum(b))
	}
}

// check reads key back with Get and Stat and compares it with want.
func check(t *testing.T, s storage.Store, key string, want []byte) {
	t.Helper()
	rc, obj, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): reading: %v", key, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("Get(%q): Close: %v", key, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("Get(%q): second Close must be harmless, got %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q): got %d bytes (SHA-256 %s), want %d bytes (SHA-256 %s)", key, len(got), sum(got), len(want), sum(want))
	}
	if obj.Key != key || obj.Size != int64(len(want)) {
		t.Fatalf("Get(%q) object = {Key %q, Size %d}, want {%q, %d}", key, obj.Key, obj.Size, key, len(want))
	}
	if obj.SHA256 != "" && obj.SHA256 != sum(want) {
		t.Fatalf("Get(%q) object SHA256 = %s, want %s", key, obj.SHA256, sum(want))
	}
	st, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if st.Key != key || st.Size != int64(len(want)) {
		t.Fatalf("Stat(%q) = {Key %q, Size %d}, want {%q, %d}", key, st.Key, st.Size, key, len(want))
	}
	if st.SHA256 != "" && st.SHA256 != sum(want) {
		t.Fatalf("Stat(%q).SHA256 = %s, want %s", key, st.SHA256, sum(want))
	}
}

// checkMissing asserts that key does not exist.
func checkMissing(t *testing.T, s storage.Store, key string) {
	t.Helper()
	if obj, err := s.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat(%q) = %+v, %v; want an error wrapping storage.ErrNotFound", key, obj, err)
	}
	rc, _, err := s.Get(t.Context(), key)
	if !errors.Is(err, storage.ErrNotFound) {
		if rc != nil {
			_ = rc.Close()
		}
		t.Fatalf("Get(%q) error = %v; want an error wrapping storage.ErrNotFound", key, err)
	}
}

func testEmpty(t *testing.T, s storage.Store) {
	put(t, s, "empty", nil, storage.PutOptions{})
	check(t, s, "empty", []byte{})
}

func testSmall(t *testing.T, s storage.Store) {
	b := []byte("hello, roomtape\n")
	put(t, s, "dir/sub/small.txt", b, storage.PutOptions{ContentType: "text/plain"})
	check(t, s, "dir/sub/small.txt", b)
	st, err := s.Stat(t.Context(), "dir/sub/small.txt")
	if err != nil {
		t.Fatal(err)
	}
	if st.ContentType != "" && st.ContentType != "text/plain" {
		t.Errorf("Stat ContentType = %q, want text/plain (or empty when not recorded)", st.ContentType)
	}
	// A prefix of a key is not an object.
	checkMissing(t, s, "dir/sub")
	checkMissing(t, s, "dir")
}

func testLarge(t *testing.T, s storage.Store) {
	b := payload(LargeSize, 1)
	put(t, s, "large.bin", b, storage.PutOptions{})
	check(t, s, "large.bin", b)
	// Same content again with the size hint and expected checksum.
	put(t, s, "large-hinted.bin", b, storage.PutOptions{Size: int64(len(b)), SHA256: sum(b)})
	checkRecordedSum(t, s, "large-hinted.bin", b)
}

// checkRecordedSum checks that Stat reports the SHA256 given to Put.
func checkRecordedSum(t *testing.T, s storage.Store, key string, b []byte) {
	t.Helper()
	st, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if st.SHA256 != sum(b) {
		t.Errorf("Stat(%q) after Put with SHA256 set: SHA256 = %q, want %s (the store must record it)", key, st.SHA256, sum(b))
	}
}

func testOverwrite(t *testing.T, s storage.Store) {
	small := []byte("first version")
	large := payload(LargeSize, 2)
	put(t, s, "o/key", small, storage.PutOptions{})
	put(t, s, "o/key", large, storage.PutOptions{})
	check(t, s, "o/key", large)
	put(t, s, "o/key", small[:5], storage.PutOptions{})
	check(t, s, "o/key", small[:5])
}

// failingReader returns data then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

var errBrokenSource = errors.New("storagetest: broken source")

func testOverwriteFailedKeepsOld(t *testing.T, s storage.Store) {
	old := []byte("the old content survives")
	put(t, s, "keep", old, storage.PutOptions{})
	for _, n := range []int{0, 100, cancelAfter} {
		_, err := s.Put(t.Context(), "keep", &failingReader{payload(n, 3), errBrokenSource}, storage.PutOptions{})
		if !errors.Is(err, errBrokenSource) {
			t.Fatalf("Put with a reader failing after %d bytes: error %v, want one wrapping the reader's", n, err)
		}
		check(t, s, "keep", old)
	}
}

func testReaderError(t *testing.T, s storage.Store) {
	for _, n := range []int{0, 100, cancelAfter} {
		_, err := s.Put(t.Context(), "broken", &failingReader{payload(n, 4), errBrokenSource}, storage.PutOptions{})
		if !errors.Is(err, errBrokenSource) {
			t.Fatalf("Put with a reader failing after %d bytes: error %v, want one wrapping the reader's", n, err)
		}
		checkMissing(t, s, "broken")
	}
}

func testChecksumMismatch(t *testing.T, s storage.Store) {
	wrong := sum([]byte("something else"))
	for _, n := range []int{0, 10, LargeSize} {
		b := payload(n, 5)
		_, err := s.Put(t.Context(), "sum", streamOnly{bytes.NewReader(b)}, storage.PutOptions{SHA256: wrong})
		if !errors.Is(err, storage.ErrChecksum) {
			t.Fatalf("Put of %d bytes with a wrong SHA256: error %v, want one wrapping storage.ErrChecksum", n, err)
		}
		checkMissing(t, s, "sum")
	}
	old := []byte("old")
	put(t, s, "sum", old, storage.PutOptions{})
	_, err := s.Put(t.Context(), "sum", bytes.NewReader([]byte("new")), storage.PutOptions{SHA256: wrong})
	if !errors.Is(err, storage.ErrChecksum) {
		t.Fatalf("overwrite with a wrong SHA256: error %v, want one wrapping storage.ErrChecksum", err)
	}
	check(t, s, "sum", old)
}

func testChecksumMatch(t *testing.T, s storage.Store) {
	b := []byte("checked content")
	put(t, s, "checked", b, storage.PutOptions{SHA256: sum(b)})
	checkRecordedSum(t, s, "checked", b)
}

func testMissing(t *testing.T, s storage.Store) {
	checkMissing(t, s, "never/written")
	if err := s.Delete(t.Context(), "never/written"); err != nil {
		t.Errorf("Delete of a missing key = %v, want nil", err)
	}
}

func testDelete(t *testing.T, s storage.Store) {
	put(t, s, "d/one", []byte("1"), storage.PutOptions{})
	put(t, s, "d/two", []byte("2"), storage.PutOptions{})
	if err := s.Delete(t.Context(), "d/one"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkMissing(t, s, "d/one")
	check(t, s, "d/two", []byte("2"))
	if err := s.Delete(t.Context(), "d/one"); err != nil {
		t.Errorf("second Delete = %v, want nil", err)
	}
	if err := s.Delete(t.Context(), "d/two"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkMissing(t, s, "d/two")
	// The key space is flat: after deleting "d/two", "d" can be an object.
	put(t, s, "d", []byte("d"), storage.PutOptions{})
	check(t, s, "d", []byte("d"))
}

func testCancelBeforeStart(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Put(ctx, "cancelled", bytes.NewReader([]byte("x")), storage.PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: error %v, want one wrapping context.Canceled", err)
	}
	checkMissing(t, s, "cancelled")
}

// cancellingReader streams data and cancels the upload's context once it
// has delivered after bytes; it then keeps delivering data, as a live
// source would.
type cancellingReader struct {
	data   []byte
	off    int
	after  int
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.off >= c.after {
		c.cancel()
	}
	if c.off >= len(c.data) {
		return 0, io.EOF
	}
	n := copy(p, c.data[c.off:])
	c.off += n
	return n, nil
}

func testCancelMidUpload(t *testing.T, s storage.Store) {
	old := []byte("previous content")
	put(t, s, "keep", old, storage.PutOptions{})
	for _, key := range []string{"new", "keep"} {
		ctx, cancel := context.WithCancel(t.Context())
		r := &cancellingReader{data: payload(LargeSize, 6), after: cancelAfter, cancel: cancel}
		_, err := s.Put(ctx, key, r, storage.PutOptions{})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put(%q) cancelled mid-upload: error %v, want one wrapping context.Canceled", key, err)
		}
	}
	checkMissing(t, s, "new")
	check(t, s, "keep", old)
}

// HostileKeys are keys every store must reject with storage.ErrInvalidKey.
var HostileKeys = []string{
	"",
	"/",
	"/etc/passwd",
	"../escape",
	"a/../../escape",
	"a/..",
	"..",
	".",
	"./a",
	"a/./b",
	"a//b",
	"trailing/",
	"nul\x00byte",
	"new\nline",
	"tab\tkey",
	"del\x7f",
	`back\slash`,
	`..\..\windows`,
	"bad-utf8-\xff\xfe",
	strings.Repeat("k", 1025),
	strings.Repeat("s", 256),
	"ok/" + strings.Repeat("s", 256),
}

// OddKeys are valid keys with characters that need escaping in URLs and
// paths; every store must round-trip them.
var OddKeys = []string{
	"with space.txt",
	"unicodé/файл/視頻.mp4",
	"plus+equals=amp&question?hash#",
	"percent%20encoded%2F",
	"semi;colon,comma",
	"..dots..",
	"...",
	".hidden",
	"quote'double\"",
	"x/y/z/w/deep.bin",
	strings.Repeat("s", 255),
	// Exactly MaxKeyLen (1024) bytes in segments of 254 bytes and "tail".
	strings.Repeat(strings.Repeat("k", 254)+"/", 4) + "tail",
}

func testHostileKeys(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, key := range HostileKeys {
		if _, err := s.Put(ctx, key, bytes.NewReader([]byte("x")), storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) error = %v, want storage.ErrInvalidKey", key, err)
		}
		if rc, _, err := s.Get(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			if rc != nil {
				_ = rc.Close()
			}
			t.Errorf("Get(%q) error = %v, want storage.ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat(%q) error = %v, want storage.ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) error = %v, want storage.ErrInvalidKey", key, err)
		}
	}
	// Nothing escaped: the keys a traversal would have hit do not exist.
	checkMissing(t, s, "escape")
	checkMissing(t, s, "etc/passwd")
}

func testOddKeys(t *testing.T, s storage.Store) {
	for i, key := range OddKeys {
		b := []byte(key + " content")
		put(t, s, key, b, storage.PutOptions{})
		check(t, s, key, b)
		if i%2 == 0 {
			if err := s.Delete(t.Context(), key); err != nil {
				t.Fatalf("Delete(%q): %v", key, err)
			}
			checkMissing(t, s, key)
		}
	}
}

func testConcurrent(t *testing.T, s storage.Store) {
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			b := payload(64<<10+i, uint64(10+i))
			key := "concurrent/" + string(rune('a'+i))
			if _, err := s.Put(t.Context(), key, bytes.NewReader(b), storage.PutOptions{}); err != nil {
				errs <- err
			}
			// Everyone overwrites the same key too: the last write wins whole.
			if _, err := s.Put(t.Context(), "concurrent/shared", bytes.NewReader(b), storage.PutOptions{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Put: %v", err)
	}
	for i := range writers {
		check(t, s, "concurrent/"+string(rune('a'+i)), payload(64<<10+i, uint64(10+i)))
	}
	rc, _, err := s.Get(t.Context(), "concurrent/shared")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if cerr := rc.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := range writers {
		if bytes.Equal(got, payload(64<<10+i, uint64(10+i))) {
			return
		}
	}
	t.Fatalf("concurrent overwrites left %d bytes that match none of the writes", len(got))
}
