#!/bin/sh
# Rebuild the console's vendored assets from package-lock.json: `sh console/build.sh` (or `npm run build`).
# The page loads them from the Python package (emulator/console/static/vendor), never from a CDN.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
vendor=../emulator/console/static/vendor
mkdir -p "$vendor"
cp node_modules/elkjs/lib/elk.bundled.js "$vendor/elk.bundled.js"
cp node_modules/elkjs/LICENSE.md "$vendor/elk.LICENSE.md"
echo "elkjs $(node -p "require('./node_modules/elkjs/package.json').version") -> $vendor"
