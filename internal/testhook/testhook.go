// Package testhook holds knobs that tests of other packages turn to slow
// down or break parts of the pipeline on purpose. Nothing outside tests
// sets them; their zero values do nothing.
package testhook

import "sync/atomic"

// EncodeDelay is slept, when positive, by compose's encoder before each
// video frame, in nanoseconds: a starved composer for tests.
var EncodeDelay atomic.Int64

// RTMPSendBuffer replaces, when positive, the socket send buffer of
// compose's RTMP pushes, in bytes: a small one makes a stalled link block
// the writer within a second in tests.
var RTMPSendBuffer atomic.Int64
