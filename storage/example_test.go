package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/storagetest"
)

// memStore is a host-implemented Store: objects in a map. A real host
// backend would stream to its service instead of buffering.
type memStore struct {
	mu      sync.Mutex
	objects map[string]memObject
}

type memObject struct {
	data []byte
	obj  storage.Object
}

func newMemStore() *memStore { return &memStore{objects: map[string]memObject{}} }

func (m *memStore) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Object, error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Object{}, fmt.Errorf("mem: put: %w", err)
	}
	var buf bytes.Buffer
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(&buf, h), storage.ContextReader(ctx, r)); err != nil {
		return storage.Object{}, fmt.Errorf("mem: put %q: %w", key, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if opts.SHA256 != "" && opts.SHA256 != sum {
		return storage.Object{}, fmt.Errorf("mem: put %q: %w", key, storage.ErrChecksum)
	}
	obj := storage.Object{Key: key, Size: int64(buf.Len()), SHA256: sum, ContentType: opts.ContentType, ModTime: time.Now()}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = memObject{data: buf.Bytes(), obj: obj}
	return obj, nil
}

func (m *memStore) Get(ctx context.Context, key string) (io.ReadCloser, storage.Object, error) {
	obj, err := m.Stat(ctx, key)
	if err != nil {
		return nil, storage.Object{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return io.NopCloser(bytes.NewReader(m.objects[key].data)), obj, nil
}

func (m *memStore) Stat(_ context.Context, key string) (storage.Object, error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Object{}, fmt.Errorf("mem: stat: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return storage.Object{}, fmt.Errorf("mem: stat %q: %w", key, storage.ErrNotFound)
	}
	return o.obj, nil
}

func (m *memStore) Delete(_ context.Context, key string) error {
	if err := storage.ValidKey(key); err != nil {
		return fmt.Errorf("mem: delete: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// The in-memory store of the example passes the conformance suite.
func TestMemStoreConformance(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Store { return newMemStore() })
}

// Example_hostStore shows a Store implemented by the host application (here
// in memory) and used through the interface.
func Example_hostStore() {
	ctx := context.Background()
	var s storage.Store = newMemStore()

	obj, err := s.Put(ctx, "20260318_132416/session.json", strings.NewReader(`{"session_id":"20260318_132416"}`),
		storage.PutOptions{ContentType: "application/json"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(obj.Key, obj.Size)

	_, err = s.Stat(ctx, "20260318_132416/missing.mp4")
	fmt.Println(errors.Is(err, storage.ErrNotFound))

	_, err = s.Put(ctx, "../outside", strings.NewReader("x"), storage.PutOptions{})
	fmt.Println(errors.Is(err, storage.ErrInvalidKey))

	u, _ := storage.ObjectURL(s, obj.Key, "https://cdn.example.com/recordings")
	fmt.Println(u)
	// Output:
	// 20260318_132416/session.json 32
	// true
	// true
	// https://cdn.example.com/recordings/20260318_132416/session.json
}
