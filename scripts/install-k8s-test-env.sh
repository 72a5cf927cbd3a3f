#!/usr/bin/env bash
# Builds a real Kubernetes control plane for the tests (kube-apiserver, kube-controller-manager, etcd) and
# fetches the CRDs Refit deploys against (KEDA ScaledObject, Gateway API HTTPRoute), into a versioned tools
# folder outside the clone, so every clone and CI run on this machine reuses them. There is no kubelet:
# test/harness/kubernetes.ts explains what that means for the tests.
# Source: the Go module proxy only, at pinned versions; nothing else is downloaded.
# Usage: install-k8s-test-env.sh [--check]   (--check only reports whether everything is in place)
# Prints the versions on stderr and the bin folder on the last line of stdout.
set -euo pipefail

KUBERNETES_VERSION=v1.35.4
# The etcd that Kubernetes v1.35.4's own integration tests run against (its hack/lib/etcd.sh).
ETCD_VERSION=v3.6.6
KEDA_VERSION=v2.21.0
# v1.7.0 needs a newer Go than our machines have.
GATEWAY_API_VERSION=v1.6.3

REFIT_HOME="${REFIT_HOME:-$HOME/.cache/refit}"
tools="$REFIT_HOME/tools"
env_dir="$tools/k8s-test-env-$KUBERNETES_VERSION"
bin="$env_dir/bin"
crds="$env_dir/crds"
# module-relative path of each CRD we install, per module
keda_crds=(config/crd/bases/keda.sh_scaledobjects.yaml config/crd/bases/keda.sh_triggerauthentications.yaml)
gateway_api_crds=(
  config/crd/standard/gateway.networking.k8s.io_gatewayclasses.yaml
  config/crd/standard/gateway.networking.k8s.io_gateways.yaml
  config/crd/standard/gateway.networking.k8s.io_httproutes.yaml
)

say() { echo "install-k8s-test-env: $*" >&2; }
fail() { say "$*"; exit 1; }

# Each tool's version as it reports it, or nothing when it is missing or broken.
kube_version() { "$bin/$1" --version 2>/dev/null | sed -n 's/^Kubernetes \(v[^ ]*\)$/\1/p'; }
etcd_version() { "$bin/etcd" --version 2>/dev/null | sed -n 's/^etcd Version: \([^ ]*\)$/v\1/p'; }
crds_in_place() {
  local file
  for file in "${keda_crds[@]}" "${gateway_api_crds[@]}"; do [ -s "$crds/$(basename "$file")" ] || return 1; done
}

missing=()
for tool in kube-apiserver kube-controller-manager; do
  [ "$(kube_version "$tool")" = "$KUBERNETES_VERSION" ] || missing+=("$tool")
done
[ "$(etcd_version)" = "$ETCD_VERSION" ] || missing+=(etcd)
crds_in_place || missing+=(crds)

report() {
  say "kube-apiserver $(kube_version kube-apiserver), kube-controller-manager $(kube_version kube-controller-manager)," \
    "etcd $(etcd_version); CRDs: KEDA $KEDA_VERSION, Gateway API $GATEWAY_API_VERSION in $crds"
  echo "$bin"
}

if [ ${#missing[@]} -eq 0 ]; then report; exit 0; fi
if [ "${1:-}" = "--check" ]; then
  fail "missing or of another version in $env_dir: ${missing[*]}. Run \`bash scripts/install-k8s-test-env.sh\` (or \`make tools\`) once on this machine; a cold build takes about ten minutes on two cores."
fi

command -v go >/dev/null 2>&1 || fail "Go is needed to build ${missing[*]} from the Go module proxy; install Go 1.25 or newer."
say "building ${missing[*]} into $bin with $(go env GOVERSION) (once per machine; a cold build takes about ten minutes on two cores)"
mkdir -p "$tools"
work="$(mktemp -d "$tools/.k8s-test-env-XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$bin"
# Our own throwaway modules: no go.work above them, requirements resolved as needed, the default module cache.
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0

download() { # module@version -> the folder of its source in the module cache
  local json dir
  json="$(go mod download -json "$1")" ||
    fail "go mod download $1 failed: $(sed -n 's/^\t"Error": "\(.*\)",*$/\1/p' <<<"$json")"
  dir="$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$json")"
  [ -n "$dir" ] && [ -d "$dir" ] || fail "go mod download $1 gave no source folder"
  echo "$dir"
}

# When a module's version was published (from the proxy's .info file), a reproducible build date.
commit_time() { go mod download -json "$1" | sed -n 's/^\t"Info": "\(.*\)",$/\1/p' | xargs sed -n 's/.*"Time":"\([^"]*\)".*/\1/p'; }

build_kubernetes() {
  local src module="$work/kubernetes" staging
  src="$(download "k8s.io/kubernetes@$KUBERNETES_VERSION")"
  mkdir -p "$module"
  # k8s.io/kubernetes points its staging modules (k8s.io/api, k8s.io/apiserver, ...) at folders of its own
  # repository with `replace` lines, which count only in its own build. Ours points them at their releases,
  # which are cut from the same commit as v0.<minor>.<patch>.
  staging="$(sed -n 's#^\t\(k8s\.io/[^ ]*\) => \./staging/src/.*#\t\1 => \1 v0.'"${KUBERNETES_VERSION#v1.}"'#p' "$src/go.mod")"
  [ -n "$staging" ] || fail "found no staging modules in k8s.io/kubernetes@$KUBERNETES_VERSION's go.mod"
  cat >"$module/go.mod" <<MOD
module refit.invalid/k8s-test-env

$(grep -m1 '^go ' "$src/go.mod")

require k8s.io/kubernetes $KUBERNETES_VERSION

replace (
$staging
)
MOD
  local minor="${KUBERNETES_VERSION#v1.}" ldflags=(-s -w) key value
  minor="${minor%%.*}"
  # What Kubernetes' own build stamps (hack/lib/version.sh), so the servers report their real version.
  for key in gitVersion=$KUBERNETES_VERSION gitMajor=1 gitMinor=$minor gitTreeState=clean \
    "buildDate=$(commit_time "k8s.io/kubernetes@$KUBERNETES_VERSION")"; do
    value="${key#*=}" key="${key%%=*}"
    ldflags+=(-X "k8s.io/component-base/version.$key=$value" -X "k8s.io/client-go/pkg/version.$key=$value")
  done
  local packages=() tool
  for tool in kube-apiserver kube-controller-manager; do
    [[ " ${missing[*]} " == *" $tool "* ]] && packages+=("k8s.io/kubernetes/cmd/$tool")
  done
  [ ${#packages[@]} -gt 0 ] || return 0
  say "resolving k8s.io/kubernetes@$KUBERNETES_VERSION's dependencies"
  (cd "$module" && go get "${packages[@]/%/@$KUBERNETES_VERSION}" >&2) ||
    fail "go get ${packages[*]} failed (output above); nothing was installed"
  say "compiling ${packages[*]##*/}"
  (cd "$module" && nice -n 19 go build -trimpath -ldflags "${ldflags[*]}" -o "$work/bin/" "${packages[@]}" >&2) ||
    fail "go build ${packages[*]} failed (output above); nothing was installed"
  for tool in "${packages[@]##*/}"; do mv -f "$work/bin/$tool" "$bin/$tool"; done
}

build_etcd() {
  local module="$work/etcd"
  mkdir -p "$module"
  # etcd's server module also points its siblings at local folders, so it too is built from a module of ours.
  printf 'module refit.invalid/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$module/go.mod"
  say "building etcd $ETCD_VERSION (go.etcd.io/etcd/server/v3)"
  (cd "$module" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 &&
    nice -n 19 go build -trimpath -ldflags "-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3 >&2) ||
    fail "go build go.etcd.io/etcd/server/v3@$ETCD_VERSION failed (output above); etcd was not installed"
  mv -f "$work/bin/etcd" "$bin/etcd"
}

copy_crds() { # module@version files...
  local src file
  src="$(download "$1")"
  shift
  for file in "$@"; do
    [ -s "$src/$file" ] || fail "$file is not in the module's source ($src)"
    cp "$src/$file" "$work/crds/"
    chmod 0644 "$work/crds/$(basename "$file")" # the module cache keeps its files read-only
  done
}

started=$SECONDS
if [[ " ${missing[*]} " == *" kube-"* ]]; then build_kubernetes; fi
if [[ " ${missing[*]} " == *" etcd "* ]]; then build_etcd; fi
if [[ " ${missing[*]} " == *" crds "* ]]; then
  say "fetching the KEDA $KEDA_VERSION and Gateway API $GATEWAY_API_VERSION CRDs"
  mkdir -p "$work/crds"
  copy_crds "github.com/kedacore/keda/v2@$KEDA_VERSION" "${keda_crds[@]}"
  copy_crds "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" "${gateway_api_crds[@]}"
  rm -rf "$crds"
  mv "$work/crds" "$crds"
fi
say "done in $((SECONDS - started)) s"
report
