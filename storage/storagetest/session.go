package storagetest

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/roomtape/roomtape/storage"
)

// FinalSize is the size of a Session's final MP4: more than one 5 MiB part,
// so that multipart backends split it.
const FinalSize = 6<<20 + 3

// Session is a recorded session on disk, laid out as the bot leaves it
// (recordings/<session_id>/...), for testing UploadSession. Its files hold
// deterministic pseudo-random bytes: storage does not look inside media.
type Session struct {
	// ID is the session id, Dir the session directory and Manifest the
	// path of its session.json.
	ID, Dir, Manifest string
	// Files maps the name of each file in Dir to its content.
	Files map[string][]byte
}

// sessionFiles are the files of a Session with their sizes, in upload
// order after the final MP4 and session.json.
var sessionFiles = []struct {
	name string
	size int
}{
	{"alice_video.mp4", 300 << 10},
	{"alice_audio.wav", 96 << 10},
	{"bob_video.mp4", 200 << 10},
	{"bob_audio.wav", 64 << 10},
	{"mixed.wav", 128 << 10},
}

// NewSession writes a session into a new directory under parent. Its
// session.json is in the prototype's format; alice's paths are absolute
// paths of the machine that recorded it (they no longer exist), bob's are
// relative.
func NewSession(tb testing.TB, parent string) *Session {
	tb.Helper()
	s := &Session{ID: "20260318_132416", Files: map[string][]byte{}}
	s.Dir = filepath.Join(parent, s.ID)
	s.Manifest = filepath.Join(s.Dir, "session.json")
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	s.write(tb, s.ID+"_recording.mp4", payload(FinalSize, 100))
	for i, f := range sessionFiles {
		s.write(tb, f.name, payload(f.size, uint64(101+i)))
	}
	oldDir := "/home/bot/recordings/" + s.ID
	m := map[string]any{
		"session_id":  s.ID,
		"session_dir": oldDir,
		"participants": []map[string]any{
			{
				"name": "Alice", "join_time_s": 4.46, "leave_time_s": 54.27,
				"video_path": oldDir + "/alice_video.mp4", "audio_path": oldDir + "/alice_audio.wav",
			},
			{
				"name": "Bob", "join_time_s": 39.01, "leave_time_s": 51.49,
				"video_path": "bob_video.mp4", "audio_path": "bob_audio.wav",
			},
		},
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	s.write(tb, "session.json", b)
	return s
}

func (s *Session) write(tb testing.TB, name string, b []byte) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(s.Dir, name), b, 0o644); err != nil {
		tb.Fatal(err)
	}
	s.Files[name] = b
}

// Keys returns the keys of every file of the session under prefix, in the
// order UploadSession uploads them with Manifest, Participants and Extra
// "mixed.wav".
func (s *Session) Keys(prefix string) []string {
	keys := []string{prefix + s.ID + "_recording.mp4", prefix + "session.json"}
	for _, f := range sessionFiles {
		keys = append(keys, prefix+f.name)
	}
	return keys
}

// CheckStored checks that every object res reports as stored holds the
// content of its local file.
func (s *Session) CheckStored(tb testing.TB, store storage.Store, res *storage.UploadResult) {
	tb.Helper()
	for _, o := range res.Objects {
		if o.Status == storage.StatusFailed {
			continue
		}
		want := s.Files[filepath.Base(o.File)]
		rc, _, err := store.Get(tb.Context(), o.Key)
		if err != nil {
			tb.Fatalf("%s reported %v but: %v", o.Key, o.Status, err)
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			tb.Fatalf("%s: stored %d bytes (%v), local file has %d", o.Key, len(got), err, len(want))
		}
	}
}

// CheckLocalIntact checks that every file of the session is still on disk,
// unchanged.
func (s *Session) CheckLocalIntact(tb testing.TB) {
	tb.Helper()
	for name, want := range s.Files {
		got, err := os.ReadFile(filepath.Join(s.Dir, name))
		if err != nil || !bytes.Equal(got, want) {
			tb.Errorf("local file %s changed or missing: %v", name, err)
		}
	}
}
