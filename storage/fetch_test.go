package storage_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// FuzzFetchSession stores a fuzzed session.json and a subset of the
// files it lists (chosen by mask), then fetches it: a valid manifest must
// come back, keeping exactly the stored files, every track with at least
// one, segments in order; an invalid one must fail with ErrMalformed or
// ErrInvalid.
func FuzzFetchSession(f *testing.F) {
	for _, name := range []string{"segmented_session.json", "roomtape_session.json", "prototype_session.json"} {
		b, err := os.ReadFile(filepath.Join("..", "timeline", "manifest", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint64(0xffff))
		f.Add(b, uint64(0x5))
	}
	f.Fuzz(func(t *testing.T, data []byte, mask uint64) {
		src, err := manifest.Parse(bytes.NewReader(data), "")
		if err != nil {
			return
		}
		store := newLocal(t)
		if _, err := store.Put(t.Context(), "s/session.json", bytes.NewReader(data), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		stored := map[string]bool{}
		bit := 0
		put := func(path string, size int64) {
			name := filepath.Base(path)
			if path == "" || stored[name] || storage.ValidKey("s/"+name) != nil {
				return
			}
			if mask&(1<<(bit%64)) != 0 {
				if _, err := store.Put(t.Context(), "s/"+name, bytes.NewReader(make([]byte, max(size, 1))), storage.PutOptions{}); err != nil {
					t.Fatal(err)
				}
				stored[name] = true
			}
			bit++
		}
		for _, p := range src.Participants {
			put(p.VideoPath, 0)
			put(p.AudioPath, 0)
			for _, tr := range p.Tracks {
				put(tr.Path, 0)
				for _, sg := range tr.Segments {
					put(sg.Path, min(sg.Bytes, 1<<16))
				}
			}
		}
		m, err := storage.FetchSession(t.Context(), store, "s/", t.TempDir(), storage.FetchOptions{ManifestOnly: true})
		if err != nil {
			if !errors.Is(err, manifest.ErrInvalid) && !errors.Is(err, manifest.ErrMalformed) && !errors.Is(err, manifest.ErrUnsupportedFormat) {
				t.Fatalf("fetch: %v", err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("fetched manifest: %v", err)
		}
		for _, p := range m.Participants {
			for _, tr := range p.Tracks {
				files := tr.Files()
				if len(files) == 0 || !tr.Complete {
					t.Fatalf("track %+v: no file or not complete", tr)
				}
				for _, fl := range files {
					if !stored[filepath.Base(fl.Path)] {
						t.Fatalf("kept %s, which is not stored", fl.Path)
					}
				}
			}
		}
	})
}
