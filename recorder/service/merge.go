package service

import (
	"time"

	"github.com/roomtape/roomtape/timeline/manifest"
)

// mergeParts merges the manifests of a job's recording parts (each already
// loaded, paths absolute) into one session on the first part's clock; see
// [manifest.Merge], which it is.
func mergeParts(parts []*manifest.Session, offsets []time.Duration) (*manifest.Session, error) {
	return manifest.Merge(parts, offsets)
}
