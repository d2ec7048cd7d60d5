#!/usr/bin/env bash
# fetch-js.sh installs the room SDKs the browser bridge page loads
# (livekit-client, @daily-co/daily-js) from npm, exactly as pinned by
# recorder/browser/js/package-lock.json, and copies their browser bundles
# into recorder/browser/page/sdk/, which the Go build embeds. hls.js (the
# service web page's live player, internal/bot's HLS playback test's) goes
# to recorder/service/web/vendor/, embedded with the page; internal/bot's
# test serves it from recorder/browser/js/node_modules. Nothing is
# fetched at run time. Idempotent: it does nothing when the bundles match
# the lock file already.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
js=$here/recorder/browser/js
sdk=$here/recorder/browser/page/sdk
stamp=$sdk/.lock-sha256
want=$(sha256sum "$js/package-lock.json" | cut -d' ' -f1)
web=$here/recorder/service/web/vendor
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$sdk/livekit-client.umd.js" ] && [ -f "$sdk/daily.js" ] && [ -f "$js/node_modules/hls.js/dist/hls.min.js" ] && cmp -s "$js/node_modules/hls.js/dist/hls.min.js" "$web/hls.min.js"; then
	exit 0
fi
command -v npm >/dev/null || { echo "fetch-js: npm not found (apt-get install npm)" >&2; exit 1; }
(cd "$js" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
cp "$js/node_modules/livekit-client/dist/livekit-client.umd.js" "$sdk/"
cp "$js/node_modules/@daily-co/daily-js/dist/daily.js" "$sdk/"
cp "$js/node_modules/hls.js/dist/hls.min.js" "$web/"
echo "$want" >"$stamp"
echo "fetch-js: livekit-client $(node -p "require('$js/node_modules/livekit-client/package.json').version" 2>/dev/null || echo '?'), daily-js $(node -p "require('$js/node_modules/@daily-co/daily-js/package.json').version" 2>/dev/null || echo '?') in $sdk" >&2
