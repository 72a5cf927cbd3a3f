#!/usr/bin/env bash
# Refit's worker image, for running `refit worker` in a cluster (deploy/kubernetes/worker.yaml), made from nothing
# but this checkout, the npm registry's packages and Debian's: the runtime image's Debian layer (python3, git,
# ca-certificates, libstdc++), this machine's Node.js binary at /usr/local/bin/node, and this checkout packed with
# `npm pack` and installed with its production dependencies at /opt/refit (other platforms' Temporal core bridges
# left out). No Docker engine: crane assembles the layers (scripts/lib/oci-image.sh).
# Output: the image tarball's path on stdout, $REFIT_HOME/tools/images/refit-worker-<key>.tar, keyed by the packed
# package, the Node.js binary and the base layer; an image already built for the same key is reused.
# Usage: build-worker-image.sh            (needs `make build` first: the package holds dist/)
set -euo pipefail

IMAGE_RECIPE=1
say() { echo "build-worker-image: $*" >&2; }
fail() {
  say "$*"
  exit 1
}

here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
REFIT_HOME="${REFIT_HOME:-$HOME/.cache/refit}"
images="$REFIT_HOME/tools/images"
[ -f "$root/dist/client/cli.js" ] || fail "dist/ is not built: run \`make build\` first (the image holds the compiled package)"
node_bin="$(command -v node)" || fail "node is not on PATH"
node_version="$(node --version)"
case "$node_version" in v2[0-9].*) ;; *) fail "Node.js $node_version is too old for Refit (20 or newer)" ;; esac

bash "$here/build-runtime-image.sh" >/dev/null || fail "the runtime image (its Debian layer is this image's base) could not be built"
base_layer="$(ls -t "$images"/debian-python-*.tar 2>/dev/null | head -1)"
[ -s "$base_layer" ] || fail "no Debian layer in $images after build-runtime-image.sh"
crane="$( (bash "$here/install-k8s-test-env.sh" --check 2>/dev/null || true) | tail -1)/crane"
[ -x "$crane" ] || fail "crane is needed: run \`bash scripts/install-k8s-test-env.sh\` (it builds crane)"

mkdir -p "$images"
work="$(mktemp -d "$images/.worker-image-XXXXXX")"
trap 'rm -rf "$work"' EXIT
source "$here/lib/oci-image.sh"
started=$SECONDS

(cd "$root" && npm pack --ignore-scripts --silent --pack-destination "$work" >/dev/null) || fail "npm pack failed"
package="$(ls "$work"/refit-*.tgz)"
key="$( (sha256sum <"$package" | cut -c1-64; sha256sum <"$node_bin" | cut -c1-64; basename "$base_layer"; echo "$IMAGE_RECIPE") | sha256sum | cut -c1-12)"
image="$images/refit-worker-$key.tar"
if [ -s "$image" ]; then
  say "Refit's worker image is $image"
  echo "$image"
  exit 0
fi

say "installing $(basename "$package") with its production dependencies at /opt/refit (from npm's cache where it can)"
app="$work/root/opt/refit"
mkdir -p "$app" "$work/root/usr/local/bin" "$work/root/var/lib/refit"
printf '{ "name": "refit-worker-image", "private": true, "type": "module" }\n' >"$app/package.json"
(cd "$app" && npm install --omit=dev --no-audit --no-fund --prefer-offline --ignore-scripts --silent "$package" >&2) || fail "npm install of the package failed (output above)"
# The Temporal core bridge ships a native library per platform; the image runs one.
find "$app/node_modules/@temporalio/core-bridge/releases" -mindepth 1 -maxdepth 1 ! -name x86_64-unknown-linux-gnu -exec rm -rf {} + 2>/dev/null || true
cp "$node_bin" "$work/root/usr/local/bin/node"
chmod 0755 "$work/root/usr/local/bin/node"
layer_tar "$work/root" "$work/app.tar"
image_from_layers "$crane" "$work/image.tar" "$base_layer" "$work/app.tar" -- \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 --env REFIT_HOME=/var/lib/refit \
  --env NODE_ENV=production --entrypoint /usr/local/bin/node,/opt/refit/node_modules/refit/dist/client/cli.js --cmd worker \
  --user 65532:65532 --workdir /var/lib/refit \
  --label org.opencontainers.image.title=refit-worker --label "org.opencontainers.image.version=$(node -p "require('$root/package.json').version")" \
  --label "dev.refit.node=$node_version"
mv -f "$work/image.tar" "$image"
find "$images" -maxdepth 1 -name 'refit-worker-*.tar' ! -name "$(basename "$image")" -delete
say "built $image ($(du -m "$image" | cut -f1) MiB) in $((SECONDS - started)) s"
echo "$image"
