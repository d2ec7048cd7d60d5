package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/storagetest"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// liveWait bounds how long a test waits for the uploader's goroutine.
const liveWait = 10 * time.Second

// uploads collects LiveOptions.OnUpload reports.
type uploads struct {
	mu   sync.Mutex
	list []storage.LiveUpload
	ch   chan struct{}
}

func newUploads() *uploads { return &uploads{ch: make(chan struct{}, 100)} }

func (u *uploads) add(r storage.LiveUpload) {
	u.mu.Lock()
	u.list = append(u.list, r)
	u.mu.Unlock()
	u.ch <- struct{}{}
}

func (u *uploads) wait(t *testing.T, n int) []storage.LiveUpload {
	t.Helper()
	deadline := time.After(liveWait)
	for {
		u.mu.Lock()
		got := slices.Clone(u.list)
		u.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-u.ch:
		case <-deadline:
			t.Fatalf("%d uploads reported, want %d", len(got), n)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func stored(t *testing.T, s storage.Store, key string) string {
	t.Helper()
	rc, _, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close() //nolint:errcheck // test
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLiveUploader(t *testing.T) {
	dir := t.TempDir()
	a, b, js := filepath.Join(dir, "a-s0001.mkv"), filepath.Join(dir, "a-s0002.mkv"), filepath.Join(dir, "session.json")
	writeFile(t, a, "segment one")
	writeFile(t, b, "segment two")
	writeFile(t, js, `{"v":1}`)
	store := &countingStore{Store: newLocal(t)}
	rep := newUploads()
	u, err := storage.NewLiveUploader(t.Context(), store, storage.LiveOptions{
		Prefix: "rooms/r1/", RewriteInterval: time.Hour, OnUpload: rep.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	u.Notify(js)
	rep.wait(t, 1)
	u.Notify(a)
	rep.wait(t, 2)
	// A new file was stored: the next rewrite of session.json goes at
	// once, despite the interval.
	writeFile(t, js, `{"v":2}`)
	u.Notify(js)
	rep.wait(t, 3)
	// The next one waits for the interval, and more coalesce with it ...
	writeFile(t, js, `{"v":3}`)
	u.Notify(js)
	u.Notify(js)
	time.Sleep(100 * time.Millisecond)
	if n := len(store.Puts()); n != 3 {
		t.Fatalf("%d puts, want 3: a rewrite within the interval must wait", n)
	}
	// ... until a new file is stored.
	u.Notify(b)
	got := rep.wait(t, 5)
	if err := u.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Err != nil || r.Attempts != 1 || r.Latency <= 0 {
			t.Errorf("upload %+v", r)
		}
	}
	want := []string{"rooms/r1/session.json", "rooms/r1/a-s0001.mkv", "rooms/r1/session.json", "rooms/r1/a-s0002.mkv", "rooms/r1/session.json"}
	if puts := store.Puts(); !slices.Equal(puts, want) {
		t.Errorf("puts %q, want %q", puts, want)
	}
	if c := stored(t, store, "rooms/r1/session.json"); c != `{"v":3}` {
		t.Errorf("session.json stored %q, want the last version", c)
	}
	if c := stored(t, store, "rooms/r1/a-s0002.mkv"); c != "segment two" {
		t.Errorf("segment stored %q", c)
	}
	st := u.Stats()
	if st.Uploaded != 5 || st.Failed != 0 || st.Dropped != 0 || st.MaxLatency <= 0 {
		t.Errorf("stats %+v", st)
	}
	if err := u.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	u.Notify(a) // after Close: counted, not uploaded
	if st := u.Stats(); st.Dropped != 1 {
		t.Errorf("dropped %d after Close, want 1", st.Dropped)
	}
}

// TestLiveUploaderCloseFlushes checks that Close uploads a rewrite that
// waits for its interval.
func TestLiveUploaderCloseFlushes(t *testing.T) {
	js := filepath.Join(t.TempDir(), "session.json")
	writeFile(t, js, "1")
	store := &countingStore{Store: newLocal(t)}
	rep := newUploads()
	u, err := storage.NewLiveUploader(t.Context(), store, storage.LiveOptions{RewriteInterval: time.Hour, OnUpload: rep.add})
	if err != nil {
		t.Fatal(err)
	}
	u.Notify(js)
	rep.wait(t, 1)
	writeFile(t, js, "2")
	u.Notify(js) // flush set by the first upload (a new file) ...
	rep.wait(t, 2)
	writeFile(t, js, "3")
	u.Notify(js) // ... this one waits
	if err := u.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c := stored(t, store, "session.json"); c != "3" || len(store.Puts()) != 3 {
		t.Errorf("stored %q after %d puts, want the last version after 3", c, len(store.Puts()))
	}
}

func TestLiveUploaderRetries(t *testing.T) {
	dir := t.TempDir()
	bad, good := filepath.Join(dir, "bad.mkv"), filepath.Join(dir, "good.mkv")
	writeFile(t, bad, "x")
	writeFile(t, good, "y")
	store := &countingStore{Store: newLocal(t), fail: map[string]error{"bad.mkv": errConnectionLost}}
	rep := newUploads()
	u, err := storage.NewLiveUploader(t.Context(), store, storage.LiveOptions{Retries: 2, RetryDelay: time.Millisecond, OnUpload: rep.add})
	if err != nil {
		t.Fatal(err)
	}
	u.Notify(bad)
	u.Notify(good)
	got := rep.wait(t, 2)
	if got[0].Attempts != 3 || !errors.Is(got[0].Err, errConnectionLost) {
		t.Errorf("failed upload %+v, want 3 attempts and the store's error", got[0])
	}
	if got[1].Err != nil {
		t.Errorf("the next file must go on: %+v", got[1])
	}
	if err := u.Close(t.Context()); !errors.Is(err, storage.ErrIncomplete) {
		t.Errorf("Close = %v, want ErrIncomplete", err)
	}
	if st := u.Stats(); st.Failed != 1 || st.Uploaded != 1 {
		t.Errorf("stats %+v", st)
	}
}

// blockingStore holds every Put until release is closed.
type blockingStore struct {
	storage.Store
	started chan struct{}
	release chan struct{}
}

func (b *blockingStore) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Object, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return storage.Object{}, ctx.Err()
	}
	return b.Store.Put(ctx, key, r, opts)
}

// TestLiveUploaderBounded checks that Notify never blocks: with the
// store stuck, the queue fills and further files are dropped (counted)
// at once; a Close whose context ends abandons what waits.
func TestLiveUploaderBounded(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"1.mkv", "2.mkv", "3.mkv", "4.mkv"} {
		files = append(files, filepath.Join(dir, n))
		writeFile(t, files[len(files)-1], n)
	}
	store := &blockingStore{Store: newLocal(t), started: make(chan struct{}, 10), release: make(chan struct{})}
	u, err := storage.NewLiveUploader(t.Context(), store, storage.LiveOptions{Queue: 2, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	u.Notify(files[0])
	<-store.started // taken off the queue, stuck in Put
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, f := range files[1:] {
			u.Notify(f)
		}
	}()
	select {
	case <-done:
	case <-time.After(liveWait):
		t.Fatal("Notify blocked")
	}
	if st := u.Stats(); st.Dropped != 1 {
		t.Errorf("dropped %d, want 1 (queue of 2)", st.Dropped)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := u.Close(ctx); !errors.Is(err, storage.ErrIncomplete) {
		t.Errorf("Close = %v, want ErrIncomplete", err)
	}
	close(store.release)
}

// TestLiveThenFinalUpload checks that the final UploadSession after a
// live upload sends only what the live one did not store.
func TestLiveThenFinalUpload(t *testing.T) {
	sess := storagetest.NewSession(t, t.TempDir())
	store := &countingStore{Store: newLocal(t)}
	u, err := storage.NewLiveUploader(t.Context(), store, storage.LiveOptions{Prefix: sess.ID + "/"})
	if err != nil {
		t.Fatal(err)
	}
	var media []string
	for _, n := range []string{"alice_video.mp4", "alice_audio.wav", "bob_video.mp4", "bob_audio.wav"} {
		media = append(media, filepath.Join(sess.Dir, n))
	}
	for _, f := range media {
		u.Notify(f)
	}
	if err := u.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	live := len(store.Puts())
	res, err := storage.UploadSession(t.Context(), store, sess.Manifest, storage.UploadOptions{Manifest: true, Participants: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Objects {
		isMedia := slices.Contains(media, o.File)
		if isMedia && o.Status != storage.StatusPresent {
			t.Errorf("%s: %v, want present (stored live)", o.Key, o.Status)
		}
		if !isMedia && o.Status != storage.StatusUploaded {
			t.Errorf("%s: %v, want uploaded", o.Key, o.Status)
		}
	}
	if sent := len(store.Puts()) - live; sent != len(res.Objects)-len(media) {
		t.Errorf("final upload sent %d objects, want %d", sent, len(res.Objects)-len(media))
	}
}

func TestLiveUploaderConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store storage.Store
		opts  storage.LiveOptions
	}{
		{"nil store", nil, storage.LiveOptions{}},
		{"bad prefix", newLocal(t), storage.LiveOptions{Prefix: "/abs/"}},
		{"negative queue", newLocal(t), storage.LiveOptions{Queue: -1}},
	} {
		if _, err := storage.NewLiveUploader(t.Context(), tc.store, tc.opts); !errors.Is(err, storage.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", tc.name, err)
		}
	}
}

// segmentedSession writes a session.json with one segmented camera track
// (two finished segments and the open one a dead recorder left) and one
// single-file microphone track into dir, with the files.
func segmentedSession(t *testing.T, dir string) *manifest.Session {
	t.Helper()
	f := func(v float64) *float64 { return &v }
	writeFile(t, filepath.Join(dir, "cam-s0001.mkv"), "first segment")
	writeFile(t, filepath.Join(dir, "cam-s0002.mkv"), "second")
	writeFile(t, filepath.Join(dir, "cam-s0003.mkv"), "open, cut by the kill")
	writeFile(t, filepath.Join(dir, "mic.mkv"), "microphone")
	m := &manifest.Session{
		SessionID: "call", SessionDir: ".", Format: manifest.FormatSegments, StartedAt: "2026-12-02T06:00:00Z",
		Participants: []manifest.Participant{{
			ID: "ann", Name: "Ann", JoinTimeS: 1, LeaveTimeS: 25, VideoPath: "cam-s0001.mkv", AudioPath: "mic.mkv",
			Tracks: []manifest.Track{
				{Kind: manifest.KindVideo, Source: manifest.SourceCamera, Path: "cam-s0001.mkv", StartS: 1.5, Segments: []manifest.Segment{
					{Path: "cam-s0001.mkv", StartS: 1.5, EndS: f(11.4), Bytes: 13, Complete: true},
					{Path: "cam-s0002.mkv", StartS: 11.4, EndS: f(21.3), Bytes: 6, Complete: true},
					{Path: "cam-s0003.mkv", StartS: 21.3},
				}},
				{Kind: manifest.KindAudio, Source: manifest.SourceMicrophone, Path: "mic.mkv", StartS: 1.2},
			},
		}},
	}
	if err := m.WriteFile(filepath.Join(dir, "session.json")); err != nil {
		t.Fatal(err)
	}
	return m
}

// putFile stores the file at path under key.
func putFile(t *testing.T, s storage.Store, key, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), key, bytes.NewReader(b), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestFetchSession(t *testing.T) {
	src := t.TempDir()
	segmentedSession(t, src)
	store := newLocal(t)
	// What a live upload stored before the recorder died: everything but
	// the open segment.
	for _, n := range []string{"session.json", "cam-s0001.mkv", "cam-s0002.mkv", "mic.mkv"} {
		putFile(t, store, "rooms/call/"+n, filepath.Join(src, n))
	}
	dst := filepath.Join(t.TempDir(), "fresh")
	m, err := storage.FetchSession(t.Context(), store, "rooms/call/", dst, storage.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := manifest.Load(filepath.Join(dst, "session.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Participants[0].Tracks[0].Path != again.Participants[0].Tracks[0].Path {
		t.Errorf("returned %q, written %q", m.Participants[0].Tracks[0].Path, again.Participants[0].Tracks[0].Path)
	}
	cam := again.Participants[0].Tracks[0]
	if len(cam.Segments) != 2 {
		t.Fatalf("segments %+v, want the two stored", cam.Segments)
	}
	if end, ok := cam.End(); !ok || end != 21300*time.Millisecond || !cam.Complete {
		t.Errorf("camera ends %v (%v), complete %v; want 21.3s, where its last stored segment ends", end, ok, cam.Complete)
	}
	for _, n := range []string{"cam-s0001.mkv", "cam-s0002.mkv", "mic.mkv"} {
		want, _ := os.ReadFile(filepath.Join(src, n))
		got, err := os.ReadFile(filepath.Join(dst, n))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s fetched %q (%v), want %q", n, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "cam-s0003.mkv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the open segment must not be fetched: %v", err)
	}
	// A rerun finds everything in place and writes the same manifest.
	before, _ := os.ReadFile(filepath.Join(dst, "session.json"))
	if _, err := storage.FetchSession(t.Context(), store, "rooms/call/", dst, storage.FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dst, "session.json"))
	if !bytes.Equal(before, after) {
		t.Errorf("a rerun changed session.json:\n%s\n%s", before, after)
	}

	// A segment stored with another size than recorded is left out: the
	// track then starts with the next one.
	putFile(t, store, "rooms/call/cam-s0001.mkv", filepath.Join(src, "mic.mkv"))
	only := filepath.Join(t.TempDir(), "manifest-only")
	m, err = storage.FetchSession(t.Context(), store, "rooms/call/", only, storage.FetchOptions{ManifestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	cam = m.Participants[0].Tracks[0]
	if len(cam.Segments) != 1 || cam.StartS != 11.4 || filepath.Base(m.Participants[0].VideoPath) != "cam-s0002.mkv" {
		t.Errorf("camera %+v video_path %q: want the second segment only", cam, m.Participants[0].VideoPath)
	}
	if _, err := os.Stat(filepath.Join(only, "mic.mkv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ManifestOnly fetched media: %v", err)
	}

	if _, err := storage.FetchSession(t.Context(), store, "rooms/none/", t.TempDir(), storage.FetchOptions{}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing session: %v, want ErrNotFound", err)
	}
}
