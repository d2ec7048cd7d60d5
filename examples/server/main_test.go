package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestFlags: -h prints the usage; a bad auto-record rule and a bad log
// level are refused before anything starts.
func TestFlags(t *testing.T) {
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out, &errs); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(errs.String(), "--nats") && !strings.Contains(errs.String(), "-nats") {
		t.Errorf("usage lacks --nats:\n%s", errs.String())
	}
	t.Setenv("ROOMTAPE_API_KEYS", "test-key-0123456789abcdef")
	for _, args := range [][]string{
		{"--env-file", "", "--data-dir", t.TempDir(), "--auto-record", "["},
		{"--env-file", "", "--data-dir", t.TempDir(), "--log-level", "LOUD"},
	} {
		if err := run(context.Background(), args, &out, &errs); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
