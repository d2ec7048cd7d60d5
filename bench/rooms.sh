#!/usr/bin/env bash
# bench/rooms.sh runs ROOMS (default 3) live-composing bots at once on
# this machine, each recording a three-person 720p WHIP room (bench/botload
# replaying VP8 + Opus, 1280x720, 720x1280, 1280x720) for MINUTES (default
# 2), all on 127.0.0.1, and reports per room: the bot's CPU per session
# minute (recording and composing), its peak RSS, the live lag over time
# and the post-call time; and the machine's load. It answers issue 10's
# "a 2-core machine live-composes at least three such rooms at once
# without lag": every room's lag must stay near the live delay (3 s).
#
#   bench/rooms.sh [ROOMS] [MINUTES]
#
# Environment: BENCH_OUT (results directory, default a new
# /tmp/roomtape-rooms.*). Bounded: each room ends when its publishers
# leave after MINUTES (the bot's idle timeout is 2 s).
set -euo pipefail

rooms=${1:-3}
minutes=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$here/build/env.mk" ] || { echo "rooms.sh: run make setup first" >&2; exit 1; }
eval "$(sed -n 's/^export \([A-Z_]*\) := \(.*\)$/export \1="\2"/p' "$here/build/env.mk" | sed 's/\$(PATH)/$PATH/')"
out=${BENCH_OUT:-$(mktemp -d /tmp/roomtape-rooms.XXXXXX)}
mkdir -p "$out"
log() { printf 'rooms.sh: %s\n' "$*" >&2; }

log "building into $out"
(cd "$here" && go build -o "$out/bot" ./examples/bot && go build -o "$out/botload" ./bench/botload)

secs=$((minutes * 60))
pids=()
for r in $(seq "$rooms"); do
	d=$out/room$r
	mkdir -p "$d"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	/usr/bin/time -f "%e %U %S %M" -o "$d/time" "$out/bot" --env-file /dev/null --recordings-dir "$d/rec" \
		--whip-listen "127.0.0.1:$port" --ice-loopback --idle-timeout 2s >"$d/bot.out" 2>"$d/bot.err" &
	pids+=($!)
	for _ in $(seq 100); do grep -q 'Recording WHIP publishers' "$d/bot.out" 2>/dev/null && break; sleep 0.1; done
	"$out/botload" --whip "http://127.0.0.1:$port/whip" --replay \
		"A$r:0:$secs" "P$r:0:$secs:720x1280" "G$r:0:$secs" >"$d/botload.out" 2>&1 &
	pids+=($!)
done
: >"$out/load"
(while sleep 10; do cut -d' ' -f1 /proc/loadavg >>"$out/load"; done) &
sampler=$!
for p in "${pids[@]}"; do wait "$p" || true; done
kill "$sampler" 2>/dev/null || true

{
	printf '%d rooms x 3 x 720p, %d min each, at once; load average every 10 s: %s\n' "$rooms" "$minutes" "$(tr '\n' ' ' <"$out/load")"
	printf '%-6s %10s %8s %10s %10s %s\n' room "CPU s/min" cores "peak RSS" "post-call" "lag every 10 s (s)"
	for r in $(seq "$rooms"); do
		d=$out/room$r
		read -r _ user sys rss <"$d/time"
		post=$(grep -o 'Composition done in [0-9.]*' "$d/bot.out" | awk '{ print $4 }')
		lags=$(grep -o 'lag [0-9.]*s' "$d/bot.out" | awk '{ printf "%s ", $2 }')
		printf '%-6s %10s %8s %9sM %9ss %s\n' "room$r" "$(awk -v u="$user" -v s="$sys" -v m="$minutes" 'BEGIN { printf "%.1f", (u + s) / m }')" \
			"$(awk -v u="$user" -v s="$sys" -v m="$minutes" 'BEGIN { printf "%.2f", (u + s) / m / 60 }')" \
			"$((rss / 1024))" "${post:-?}" "$lags"
	done
} | tee "$out/results.txt"
log "results in $out/results.txt"
