// Package testhook holds knobs that tests of other packages turn to slow
// down or break parts of the pipeline on purpose. Nothing outside tests
// sets them; their zero values do nothing.
package testhook

import "sync/atomic"

// EncodeDelay is slept, when positive, by compose's encoder before each
// video frame, in nanoseconds: a starved composer for tests.
var EncodeDelay atomic.Int64
