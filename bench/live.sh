#!/usr/bin/env bash
# bench/live.sh measures live composition (issue 10) side by side with
# offline composition and the prototype's pipeline (seed_pipeline.py, its
# own defaults), in one run, on:
#
#   demo   the bot's demo (30 s, 2 participants), recorded and composed live;
#   long   a MINUTES-long (default 10) 3-participant 720p WHIP session
#          (bench/botload replaying VP8 + Opus), recorded and composed live;
#   example, four   the two mksession.py sessions of bench/compose.sh
#          (prototype layout: H.264 MP4 + WAV), composed offline.
#
# For each: post-call time (the bot's "Composition done in" after Step 1,
# live), offline composition and seed_pipeline wall and CPU seconds, CPU
# per session minute, SSIM against a near-lossless composition of the same
# session by the same composer (--preset ultrafast --crf 1, so only
# encoding loss counts), output size against today's default (preset fast,
# CRF 23), peak RSS. For live sessions also the bot's RSS every 10 s and
# the live lag over time ("composing live ... lag" lines).
#
#   bench/live.sh SHARED_BENCH_DIR [MINUTES]
#
# Environment: SESSIONS (default "demo long example four"), BENCH_OUT
# (results directory, default a new /tmp/roomtape-livebench.*), REUSE=1
# (with BENCH_OUT of an earlier run: report its measurements again instead
# of re-running the offline compositions). The machine is noisy: compare
# the columns of one run.
set -euo pipefail

shared=${1:?usage: bench/live.sh SHARED_BENCH_DIR [MINUTES]}
minutes=${2:-10}
shared=$(cd "$shared" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$here/build/env.mk" ] || { echo "live.sh: run make setup first" >&2; exit 1; }
eval "$(sed -n 's/^export \([A-Z_]*\) := \(.*\)$/export \1="\2"/p' "$here/build/env.mk" | sed 's/\$(PATH)/$PATH/')"
export FFMPEG=${FFMPEG:-$ROOMTAPE_FFMPEG}
out=${BENCH_OUT:-$(mktemp -d /tmp/roomtape-livebench.XXXXXX)}
mkdir -p "$out"
sessions=${SESSIONS:-demo long example four}
log() { printf 'live.sh: %s\n' "$*" >&2; }

log "building into $out"
(cd "$here" && go build -o "$out/bot" ./examples/bot && go build -o "$out/compose" ./examples/compose &&
	go build -o "$out/botload" ./bench/botload)

# timed NAME CMD...: CMD under /usr/bin/time; "NAME wall user sys maxrss_kb"
# appended to $out/times.
timed() {
	local name=$1
	shift
	/usr/bin/time -f "$name %e %U %S %M" -a -o "$out/times" "$@"
}
field() { awk -v n="$1" -v f="$2" '$1 == n { v = $f } END { print v }' "$out/times"; }
cpu() { awk -v u="$(field "$1" 3)" -v s="$(field "$1" 4)" 'BEGIN { printf "%.1f", u + s }'; }
ssim() { "$FFMPEG" -hide_banner -nostats -i "$1" -i "$2" -lavfi '[0:v][1:v]ssim' -f null - 2>&1 | grep -o 'All:[0-9.]*' | cut -d: -f2; }
mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f", b / 1e6 }'; }
length_s() { { "$FFMPEG" -hide_banner -i "$1" 2>&1 || true; } | awk '/Duration/ { split($2, t, ":"); sub(",", "", t[3]); print t[1] * 3600 + t[2] * 60 + t[3] }'; }
if [ "${REUSE:-0}" != 1 ]; then : >"$out/times"; fi
touch "$out/times" "$out/results.txt"

# sample_rss PID FILE: the process's RSS (MB) every 10 s while it runs.
sample_rss() {
	local t=0
	while kill -0 "$1" 2>/dev/null; do
		awk -v t="$t" '/VmRSS/ { printf "%ds %.0fMB\n", t, $2 / 1024 }' "/proc/$1/status" 2>/dev/null >>"$2" || true
		sleep 10
		t=$((t + 10))
	done
}

# offline NAME SESSION_JSON: offline compositions (default, fast/23,
# reference) and seed_pipeline on one session's files; one result row.
offline() {
	local name=$1 json=$2 live=${3:-}
	local d=$out/$name
	if [ "${REUSE:-0}" = 1 ] && [ -n "$(field "$name-seed" 2)" ]; then
		log "$name: reusing the measurements in $out/times"
	else
		offline_runs "$name" "$json"
	fi
	report "$name" "$live"
}

offline_runs() {
	local name=$1 json=$2
	local d=$out/$name
	log "$name: offline composition, reference, preset fast, seed_pipeline"
	timed "$name-offline" "$out/compose" --session "$json" --output "$d/offline.mp4" >/dev/null 2>"$d/offline.err"
	timed "$name-ref" "$out/compose" --session "$json" --output "$d/ref.mp4" --preset ultrafast --crf 1 >/dev/null 2>&1
	timed "$name-fast" "$out/compose" --session "$json" --output "$d/fast23.mp4" --preset fast --crf 23 >/dev/null 2>&1
	(cd "$(dirname "$json")" && timed "$name-seed" python3 "$shared/seed_pipeline.py" "$json" "$d/seed.mp4" \
		--workdir "$d/seed-work" >"$d/seed.out" 2>&1)
}

# report NAME [live]: the result rows of one session.
report() {
	local name=$1 live=${2:-}
	local d=$out/$name
	local len min
	len=$(length_s "$d/offline.mp4")
	min=$(awk -v l="$len" 'BEGIN { print l / 60 }')
	local per_min='{ printf "%.1f", c / m }'
	{
		printf '\n== %s (%.1f min of output) ==\n' "$name" "$min"
		printf '%-34s %10s %10s %10s %10s\n' "" live offline fast/23 seed
		if [ -n "$live" ]; then
			printf '%-34s %9ss %9ss %10s %9ss\n' "post-call wall (after Step 1)" "$(field "$name-live-post" 2)" "$(field "$name-offline" 2)" - "$(field "$name-seed" 2)"
			printf '%-34s %10s %10s %10s %10s\n' "CPU s per session minute (compose)" \
				"$(awk -v c="$(cat "$d/live-cpu")" -v m="$min" "BEGIN $per_min")" \
				"$(awk -v c="$(cpu "$name-offline")" -v m="$min" "BEGIN $per_min")" \
				"$(awk -v c="$(cpu "$name-fast")" -v m="$min" "BEGIN $per_min")" \
				"$(awk -v c="$(cpu "$name-seed")" -v m="$min" "BEGIN $per_min")"
			printf '%-34s %10s %10s %10s %10s\n' "SSIM vs near-lossless" "$(ssim "$d/live.mp4" "$d/ref.mp4")" "$(ssim "$d/offline.mp4" "$d/ref.mp4")" "$(ssim "$d/fast23.mp4" "$d/ref.mp4")" "$(ssim "$d/seed.mp4" "$d/ref.mp4")"
			printf '%-34s %9sM %9sM %9sM %9sM\n' "size" "$(mb "$d/live.mp4")" "$(mb "$d/offline.mp4")" "$(mb "$d/fast23.mp4")" "$(mb "$d/seed.mp4")"
			printf '%-34s %9sM %9sM %9sM %9sM\n' "peak RSS (live: whole bot)" "$(($(field "$name-live" 5) / 1024))" "$(($(field "$name-offline" 5) / 1024))" "$(($(field "$name-fast" 5) / 1024))" "$(($(field "$name-seed" 5) / 1024))"
		else
			printf '%-34s %10s %9ss %10s %9ss\n' "composition wall" - "$(field "$name-offline" 2)" - "$(field "$name-seed" 2)"
			printf '%-34s %10s %10s %10s %10s\n' "CPU s per session minute" - \
				"$(awk -v c="$(cpu "$name-offline")" -v m="$min" "BEGIN $per_min")" \
				"$(awk -v c="$(cpu "$name-fast")" -v m="$min" "BEGIN $per_min")" \
				"$(awk -v c="$(cpu "$name-seed")" -v m="$min" "BEGIN $per_min")"
			printf '%-34s %10s %10s %10s %10s\n' "SSIM vs near-lossless" - "$(ssim "$d/offline.mp4" "$d/ref.mp4")" "$(ssim "$d/fast23.mp4" "$d/ref.mp4")" "$(ssim "$d/seed.mp4" "$d/ref.mp4")"
			printf '%-34s %10s %9sM %9sM %9sM\n' "size" - "$(mb "$d/offline.mp4")" "$(mb "$d/fast23.mp4")" "$(mb "$d/seed.mp4")"
			printf '%-34s %10s %9sM %9sM %9sM\n' "peak RSS" - "$(($(field "$name-offline" 5) / 1024))" "$(($(field "$name-fast" 5) / 1024))" "$(($(field "$name-seed" 5) / 1024))"
		fi
		printf 'CPU s (whole run): offline %s, fast/23 %s, seed_pipeline %s, reference %s\n' "$(cpu "$name-offline")" "$(cpu "$name-fast")" "$(cpu "$name-seed")" "$(cpu "$name-ref")"
		if [ -n "$live" ]; then
			printf 'live bot: %s\n' "$(grep -h '^CPU:' "$d/live.out")"
			printf 'live lag over time: %s\n' "$(grep -ho 'lag [0-9.]*s' "$d/live.out" | awk '{ printf "%s ", $2 }')"
			printf 'bot RSS every 10 s: %s\n' "$(tr '\n' ' ' <"$d/rss")"
		fi
	} | tee -a "$out/results.txt"
}

# live NAME BOT_ARGS...: a live-composed bot run; its files, then offline.
live() {
	local name=$1
	shift
	local d=$out/$name
	mkdir -p "$d"
	timed "$name-live" "$out/bot" --env-file /dev/null --recordings-dir "$d/rec" "$@" >"$d/live.out" 2>"$d/live.err" &
	live_pid=$!
	sleep 1
	sample_rss "$(pgrep -n -f "$out/bot --env-file" || echo "$live_pid")" "$d/rss" </dev/null >/dev/null 2>&1 &
}
finish_live() {
	local name=$1 pid=$2
	local d=$out/$name
	wait "$pid"
	cp "$d"/rec/*/*_recording.mp4 "$d/live.mp4"
	local post
	post=$(grep -o 'Composition done in [0-9.]*' "$d/live.out" | awk '{ print $4 }')
	echo "$name-live-post $post 0 0 0" >>"$out/times"
	# Composing live runs during the recording: the bot's whole CPU
	# (its "CPU: recording Xs, post-processing Ys" line, recording and
	# composing together) is counted, an upper bound of composing's.
	grep -o 'CPU: recording [0-9.]*s, post-processing [0-9.]*s' "$d/live.out" |
		awk '{ gsub("s,?", "", $3); gsub("s", "", $5); printf "%.1f", $3 + $5 }' >"$d/live-cpu"
	offline "$name" "$(ls "$d"/rec/*/session.json)" live
}

for s in $sessions; do
	if [ "${REUSE:-0}" = 1 ] && [ -f "$out/$s/live.mp4" ]; then
		offline "$s" "$(ls "$out/$s"/rec/*/session.json)" live
		continue
	fi
	case $s in
	demo)
		log "demo session (30 s), live"
		live demo
		finish_live demo "$live_pid"
		;;
	long)
		secs=$((minutes * 60))
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		log "${minutes}-minute session, 3 x 720p, bot on 127.0.0.1:$port, live"
		live long --whip-listen "127.0.0.1:$port" --ice-loopback --idle-timeout 2s
		for _ in $(seq 100); do grep -q 'Recording WHIP publishers' "$out/long/live.out" 2>/dev/null && break; sleep 0.1; done
		"$out/botload" --whip "http://127.0.0.1:$port/whip" --replay \
			"Aditya:0:$secs" "iPhone:$((secs / 10)):$((secs * 9 / 10)):720x1280" "Guest:$((secs / 5)):$((secs * 4 / 5))" >"$out/long/botload.out"
		finish_live long "$live_pid"
		;;
	example | four)
		[ $s = example ] && spec="Aditya:0:65 iPhone:40:55:720x1280" || spec="Ana:0:60 Ben:10:50 Cam:20:60:720x1280 Dee:30:45"
		mkdir -p "$out/$s"
		# shellcheck disable=SC2086
		python3 "$shared/mksession.py" "$out/$s/rec" $spec >/dev/null
		offline "$s" "$out/$s/rec/session.json"
		;;
	*) echo "unknown session $s" >&2; exit 1 ;;
	esac
done
log "results in $out/results.txt"
