package compose

import "sync"

// dropQueue is a bounded FIFO between the encoder goroutine (push, never
// blocking) and one stream output's goroutine (pop). When it is full,
// push drops the oldest item and counts it; the consumer learns of the gap
// from pop. It is safe for concurrent use: mu guards every field but
// ready, a channel signalled (never blocking) on push and close.
type dropQueue[T any] struct {
	mu      sync.Mutex
	items   []T // ring of cap slots
	head, n int
	closed  bool
	gap     bool  // items were dropped since the last pop
	dropped int64 // dropped since creation
	ready   chan struct{}
}

func newDropQueue[T any](capacity int) *dropQueue[T] {
	return &dropQueue[T]{items: make([]T, max(1, capacity)), ready: make(chan struct{}, 1)}
}

// push appends x. On a full queue the oldest item is removed and returned
// (dropped true) for the caller to release. After close, x itself is
// returned as dropped.
func (q *dropQueue[T]) push(x T) (old T, dropped bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return x, true
	}
	if q.n == len(q.items) {
		old, dropped = q.items[q.head], true
		var zero T
		q.items[q.head] = zero
		q.head = (q.head + 1) % len(q.items)
		q.n--
		q.gap = true
		q.dropped++
	}
	q.items[(q.head+q.n)%len(q.items)] = x
	q.n++
	q.signal()
	return old, dropped
}

func (q *dropQueue[T]) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop removes the oldest item; gap says items were dropped right before
// it. ok is false when the queue is empty; closed says no item will come.
func (q *dropQueue[T]) pop() (x T, gap, ok, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return x, false, false, q.closed
	}
	x = q.items[q.head]
	var zero T
	q.items[q.head] = zero
	q.head = (q.head + 1) % len(q.items)
	q.n--
	gap, q.gap = q.gap, false
	return x, gap, true, false
}

// close ends the queue: pushes are refused, pops drain what is left.
func (q *dropQueue[T]) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.signal()
}

// drops is how many items were dropped so far.
func (q *dropQueue[T]) drops() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// length is how many items wait.
func (q *dropQueue[T]) length() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
