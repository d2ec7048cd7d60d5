package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/local"
)

// ExampleUploadSession publishes a session's final MP4 and session.json to
// a store (here a local directory; the bot uses storage/s3) and prints the
// URL of the MP4. Local files are kept.
func ExampleUploadSession() {
	tmp, err := os.MkdirTemp("", "roomtape-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	dir := filepath.Join(tmp, "recordings", "20260318_132416")
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, "20260318_132416_recording.mp4"), []byte("not really an MP4"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "session.json"), []byte(`{"session_id": "20260318_132416", "participants": [
		{"name": "Aditya", "join_time_s": 4.46, "leave_time_s": 54.27, "video_path": "Aditya_video.mp4", "audio_path": "Aditya_audio.wav"}]}`), 0o644)

	_ = os.MkdirAll(filepath.Join(tmp, "bucket"), 0o755)
	store, err := local.New(filepath.Join(tmp, "bucket"), local.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = store.Close() }()

	res, err := storage.UploadSession(context.Background(), store, filepath.Join(dir, "session.json"), storage.UploadOptions{
		Manifest: true,
		BaseURL:  "https://cdn.example.com",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range res.Objects {
		fmt.Println(o.Key, o.Status, o.Size)
	}
	fmt.Println(res.Final().URL)
	// Output:
	// 20260318_132416/20260318_132416_recording.mp4 uploaded 17
	// 20260318_132416/session.json uploaded 186
	// https://cdn.example.com/20260318_132416/20260318_132416_recording.mp4
}
