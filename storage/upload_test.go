package storage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/local"
	"github.com/roomtape/roomtape/storage/storagetest"
	"github.com/roomtape/roomtape/timeline/manifest"
)

func newLocal(t *testing.T) *local.Store {
	t.Helper()
	s, err := local.New(t.TempDir(), local.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// countingStore counts the Puts that reach a real store and can make the
// Puts of some keys fail, as a broken connection would.
type countingStore struct {
	storage.Store
	mu   sync.Mutex
	puts []string
	fail map[string]error
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Object, error) {
	c.mu.Lock()
	c.puts = append(c.puts, key)
	err := c.fail[key]
	c.mu.Unlock()
	if err != nil {
		// Consume part of the content first, as a connection lost midway.
		_, _ = io.CopyN(io.Discard, r, 100)
		return storage.Object{}, err
	}
	return c.Store.Put(ctx, key, r, opts)
}

func (c *countingStore) Puts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.puts)
}

var errConnectionLost = errors.New("test: connection lost")

func TestUploadSessionFinalOnly(t *testing.T) {
	sess := storagetest.NewSession(t, t.TempDir())
	store := &countingStore{Store: newLocal(t)}
	var progress []storage.Progress
	res, err := storage.UploadSession(t.Context(), store, sess.Manifest, storage.UploadOptions{
		BaseURL:  "https://cdn.example.com/rec",
		Progress: func(p storage.Progress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	final := res.Final()
	wantKey := sess.ID + "/" + sess.ID + "_recording.mp4"
	if len(res.Objects) != 1 || final.Key != wantKey || final.Status != storage.StatusUploaded {
		t.Fatalf("objects = %+v, want only %s uploaded", res.Objects, wantKey)
	}
	if want := "https://cdn.example.com/rec/" + wantKey; final.URL != want {
		t.Errorf("URL = %q, want %q", final.URL, want)
	}
	sess.CheckStored(t, store, res)
	sess.CheckLocalIntact(t)
	last := progress[len(progress)-1]
	if last.Done != last.Total || last.Total != final.Size || last.Sent != last.Size {
		t.Errorf("last progress %+v, want everything done (%d bytes)", last, final.Size)
	}
}

func TestUploadSessionEverythingThenRerun(t *testing.T) {
	sess := storagetest.NewSession(t, t.TempDir())
	store := &countingStore{Store: newLocal(t)}
	opts := storage.UploadOptions{Manifest: true, Participants: true, Extra: []string{"mixed.wav"}, Prefix: "rec/"}
	res, err := storage.UploadSession(t.Context(), store, sess.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range res.Objects {
		keys = append(keys, o.Key)
	}
	want := sess.Keys("rec/")
	if !slices.Equal(keys, want) {
		t.Fatalf("keys = %q, want %q", keys, want)
	}
	sess.CheckStored(t, store, res)

	// A second run finds everything and sends nothing.
	before := len(store.Puts())
	res, err = storage.UploadSession(t.Context(), store, sess.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Objects {
		if o.Status != storage.StatusPresent {
			t.Errorf("rerun: %s is %v, want present", o.Key, o.Status)
		}
	}
	if puts := store.Puts()[before:]; len(puts) != 0 {
		t.Errorf("rerun sent %q again", puts)
	}
}

// TestUploadSessionFailureThenRerun fails one object: the error wraps
// ErrIncomplete and names it, nothing local is deleted even with
// DeleteLocal, and the next run sends only that object, then deletes.
func TestUploadSessionFailureThenRerun(t *testing.T) {
	sess := storagetest.NewSession(t, t.TempDir())
	inner := newLocal(t)
	broken := sess.ID + "/alice_video.mp4"
	store := &countingStore{Store: inner, fail: map[string]error{broken: errConnectionLost}}
	opts := storage.UploadOptions{Manifest: true, Participants: true, DeleteLocal: true}
	res, err := storage.UploadSession(t.Context(), store, sess.Manifest, opts)
	if !errors.Is(err, storage.ErrIncomplete) || !errors.Is(err, errConnectionLost) {
		t.Fatalf("error %v, want ErrIncomplete and the cause", err)
	}
	failed := res.Failed()
	if len(failed) != 1 || failed[0].Key != broken {
		t.Fatalf("failed = %+v, want only %s", failed, broken)
	}
	sess.CheckLocalIntact(t)
	if _, err := inner.Stat(t.Context(), broken); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the failed object exists: %v", err)
	}

	store.fail = nil
	before := len(store.Puts())
	res, err = storage.UploadSession(t.Context(), store, sess.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	if puts := store.Puts()[before:]; !slices.Equal(puts, []string{broken}) {
		t.Errorf("rerun sent %q, want only %s", puts, broken)
	}
	for _, o := range res.Objects {
		if !o.Deleted {
			t.Errorf("%s not deleted after a complete, verified upload", o.File)
		}
		if _, err := os.Stat(o.File); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists: %v", o.File, err)
		}
	}
}

// corruptingStore stores something other than what it is given, without
// passing the expected checksum on: only UploadSession's verification can
// notice.
type corruptingStore struct{ storage.Store }

func (c corruptingStore) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Object, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return storage.Object{}, err
	}
	b = append(b, '!')
	obj, err := c.Store.Put(ctx, key, bytes.NewReader(b), storage.PutOptions{})
	obj.Size--
	return obj, err
}

func TestUploadSessionVerifies(t *testing.T) {
	sess := storagetest.NewSession(t, t.TempDir())
	res, err := storage.UploadSession(t.Context(), corruptingStore{newLocal(t)}, sess.Manifest, storage.UploadOptions{DeleteLocal: true})
	if !errors.Is(err, storage.ErrIncomplete) || !errors.Is(err, storage.ErrChecksum) {
		t.Fatalf("error %v, want ErrIncomplete and ErrChecksum", err)
	}
	if len(res.Failed()) != 1 {
		t.Fatalf("failed = %+v", res.Failed())
	}
	sess.CheckLocalIntact(t)
}

func TestUploadSessionMissingFinal(t *testing.T) {
	sess := storagetest.NewSession(t, t.TempDir())
	final := filepath.Join(sess.Dir, sess.ID+"_recording.mp4")
	if err := os.Remove(final); err != nil {
		t.Fatal(err)
	}
	res, err := storage.UploadSession(t.Context(), newLocal(t), sess.Manifest, storage.UploadOptions{Manifest: true})
	if !errors.Is(err, storage.ErrIncomplete) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want ErrIncomplete and fs.ErrNotExist", err)
	}
	if f := res.Failed(); len(f) != 1 || f[0].File != final {
		t.Fatalf("failed = %+v, want the final MP4", f)
	}
	if res.Objects[1].Status != storage.StatusUploaded {
		t.Errorf("session.json not uploaded after the final MP4 failed: %+v", res.Objects[1])
	}
}

func TestUploadSessionCancelled(t *testing.T) {
	sess := storagetest.NewSession(t, t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := storage.UploadSession(ctx, newLocal(t), sess.Manifest, storage.UploadOptions{Participants: true, DeleteLocal: true})
	if !errors.Is(err, storage.ErrIncomplete) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want ErrIncomplete and context.Canceled", err)
	}
	if len(res.Failed()) != len(res.Objects) {
		t.Errorf("objects stored despite the cancellation: %+v", res.Objects)
	}
	sess.CheckLocalIntact(t)
}

func TestUploadSessionBadManifest(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "session.json")
	if err := os.WriteFile(p, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := storage.UploadSession(t.Context(), newLocal(t), p, storage.UploadOptions{})
	if err == nil || res != nil {
		t.Fatalf("UploadSession of a malformed manifest = %v, %v; want an error", res, err)
	}
	if res.Failed() != nil || res.Final().Key != "" {
		t.Error("a nil result must report nothing")
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"a.mp4": "video/mp4", "session.json": "application/json", "x_audio_padded.wav": "audio/wav",
		"A.MP4": "video/mp4", "noext": "application/octet-stream",
	} {
		if got := storage.ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestUploadSessionAllFiles(t *testing.T) {
	sess := storagetest.NewSession(t, t.TempDir())
	if err := os.WriteFile(filepath.Join(sess.Dir, ".partial.tmp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(sess.Dir, "frames"), 0o755); err != nil {
		t.Fatal(err)
	}
	store := &countingStore{Store: newLocal(t)}
	res, err := storage.UploadSession(t.Context(), store, sess.Manifest, storage.UploadOptions{AllFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	got := store.Puts()
	want := sess.Keys(sess.ID + "/")
	slices.Sort(got[1:])
	slices.Sort(want[1:])
	if !slices.Equal(got, want) {
		t.Fatalf("uploaded %q, want %q (final first)", got, want)
	}
	sess.CheckStored(t, store, res)
}

// TestUploadSessionHints: with Manifest, the transport hints file that
// session.json names goes with it (a stored session composes from its
// hints as the local one does).
func TestUploadSessionHints(t *testing.T) {
	sess := storagetest.NewSession(t, t.TempDir())
	raw, err := os.ReadFile(sess.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["hints"] = manifest.HintsName
	if raw, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sess.Manifest, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sess.Dir, manifest.HintsName), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	store := newLocal(t)
	res, err := storage.UploadSession(t.Context(), store, sess.Manifest, storage.UploadOptions{Manifest: true})
	if err != nil {
		t.Fatal(err)
	}
	want := sess.ID + "/" + manifest.HintsName
	for _, o := range res.Objects {
		if o.Key == want {
			if o.Status != storage.StatusUploaded {
				t.Fatalf("%s is %v, want uploaded", want, o.Status)
			}
			return
		}
	}
	t.Fatalf("objects %+v hold no %s", res.Objects, want)
}
