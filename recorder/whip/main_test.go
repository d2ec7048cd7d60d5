package whip_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the load test's publishing child when asked to, and
// otherwise the tests followed by a goroutine leak check: every peer
// connection, recording goroutine and publisher must be gone.
func TestMain(m *testing.M) {
	if os.Getenv(loadChildEnv) != "" {
		os.Exit(runLoadChild())
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
