#!/usr/bin/env bash
# gotest.sh runs `go test -v "$@"`, keeps the whole output in build/test.log
# (or $GOTEST_LOG) and prints a summary: each package's result, every skipped test with its
# reason (CI must show why anything was skipped), and every failure with
# its log. Exits with go test's status.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
log=${GOTEST_LOG:-$here/build/test.log}
mkdir -p "$here/build"
go test -v "$@" >"$log" 2>&1
rc=$?
# go test -v streams a test's log lines before its "--- SKIP"/"--- FAIL"
# line (after "=== RUN/NAME" headers), so they are buffered per header.
awk '
	function flush() { printf "%s", buf; buf = "" }
	/^(ok|FAIL|\?) / { print; buf = ""; panicking = 0; next }
	/^(panic:|fatal error:)/ { panicking = 1 }
	panicking { print; next }
	/^[[:space:]]*=== / { buf = ""; next }
	/^[[:space:]]*--- PASS/ { buf = ""; next }
	/^[[:space:]]*--- (SKIP|FAIL)/ { print; flush(); next }
	/^    / { buf = buf $0 "\n"; next }
' "$log"
if [ $rc -ne 0 ]; then
	echo "go test failed (exit $rc); the full output is in $log; its last lines:"
	tail -n 60 "$log"
fi
exit $rc
