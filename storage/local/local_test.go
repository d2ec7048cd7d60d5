package local_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/local"
	"github.com/roomtape/roomtape/storage/storagetest"
)

// newStore returns a store on a fresh directory and checks, when the test
// ends, that no temporary file was left behind.
func newStore(t *testing.T) storage.Store {
	t.Helper()
	dir := t.TempDir()
	s, err := local.New(dir, local.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		assertNoTemp(t, dir)
	})
	return s
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, newStore)
}

// TestConfined checks that symbolic links cannot lead a key outside the
// directory.
func TestConfined(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "file")); err != nil {
		t.Fatal(err)
	}
	s, err := local.New(dir, local.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	for _, key := range []string{"link/secret", "file"} {
		if _, _, err := s.Get(ctx, key); err == nil {
			t.Errorf("Get(%q) followed a symbolic link out of the store", key)
		}
		if _, err := s.Put(ctx, key+"x", bytes.NewReader([]byte("x")), storage.PutOptions{}); err == nil && strings.HasPrefix(key, "link/") {
			t.Errorf("Put(%q) wrote through a symbolic link out of the store", key+"x")
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "secretx")); err == nil {
		t.Error("a file was created outside the store")
	}
}

func TestPrefixIsObject(t *testing.T) {
	s := newStore(t)
	if _, err := s.Put(t.Context(), "a", bytes.NewReader([]byte("a")), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Put(t.Context(), "a/b", bytes.NewReader([]byte("b")), storage.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "prefix of the key is an object") {
		t.Fatalf("Put under an object's key = %v, want a clear error", err)
	}
	if _, err := s.Put(t.Context(), "c/d", bytes.NewReader([]byte("d")), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(t.Context(), "c", bytes.NewReader([]byte("c")), storage.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "prefix of other objects") {
		t.Fatalf("Put of a key that is a prefix = %v, want a clear error", err)
	}
}

// TestConcurrentPutDelete races Puts with Deletes that empty, and so
// remove, the same directory.
func TestConcurrentPutDelete(t *testing.T) {
	s := newStore(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			key := fmt.Sprintf("dir/sub/%d", i)
			for range 200 {
				if _, err := s.Put(t.Context(), key, bytes.NewReader([]byte(key)), storage.PutOptions{}); err != nil {
					t.Errorf("Put(%s): %v", key, err)
					return
				}
				if err := s.Delete(t.Context(), key); err != nil {
					t.Errorf("Delete(%s): %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: directory permissions are not enforced")
	}
	dir := t.TempDir()
	s, err := local.New(dir, local.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	_, err = s.Put(t.Context(), "x", bytes.NewReader(nil), storage.PutOptions{})
	if !errors.Is(err, storage.ErrPermission) {
		t.Fatalf("Put in a read-only directory = %v, want storage.ErrPermission", err)
	}
}

func TestURL(t *testing.T) {
	dir := t.TempDir()
	s, err := local.New(dir, local.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	u, err := s.URL("a b/c.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if want := "file://" + filepath.ToSlash(dir) + "/a%20b/c.mp4"; u != want {
		t.Errorf("URL = %q, want %q", u, want)
	}
	s2, err := local.New(dir, local.Config{BaseURL: "https://cdn.example.com/rec/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	u, err = s2.URL("id/id_recording.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://cdn.example.com/rec/id/id_recording.mp4"; u != want {
		t.Errorf("URL = %q, want %q", u, want)
	}
	if _, err := s2.URL("../x"); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("URL(../x) error = %v, want storage.ErrInvalidKey", err)
	}
}

func TestNewMissingDir(t *testing.T) {
	_, err := local.New(filepath.Join(t.TempDir(), "nope"), local.Config{})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("New on a missing directory = %v, want storage.ErrNotFound", err)
	}
}

// BenchmarkPut writes a 200 MB object, the baseline for the S3 upload
// benchmark (go test ./storage/local -run '^$' -bench Put -benchtime 3x).
func BenchmarkPut(b *testing.B) {
	s, err := local.New(b.TempDir(), local.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(storagetest.BenchSize)
	for b.Loop() {
		obj, err := s.Put(b.Context(), "bench/final.mp4", storagetest.Stream(storagetest.BenchSize), storage.PutOptions{})
		if err != nil || obj.Size != storagetest.BenchSize {
			b.Fatalf("Put = %+v, %v", obj, err)
		}
	}
}
