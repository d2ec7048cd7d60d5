#!/usr/bin/env bash
# bench/bot.sh measures the bot (examples/bot) side by side with the
# prototype's post-processing (seed_pipeline.py) on the same recorded files:
#
#   1. the demo session (30 s: Aditya 1280x720, iPhone 720x1280 joining and
#      leaving): post-processing wall time after the last participant left
#      (the bot's "DONE — total post-processing"), then seed_pipeline.py's;
#   2. a MINUTES-long (default 10) 3-participant session, publishers replaying
#      pre-encoded 720p VP8 (1.5 Mbit/s) + Opus from another process
#      (bench/botload): the bot process's CPU seconds (user + system, from
#      /usr/bin/time) per session minute, recording and post-processing
#      together, then seed_pipeline.py's CPU seconds on the same files.
#
# Both compose 1280x720 with libx264 preset fast, CRF 18 (seed_pipeline's
# settings). BOT_BENCH_SKIP_DEMO=1 runs part 2 only. Usage:
#
#   bench/bot.sh SHARED_BENCH_DIR [MINUTES]
#
# SHARED_BENCH_DIR holds seed_pipeline.py (../shared/bench). Results go to
# $BENCH_OUT (default a new /tmp/roomtape-botbench.* directory). The machine
# is noisy: compare the two columns of one run.
set -euo pipefail

bench=${1:?usage: bench/bot.sh SHARED_BENCH_DIR [MINUTES]}
minutes=${2:-10}
bench=$(cd "$bench" && pwd)
[ -f "$bench/seed_pipeline.py" ] || { echo "bot.sh: no seed_pipeline.py in $bench" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${ROOMTAPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/roomtape}
ff=${FFMPEG_PREFIX:-$cache/ffmpeg-7.1}
export PKG_CONFIG_PATH=$ff/lib/pkgconfig CGO_LDFLAGS=-Wl,-rpath,$ff/lib
export FFMPEG=${FFMPEG:-$ff/bin/ffmpeg}
out=${BENCH_OUT:-$(mktemp -d /tmp/roomtape-botbench.XXXXXX)}
mkdir -p "$out"
settings=(--width 1280 --height 720 --preset fast --crf 18)
log() { printf 'bot.sh: %s\n' "$*" >&2; }

log "building into $out"
(cd "$here" && go build -o "$out/bot" ./examples/bot && go build -o "$out/botload" ./bench/botload)

# timed CMD...: runs CMD under /usr/bin/time, appending "wall user sys maxrss_kb"
# to $out/times; CMD's output goes to the caller.
timed() {
	local name=$1
	shift
	/usr/bin/time -f "$name %e %U %S %M" -a -o "$out/times" "$@"
}
field() { awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$out/times" | tail -n1; }
total_s() { grep -o 'total_s=[0-9.]*' "$1" | tail -n1 | cut -d= -f2; }
: >"$out/times"

# 1. The demo session (BOT_BENCH_SKIP_DEMO=1 skips it).
demo_post=- demo_seed=-
if [ "${BOT_BENCH_SKIP_DEMO:-0}" != 1 ]; then
	log "demo session (30 s)"
	timed demo "$out/bot" --env-file /dev/null --recordings-dir "$out/demo" "${settings[@]}" | tee "$out/demo.out"
	demo_json=$(ls "$out"/demo/*/session.json)
	demo_post=$(grep -o 'total post-processing: [0-9.]*' "$out/demo.out" | awk '{ print $3 }')
	log "seed_pipeline.py on the demo's files"
	(cd "$(dirname "$demo_json")" && timed demo-seed python3 "$bench/seed_pipeline.py" session.json "$out/demo-seed.mp4" \
		--preset fast --crf 18 --width 1280 --height 720 --workdir "$out/demo-seed-work") | tee "$out/demo-seed.out"
	demo_seed=$(total_s "$out/demo-seed.out")
fi

# 2. A MINUTES-long session with 3 replayed 720p participants.
secs=$((minutes * 60))
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "${minutes}-minute session, 3 participants, bot on 127.0.0.1:$port"
timed long "$out/bot" --env-file /dev/null --whip-listen "127.0.0.1:$port" --ice-loopback --idle-timeout 2s \
	--recordings-dir "$out/long" "${settings[@]}" >"$out/long.out" 2>"$out/long.err" &
bot_pid=$!
for _ in $(seq 100); do grep -q 'Recording WHIP publishers' "$out/long.out" && break; sleep 0.1; done
"$out/botload" --whip "http://127.0.0.1:$port/whip" --replay \
	"Aditya:0:$secs" "iPhone:$((secs / 10)):$((secs * 9 / 10)):720x1280" "Guest:$((secs / 5)):$((secs * 4 / 5))" |
	tee "$out/botload.out"
wait "$bot_pid"
cat "$out/long.out"
long_json=$(ls "$out"/long/*/session.json)
long_min=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(max(p["leave_time_s"] for p in d["participants"]) / 60)' "$long_json")
log "seed_pipeline.py on the long session's files"
(cd "$(dirname "$long_json")" && timed long-seed python3 "$bench/seed_pipeline.py" session.json "$out/long-seed.mp4" \
	--preset fast --crf 18 --width 1280 --height 720 --workdir "$out/long-seed-work") | tee "$out/long-seed.out"

long_cpu=$(awk -v u="$(field long 3)" -v s="$(field long 4)" 'BEGIN { print u + s }')
seed_cpu=$(awk -v u="$(field long-seed 3)" -v s="$(field long-seed 4)" 'BEGIN { print u + s }')
rec_cpu=$(grep -o 'CPU: recording [0-9.]*' "$out/long.out" | awk '{ print $3 }')
post_cpu=$(grep -o 'post-processing [0-9.]*s$' "$out/long.out" | tr -d s | awk '{ print $2 }')
long_post=$(grep -o 'total post-processing: [0-9.]*' "$out/long.out" | awk '{ print $3 }')
{
	echo
	echo "== results ($out) =="
	printf '%-58s %12s %12s\n' "" "roomtape" "seed_pipeline"
	printf '%-58s %11ss %11ss\n' "demo (30 s): post-processing wall after the last leave" "$demo_post" "$demo_seed"
	printf '%-58s %11ss %11ss\n' "${minutes} min, 3 x 720p: post-processing wall" "$long_post" "$(total_s "$out/long-seed.out")"
	printf '%-58s %12s %12s\n' "${minutes} min, 3 x 720p: CPU s per session minute" \
		"$(awk -v c="$long_cpu" -v m="$long_min" 'BEGIN { printf "%.1f", c / m }')" \
		"$(awk -v c="$seed_cpu" -v m="$long_min" 'BEGIN { printf "%.1f", c / m }')"
	printf '%-58s %12s %12s\n' "  of which recording (bot) / post-processing" "${rec_cpu}s/${post_cpu}s" "-/${seed_cpu}s"
	printf '%-58s %10sMB %10sMB\n' "peak RSS" "$(($(field long 5) / 1024))" "$(($(field long-seed 5) / 1024))"
	echo "session length ${long_min} min; bot CPU ${long_cpu}s total; seed_pipeline CPU ${seed_cpu}s (post-processing only)"
} | tee "$out/results.txt"
