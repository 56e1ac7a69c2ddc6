#!/usr/bin/env bash
# Refresh the bundled three.js files from the npm registry: ./fetch.sh [VERSION] (default below).
# three 0.170.0 is the last release whose build/three.module.min.js stands alone (from 0.171 it
# imports three.core.js); a newer version needs the viewer's import map extended.
set -euo pipefail
VERSION="${1:-0.170.0}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "three@$VERSION" >/dev/null && tar xzf "three-$VERSION.tgz")
cp "$work/package/build/three.module.min.js" \
   "$work/package/examples/jsm/controls/OrbitControls.js" \
   "$work/package/examples/jsm/loaders/GLTFLoader.js" \
   "$work/package/examples/jsm/utils/BufferGeometryUtils.js" \
   "$work/package/LICENSE" "$here/"
echo "$VERSION" > "$here/VERSION"
echo "three $VERSION -> $here"
