#!/usr/bin/env bash
# Builds Refit's Python runtime image from Debian's packages, with no registry on the internet and no Docker
# engine: the image model pods run, and builds on the cluster run in (their default base_image). Two layers:
#   1. Debian bookworm (minbase) with python3, python3-venv, python3-pip, python-is-python3, python3-yaml, git
#      and ca-certificates, made by mmdebstrap (about 30 s; docs, man pages and translations left out)
#   2. refit_sdk from this clone, at /usr/lib/python3/dist-packages/refit_sdk (on every Debian python3's path),
#      and crane (static) at /usr/local/bin/crane, with which a build pushes its image
# Each is rebuilt only when its inputs change: the Debian layer is kept by a hash of its packages and sources,
# the image by a hash of that layer and the SDK's files. Output: an image tarball in $REFIT_HOME/tools/images,
# which `crane push` sends to a registry (the node's loopback registry does so when it starts).
# Needs root (mmdebstrap's root mode) and crane from scripts/install-k8s-test-env.sh.
# Usage: build-runtime-image.sh [--check]   (--check only reports whether the current image is there)
# Prints the image's tarball on the last line of stdout.
set -euo pipefail

DEBIAN_SUITE=bookworm
DEBIAN_PACKAGES=python3,python3-venv,python3-pip,python-is-python3,python3-yaml,git,ca-certificates
DEBIAN_MIRROR="${REFIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${REFIT_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
SDK_PATH=/usr/lib/python3/dist-packages/refit_sdk

say() { echo "build-runtime-image: $*" >&2; }
fail() {
  say "$*"
  exit 1
}

here="$(cd "$(dirname "$0")" && pwd)"
sdk="$here/../sdk/python/refit_sdk"
REFIT_HOME="${REFIT_HOME:-$HOME/.cache/refit}"
images="$REFIT_HOME/tools/images"
sources=("deb $DEBIAN_MIRROR $DEBIAN_SUITE main" "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main")
dpkg_options=(
  'path-exclude=/usr/share/doc/*'
  'path-include=/usr/share/doc/*/copyright'
  'path-exclude=/usr/share/man/*'
  'path-exclude=/usr/share/info/*'
  'path-exclude=/usr/share/locale/*'
)

sdk_files() { (cd "$sdk" && find . -name '*.py' -type f | LC_ALL=C sort); }
hash_of() { sha256sum | cut -c1-12; }
base_key="$(printf '%s\n' "$DEBIAN_SUITE" "$DEBIAN_PACKAGES" "${sources[@]}" "${dpkg_options[@]}" | hash_of)"
base_layer="$images/debian-python-$base_key.tar"
sdk_key="$(cd "$sdk" && sdk_files | xargs sha256sum | hash_of)"
# IMAGE_RECIPE: bumped when the image's config (labels, env) changes, so that a cached image is remade.
IMAGE_RECIPE=3
crane_bin="$( (bash "$here/install-k8s-test-env.sh" --check 2>/dev/null || true) | tail -1)/crane"
crane_version="$("$crane_bin" version 2>/dev/null || echo none)"
image_key="$(printf '%s\n' "$base_key" "$sdk_key" "$IMAGE_RECIPE" "$crane_version" | hash_of)"
image="$images/refit-python-$image_key.tar"

if [ -s "$image" ]; then
  say "Refit's Python runtime image is $image"
  echo "$image"
  exit 0
fi
[ "${1:-}" = --check ] && fail "the runtime image for this clone's refit_sdk is not built: run \`bash scripts/build-runtime-image.sh\` (or \`make test-tools\`)"
[ "$(id -u)" -eq 0 ] || fail "making the image's Debian root filesystem needs root (mmdebstrap's root mode)"
command -v mmdebstrap >/dev/null 2>&1 || fail "mmdebstrap is needed: run \`bash scripts/install-k8s-test-env.sh\` (it installs Debian's mmdebstrap package)"
[ "$crane_version" != none ] || fail "crane is needed: run \`bash scripts/install-k8s-test-env.sh\` (it builds crane)"
crane="$crane_bin"

mkdir -p "$images"
work="$(mktemp -d "$images/.runtime-image-XXXXXX")"
trap 'rm -rf "$work"' EXIT
# shellcheck source=lib/oci-image.sh
source "$here/lib/oci-image.sh"
started=$SECONDS

if [ ! -s "$base_layer" ]; then
  say "making the Debian $DEBIAN_SUITE root filesystem with $DEBIAN_PACKAGES (about 30 s)"
  # SOURCE_DATE_EPOCH: the same packages give the same layer.
  if ! SOURCE_DATE_EPOCH=0 mmdebstrap --quiet --mode=root --variant=minbase --include="$DEBIAN_PACKAGES" \
    "${dpkg_options[@]/#/--dpkgopt=}" "$DEBIAN_SUITE" "$work/base.tar" "${sources[@]}" >&2; then
    fail "mmdebstrap could not make the root filesystem from $DEBIAN_MIRROR (output above)"
  fi
  mv -f "$work/base.tar" "$base_layer"
  find "$images" -maxdepth 1 -name 'debian-python-*.tar' ! -name "$(basename "$base_layer")" -delete
fi

say "adding refit_sdk ($(sdk_files | wc -l) files) at $SDK_PATH and crane $crane_version at /usr/local/bin/crane"
mkdir -p "$work/sdk$SDK_PATH"
(cd "$sdk" && sdk_files | tar --create --file - --files-from -) | tar --extract --file - --directory "$work/sdk$SDK_PATH" ||
  fail "could not copy $sdk"
mkdir -p "$work/sdk/usr/local/bin"
cp "$crane" "$work/sdk/usr/local/bin/crane"
layer_tar "$work/sdk" "$work/sdk.tar"
# The labels say which Python the image has and where its site folder for extra packages is: a model image
# adds the build's dependencies there (activities/build/modelImage.ts), if the worker's Python matches.
python_version="$(tar --list --file "$base_layer" | sed -n 's,^\./usr/lib/python\(3\.[0-9]*\)/$,\1,p' | head -1)"
[ -n "$python_version" ] || fail "the Debian layer $base_layer has no /usr/lib/python3.N"
image_from_layers "$crane" "$work/image.tar" "$base_layer" "$work/sdk.tar" -- \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 --cmd python3 \
  --label org.opencontainers.image.title=refit-python --label "dev.refit.sdk=$sdk_key" \
  --label "dev.refit.python=$python_version" --label "dev.refit.site-packages=/usr/local/lib/python$python_version/dist-packages"
mv -f "$work/image.tar" "$image"
# Older images of this clone's earlier SDKs are rebuilt in seconds from the kept Debian layer if needed again.
find "$images" -maxdepth 1 -name 'refit-python-*.tar' ! -name "$(basename "$image")" -mmin +1440 -delete
say "built $image in $((SECONDS - started)) s"
echo "$image"
