#!/usr/bin/env bash
# compose.sh times roomtape's composer (examples/compose) against the
# prototype's pipeline (seed_pipeline.py) and one ffmpeg command
# (onepass.py) on synthetic sessions made by mksession.py, in one run and at
# equal settings (1280x720, preset fast, crf 18 unless overridden), and
# reports wall seconds, ratios, peak RSS and frozen-frame checks.
#
#   bench/compose.sh [SHARED_BENCH_DIR]
#
# SHARED_BENCH_DIR (or $SHARED_BENCH) holds mksession.py, seed_pipeline.py
# and onepass.py (../shared/bench next to the repository by default).
# Environment: FFMPEG (ffmpeg CLI for the Python tools and freezedetect;
# default $ROOMTAPE_FFMPEG or ffmpeg on PATH), PRESET, CRF, WIDTH, HEIGHT,
# SESSIONS (names among "example four tiny"), REPEAT (runs of each composer,
# interleaved; the fastest counts, default 1), WORK (scratch dir, default a
# mktemp dir that is removed). Not run by `make test`: it takes minutes.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
shared=${1:-${SHARED_BENCH:-$here/../shared/bench}}
[ -f "$shared/mksession.py" ] || { echo "no mksession.py in $shared" >&2; exit 1; }
export FFMPEG=${FFMPEG:-${ROOMTAPE_FFMPEG:-$(command -v ffmpeg)}}
preset=${PRESET:-fast}
crf=${CRF:-18}
width=${WIDTH:-1280}
height=${HEIGHT:-720}
sessions=${SESSIONS:-example four}
repeat=${REPEAT:-1}
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else
	work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi

(cd "$here" && go build -o "$work/compose" ./examples/compose)

# timed LABEL CMD...: runs CMD, keeps the fastest wall seconds, the least
# CPU seconds (user + system, the whole process tree) and the largest peak
# RSS (KiB, the largest process of the tree) of the runs so far in
# LABEL_wall, LABEL_cpu and LABEL_rss. On a loaded shared machine wall time
# mostly measures the scheduler; CPU time is the steadier measure of work.
timed() {
	local label=$1; shift
	/usr/bin/time -f "%e %M %U %S" -o "$work/$label.time" "$@" >"$work/$label.log" 2>&1 || {
		echo "$label failed:" >&2; tail -20 "$work/$label.log" >&2; exit 1; }
	local wall rss usr sys cpu best bestcpu maxrss
	read -r wall rss usr sys <"$work/$label.time"
	cpu=$(echo "$usr + $sys" | bc)
	eval "best=\${${label}_wall:-} bestcpu=\${${label}_cpu:-} maxrss=\${${label}_rss:-0}"
	if [ -z "$best" ] || [ "$(echo "$wall < $best" | bc)" = 1 ]; then best=$wall; fi
	if [ -z "$bestcpu" ] || [ "$(echo "$cpu < $bestcpu" | bc)" = 1 ]; then bestcpu=$cpu; fi
	[ "$rss" -gt "$maxrss" ] && maxrss=$rss
	eval "${label}_wall=$best ${label}_cpu=$bestcpu ${label}_rss=$maxrss"
}

# freezes FILE: number of freezes of 0.5 s or more (the test pattern moves in
# every frame, so any freeze is a composition bug).
freezes() {
	"$FFMPEG" -hide_banner -nostats -i "$1" -vf freezedetect=n=0.001:d=0.5 -map 0:v -f null - 2>&1 |
		grep -c 'freeze_start' || true
}

printf '%-8s %7s %9s %7s %12s %9s %8s %8s %8s %8s %8s %7s\n' session ours_s onepass_s seed_s ours/onepass ours/seed cpu_ours cpu_onep cpu_seed ours_MB onep_MB freezes
for s in $sessions; do
	case $s in
	example) spec="Aditya:0:65 iPhone:40:55:720x1280" ;;
	four) spec="Ana:0:60 Ben:10:50 Cam:20:60:720x1280 Dee:30:45" ;;
	tiny) spec="A:0:4:320x180 B:1:3:180x320" ;; # checks the script itself
	*) echo "unknown session $s" >&2; exit 1 ;;
	esac
	dir=$work/$s
	# shellcheck disable=SC2086
	python3 "$shared/mksession.py" "$dir" $spec >/dev/null
	unset ours_wall ours_cpu ours_rss onepass_wall onepass_cpu onepass_rss seed_wall seed_cpu seed_rss
	for _ in $(seq "$repeat"); do
		timed ours "$work/compose" --session "$dir/session.json" --output "$dir/ours.mp4" \
			--width "$width" --height "$height" --preset "$preset" --crf "$crf"
		timed onepass python3 "$shared/onepass.py" "$dir/session.json" "$dir/onepass.mp4" \
			--width "$width" --height "$height" --preset "$preset" --crf "$crf"
		timed seed python3 "$shared/seed_pipeline.py" "$dir/session.json" "$dir/seed.mp4" \
			--width "$width" --height "$height" --preset "$preset" --crf "$crf"
	done
	printf '%-8s %7.1f %9.1f %7.1f %12.2f %9.2f %8.1f %8.1f %8.1f %8d %8d %7s\n' "$s" \
		"$ours_wall" "$onepass_wall" "$seed_wall" \
		"$(echo "$ours_wall / $onepass_wall" | bc -l)" "$(echo "$ours_wall / $seed_wall" | bc -l)" \
		"$ours_cpu" "$onepass_cpu" "$seed_cpu" \
		$((ours_rss / 1024)) $((onepass_rss / 1024)) "$(freezes "$dir/ours.mp4")"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (machines are noisy: compare ratios from one run)"
