#!/usr/bin/env bash
# setup.sh prepares a machine to build and test roomtape. It is idempotent: a
# second run checks what is there and returns in seconds.
#
#   1. installs the Debian/Ubuntu packages the build and the tests need;
#   2. finds FFmpeg 7.x (libavcodec 61): the system's if pkg-config reports it,
#      FFMPEG_PREFIX if the user points at their own build, otherwise builds
#      FFmpeg 7.1 from Debian 13's source package into a cached prefix;
#   3. installs pinned Go tools (golangci-lint, versitygw, livekit-server);
#   4. writes build/env.mk, which the Makefile includes, so that go build and
#      go test find FFmpeg through PKG_CONFIG_PATH and an rpath.
#
# Environment:
#   ROOMTAPE_CACHE  where the FFmpeg build and tools are cached
#                   (default ${XDG_CACHE_HOME:-$HOME/.cache}/roomtape)
#   FFMPEG_PREFIX   use this FFmpeg 7.x install (its lib/pkgconfig) instead
#   SKIP_APT=1      do not touch system packages
#   SETUP_FOR=demo  only what building and running the demo needs (the
#                   packages FFmpeg builds with, FFmpeg); the default, tests,
#                   adds Chromium, npm and the room SDKs (and hls.js),
#                   nginx with its RTMP module, golangci-lint, versitygw and
#                   livekit-server
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${ROOMTAPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/roomtape}
ffmpeg_series=7.1
# Bump when the configure line changes so cached builds are redone.
ffmpeg_build=3
golangci_version=v2.15.0
versitygw_version=v1.8.0
livekit_version=v1.13.5
mkdir -p "$cache/bin" "$here/build"

log() { printf 'setup: %s\n' "$*" >&2; }
case ${SETUP_FOR:-tests} in
demo) for_tests=0 ;;
tests) for_tests=1 ;;
*) log "SETUP_FOR=$SETUP_FOR: want demo or tests"; exit 1 ;;
esac

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		log "need root for: $*"; return 1
	fi
}

# --- 1. system packages -----------------------------------------------------
packages=(build-essential nasm pkg-config xz-utils dpkg-dev
	libx264-dev libvpx-dev libopus-dev libdav1d-dev libsvtav1enc-dev libfreetype-dev libfontconfig-dev libharfbuzz-dev
	fonts-dejavu-core fontconfig)
if [ "$for_tests" = 1 ]; then
	packages+=(iproute2 python3 chromium chromium-driver)
	# The streaming tests' RTMP server (internal/rtmptest).
	packages+=(nginx-core libnginx-mod-rtmp)
	# npm from Debian unless one is installed already (a nodejs package
	# from elsewhere bundles its own npm and conflicts with Debian's).
	command -v npm >/dev/null || packages+=(npm)
fi
if [ "${SKIP_APT:-0}" != 1 ]; then
	missing=()
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		if [[ " ${missing[*]} " == *" nginx-core "* ]]; then
			# The tests run their own nginx on 127.0.0.1; the system
			# service Debian starts (port 80 on every interface) is not
			# wanted.
			log "stopping and disabling the nginx service (the tests start their own)"
			as_root systemctl disable --now nginx >/dev/null 2>&1 || as_root service nginx stop >/dev/null 2>&1 || true
		fi
	fi
fi

# --- 2. FFmpeg 7.x ------------------------------------------------------------
avcodec_major() { PKG_CONFIG_PATH="$1" pkg-config --modversion libavcodec 2>/dev/null | cut -d. -f1; }

pc_path=""
if [ -n "${FFMPEG_PREFIX:-}" ]; then
	[ "$(avcodec_major "$FFMPEG_PREFIX/lib/pkgconfig")" = 61 ] || {
		log "FFMPEG_PREFIX=$FFMPEG_PREFIX has no libavcodec 61 (FFmpeg 7.x) in lib/pkgconfig"; exit 1; }
	prefix=$FFMPEG_PREFIX
elif [ "$(avcodec_major "${PKG_CONFIG_PATH:-}")" = 61 ]; then
	prefix=""
	log "using system FFmpeg (libavcodec $(pkg-config --modversion libavcodec))"
	# Pin what pkg-config found here, so that builds through make find the
	# same FFmpeg whatever their environment.
	system_pc_path=${PKG_CONFIG_PATH:-}
	system_libdir=$(pkg-config --variable=libdir libavcodec)
else
	prefix=$cache/ffmpeg-$ffmpeg_series-$ffmpeg_build
	if [ ! -f "$prefix/.complete" ]; then
		log "building FFmpeg $ffmpeg_series into $prefix (about 6 minutes on 2 cores)"
		src=$cache/src
		rm -rf "$src" "$prefix"
		mkdir -p "$src/lists/partial"
		echo "deb-src http://deb.debian.org/debian trixie main" >"$src/trixie-src.list"
		apt_opts=(-o Dir::Etc::SourceList="$src/trixie-src.list" -o Dir::Etc::SourceParts=/nonexistent
			-o Dir::State::Lists="$src/lists" -o APT::Sandbox::User=root)
		apt-get "${apt_opts[@]}" update -qq
		(cd "$src" && apt-get "${apt_opts[@]}" source --download-only ffmpeg >/dev/null)
		orig=$(ls "$src"/ffmpeg_"$ffmpeg_series".*.orig.tar.xz 2>/dev/null | head -n1)
		[ -n "$orig" ] || { log "Debian 13 no longer ships FFmpeg $ffmpeg_series; set FFMPEG_PREFIX to an FFmpeg 7.x install"; exit 1; }
		mkdir -p "$src/tree" && tar -C "$src/tree" --strip-components=1 -xJf "$orig"
		(cd "$src/tree" &&
			./configure --prefix="$prefix" --enable-gpl --enable-shared --disable-static \
				--enable-libx264 --enable-libvpx --enable-libopus --enable-libdav1d --enable-libsvtav1 --enable-libfreetype --enable-libharfbuzz --enable-libfontconfig \
				--disable-doc --disable-debug --extra-ldflags="-Wl,-rpath,$prefix/lib" >"$src/configure.log" &&
			make -j"$(nproc)" >"$src/make.log" 2>&1 && make install >"$src/install.log" 2>&1) || {
			log "FFmpeg build failed; see logs in $src"; exit 1; }
		rm -rf "$src"
		touch "$prefix/.complete"
	fi
fi
if [ -n "$prefix" ]; then
	pc_path=$prefix/lib/pkgconfig
	log "using FFmpeg from $prefix (libavcodec $(PKG_CONFIG_PATH=$pc_path pkg-config --modversion libavcodec))"
fi

# --- 3. pinned Go tools -----------------------------------------------------
go_tool() { # name module@version binary
	local stamp="$cache/bin/.$3-$2"
	[ -x "$cache/bin/$3" ] && [ -f "$stamp" ] && return 0
	log "installing $1 $2"
	local logf=$cache/install-$3.log
	GOBIN=$cache/bin go install "$1@$2" >"$logf" 2>&1 || { cat "$logf" >&2; log "go install $1@$2 failed"; return 1; }
	rm -f "$cache/bin/.$3"-*
	touch "$stamp"
}
if [ "$for_tests" = 1 ]; then
	go_tool github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$golangci_version" golangci-lint
	go_tool github.com/versity/versitygw/cmd/versitygw "$versitygw_version" versitygw
	if [ "${SKIP_LIVEKIT:-0}" != 1 ]; then
		go_tool github.com/livekit/livekit-server/cmd/server "$livekit_version" server
	fi
	# --- 3b. the browser bridge's room SDKs (npm, pinned by a lock file) ----
	"$here/scripts/fetch-js.sh"
fi

# --- 4. build/env.mk ----------------------------------------------------------
env_mk=$here/build/env.mk
tmp=$(mktemp "$here/build/env.mk.XXXXXX")
{
	echo "# written by scripts/setup.sh; do not edit"
	echo "ROOMTAPE_CACHE := $cache"
	echo "export PATH := $cache/bin${prefix:+:$prefix/bin}:\$(PATH)"
	if [ -n "$prefix" ]; then
		echo "export PKG_CONFIG_PATH := $pc_path"
		echo "export CGO_LDFLAGS := -Wl,-rpath,$prefix/lib"
		echo "export ROOMTAPE_FFMPEG := $prefix/bin/ffmpeg"
	else
		[ -z "${system_pc_path:-}" ] || echo "export PKG_CONFIG_PATH := $system_pc_path"
		case ${system_libdir:-} in
		"" | /usr/lib | /usr/lib64 | /usr/lib/*-linux-gnu) ;;
		*) echo "export CGO_LDFLAGS := -Wl,-rpath,$system_libdir" ;;
		esac
	fi
	echo "export ROOMTAPE_VERSITYGW := $cache/bin/versitygw"
	echo "export ROOMTAPE_LIVEKIT_SERVER := $cache/bin/server"
} >"$tmp"
mv "$tmp" "$env_mk"
log "ready ($env_mk)"
