package compose

import (
	"testing"
)

func TestDropQueue(t *testing.T) {
	q := newDropQueue[int](3)
	for i := range 5 {
		old, dropped := q.push(i)
		if want := i >= 3; dropped != want || dropped && old != i-3 {
			t.Fatalf("push %d: dropped %v (%d), want %v", i, dropped, old, want)
		}
	}
	if q.drops() != 2 {
		t.Errorf("drops %d, want 2", q.drops())
	}
	x, gap, ok, _ := q.pop()
	if x != 2 || !gap || !ok {
		t.Errorf("pop = %d gap %v ok %v, want 2 after a gap", x, gap, ok)
	}
	x, gap, _, _ = q.pop()
	if x != 3 || gap {
		t.Errorf("pop = %d gap %v, want 3 without a gap", x, gap)
	}
	q.close()
	if x, dropped := q.push(9); !dropped || x != 9 {
		t.Errorf("push after close kept the item")
	}
	if x, _, ok, closed := q.pop(); x != 4 || !ok || closed {
		t.Errorf("pop after close = %d %v %v, want the last item", x, ok, closed)
	}
	if _, _, ok, closed := q.pop(); ok || !closed {
		t.Errorf("drained queue: ok %v closed %v", ok, closed)
	}
}

// FuzzDropQueue checks the queue against a model: a slice bounded to the
// capacity, dropping its head. Every pushed item is popped or dropped
// exactly once, in order.
func FuzzDropQueue(f *testing.F) {
	f.Add(uint8(3), []byte{1, 1, 1, 1, 0, 0, 1, 0, 0, 0})
	f.Add(uint8(1), []byte{1, 0, 1, 1, 0, 2, 1, 0})
	f.Fuzz(func(t *testing.T, capacity uint8, ops []byte) {
		c := int(capacity%8) + 1
		q := newDropQueue[int](c)
		var model []int
		next, closed := 0, false
		gapPending := false
		for _, op := range ops {
			switch {
			case op%4 < 2: // push (half of the operations)
				x := next
				next++
				old, dropped := q.push(x)
				switch {
				case closed:
					if !dropped || old != x {
						t.Fatalf("push after close kept %d", x)
					}
				case len(model) == c:
					if !dropped || old != model[0] {
						t.Fatalf("full push dropped %d (%v), want %d", old, dropped, model[0])
					}
					model = append(model[1:], x)
					gapPending = true
				default:
					if dropped {
						t.Fatalf("push %d dropped %d with room", x, old)
					}
					model = append(model, x)
				}
			case op != 255: // pop
				x, gap, ok, cl := q.pop()
				if len(model) == 0 {
					if ok || cl != closed {
						t.Fatalf("pop on empty: ok %v closed %v (want %v)", ok, cl, closed)
					}
					continue
				}
				if !ok || x != model[0] || gap != gapPending {
					t.Fatalf("pop = %d gap %v ok %v, want %d gap %v", x, gap, ok, model[0], gapPending)
				}
				model, gapPending = model[1:], false
			default: // close (rare)
				q.close()
				closed = true
			}
			if q.length() != len(model) {
				t.Fatalf("length %d, model %d", q.length(), len(model))
			}
		}
	})
}
