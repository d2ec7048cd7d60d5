//go:build !linux

package s3test

import (
	"syscall"
	"time"
)

// sysProcAttr has nothing to add outside Linux.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitStopped cannot look at threads outside Linux: it leaves the signal
// a moment to arrive.
func waitStopped(int, time.Duration) error {
	time.Sleep(100 * time.Millisecond)
	return nil
}
