package whip_test

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv(loadChildEnv) != "" {
		os.Exit(runLoadChild())
	}
	os.Exit(m.Run())
}
