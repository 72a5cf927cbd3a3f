#!/usr/bin/env bash
# Builds a real single-node Kubernetes for the tests and for `refit dev --kubernetes`, into a versioned tools
# folder outside the clone, so every clone and CI run on this machine reuses it:
#   control plane  etcd, kube-apiserver, kube-controller-manager, kube-scheduler
#   node           kubelet, kube-proxy; containerd with its runc shim (CRI runtime); runc, the CNI plugins,
#                  iptables and conntrack from Debian's packages
#   images         crane (go-containerregistry): the loopback OCI registry and the image tool; the pause image
#                  (pause.c from k8s.io/kubernetes, compiled static); scripts/build-runtime-image.sh makes the
#                  Python runtime image from Debian's packages
#   monitoring     Prometheus (the tests' scraper for the autoscaling queries); KEDA's operator and metrics API
#                  server (keda-operator, keda-adapter), which the autoscaling tests run on the node
#   debugging      kubectl, ctr
#   CRDs           KEDA's (ScaledObject, ScaledJob, the TriggerAuthentications, the CloudEventSources: its operator
#                  watches them all), Gateway API GatewayClass, Gateway and HTTPRoute
# Source: the Go module proxy at pinned versions and Debian's package archive; nothing else is downloaded.
# The Kubernetes parts share one wrapper module and so one module cache. Each part present at its pinned
# version is skipped. A cold build takes about 20 minutes on two cores (18 measured: KEDA ~7, Kubernetes ~7, Prometheus ~4,
# etcd ~1, containerd ~1.5).
# A host where a node cannot run (not root, no cgroup controllers, no overlayfs) gets the control plane only,
# and the script says why: devstack/kubernetes/ then runs without a kubelet.
# Usage: install-k8s-test-env.sh [--check]   (--check only reports whether everything is in place)
# Prints the versions on stderr; on stdout "node: ready" or "node: unavailable: <reason>", then the bin folder
# on the last line.
set -euo pipefail

KUBERNETES_VERSION=v1.35.4
# The etcd that Kubernetes v1.35.4's own integration tests run against (its hack/lib/etcd.sh).
ETCD_VERSION=v3.6.6
# 2.x: kubelet 1.36 drops containerd 1.x, and only 2.x mounts `image` volumes.
CONTAINERD_VERSION=v2.4.2
GO_CONTAINERREGISTRY_VERSION=v0.22.1
# Prometheus 3.16.0, whose Go module is tagged v0.316.0 (3.x releases are v0.3xx.y); the binary reports the module's version.
PROMETHEUS_MODULE_VERSION=v0.316.0
# The pause version kubeadm v1.35.4 pins (cmd/kubeadm/app/constants).
PAUSE_VERSION=3.10.1
KEDA_VERSION=v2.21.0
# v1.7.0 needs a newer Go than our machines have.
GATEWAY_API_VERSION=v1.6.3
# What the node runs that Debian packages: command -> package.
declare -A DEBIAN_NODE_TOOLS=(
  [runc]=runc
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [iptables]=iptables
  [conntrack]=conntrack
  [mmdebstrap]=mmdebstrap
)

REFIT_HOME="${REFIT_HOME:-$HOME/.cache/refit}"
tools="$REFIT_HOME/tools"
env_dir="$tools/k8s-test-env-$KUBERNETES_VERSION"
bin="$env_dir/bin"
crds="$env_dir/crds"
images="$env_dir/images"
pause_image="$images/pause-$PAUSE_VERSION.tar"
# module-relative path of each CRD we install, per module
keda_crds=(
  config/crd/bases/keda.sh_scaledobjects.yaml
  config/crd/bases/keda.sh_scaledjobs.yaml
  config/crd/bases/keda.sh_triggerauthentications.yaml
  config/crd/bases/keda.sh_clustertriggerauthentications.yaml
  config/crd/bases/eventing.keda.sh_cloudeventsources.yaml
  config/crd/bases/eventing.keda.sh_clustercloudeventsources.yaml
)
gateway_api_crds=(
  config/crd/standard/gateway.networking.k8s.io_gatewayclasses.yaml
  config/crd/standard/gateway.networking.k8s.io_gateways.yaml
  config/crd/standard/gateway.networking.k8s.io_httproutes.yaml
)

say() { echo "install-k8s-test-env: $*" >&2; }
fail() { say "$*"; exit 1; }

# Each tool's version as it reports it, or nothing when it is missing or broken.
kube_version() {
  if [ "$1" = kubectl ]; then
    "$bin/kubectl" version --client 2>/dev/null | sed -n 's/^Client Version: \(v[^ ]*\)$/\1/p'
  else
    "$bin/$1" --version 2>/dev/null | sed -n 's/^Kubernetes \(v[^ ]*\)$/\1/p'
  fi
}
etcd_version() { "$bin/etcd" --version 2>/dev/null | sed -n 's/^etcd Version: \([^ ]*\)$/v\1/p'; }
containerd_version() {
  # containerd prints "containerd github.com/containerd/containerd/v2 v2.4.2 ", its shim a "Version:" line.
  "$bin/$1" --version 2>/dev/null | sed -n -e 's#^containerd github.com/containerd/containerd/v2 \(v[^ ]*\).*#\1#p' -e 's/^ *Version: *\(v[^ ]*\)$/\1/p'
}
crane_version() { "$bin/crane" version 2>/dev/null; }
# Go writes a binary's module versions into it; KEDA's binaries have no --version.
keda_version() {
  local binary
  for binary in keda-operator keda-adapter; do
    # the package built is KEDA's own, so its module is the binary's main module ("mod"), not a "dep"
    LC_ALL=C grep -aqE "$(printf '(mod|dep)\tgithub.com/kedacore/keda/v2\t%s\t' "$KEDA_VERSION")" "$bin/$binary" 2>/dev/null || return 0
  done
  echo "$KEDA_VERSION"
}
prometheus_version() { "$bin/prometheus" --version 2>/dev/null | sed -n 's/^prometheus, version \([^ ]*\) .*/v\1/p'; }
crds_in_place() {
  local file
  for file in "${keda_crds[@]}" "${gateway_api_crds[@]}"; do [ -s "$crds/$(basename "$file")" ] || return 1; done
}

# Why a node cannot run on this host, or nothing when it can. The kubelet, containerd and runc need root (for
# namespaces, mounts, cgroups and the pods' network), cgroup controllers and overlayfs for image layers.
node_unavailable() {
  [ "$(uname -s)" = Linux ] || { echo "a node needs Linux; this is $(uname -s)"; return; }
  [ "$(id -u)" -eq 0 ] || { echo "a node's kubelet, containerd and runc need root (this script runs as $(id -un))"; return; }
  local controller
  for controller in cpu memory pids; do
    if [ ! -d "/sys/fs/cgroup/$controller" ] && ! grep -qw "$controller" /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
      echo "the $controller cgroup controller is not mounted under /sys/fs/cgroup"
      return
    fi
  done
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || { echo "the kernel has no overlay filesystem (containerd's snapshotter needs it)"; return; }
  [ -e /dev/kmsg ] || echo "there is no /dev/kmsg (the kubelet's OOM watcher reads it)"
}
node_reason="$(node_unavailable)"

missing=() debian_missing=()
kube_tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
[ -n "$node_reason" ] || kube_tools+=(kubelet kube-proxy)
for tool in "${kube_tools[@]}"; do
  [ "$(kube_version "$tool")" = "$KUBERNETES_VERSION" ] || missing+=("$tool")
done
[ "$(etcd_version)" = "$ETCD_VERSION" ] || missing+=(etcd)
[ "$(crane_version)" = "$GO_CONTAINERREGISTRY_VERSION" ] || missing+=(crane)
[ "$(prometheus_version)" = "$PROMETHEUS_MODULE_VERSION" ] || missing+=(prometheus)
[ "$(keda_version)" = "$KEDA_VERSION" ] || missing+=(keda)
crds_in_place || missing+=(crds)
if [ -z "$node_reason" ]; then
  for tool in containerd containerd-shim-runc-v2; do
    [ "$(containerd_version "$tool")" = "$CONTAINERD_VERSION" ] || missing+=("$tool")
  done
  [ -s "$pause_image" ] || missing+=(pause-image)
  for tool in "${!DEBIAN_NODE_TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || debian_missing+=("${DEBIAN_NODE_TOOLS[$tool]}")
  done
fi

report() {
  say "Kubernetes $KUBERNETES_VERSION (${kube_tools[*]}), etcd $(etcd_version), crane $(crane_version), Prometheus $(prometheus_version), KEDA $(keda_version);" \
    "CRDs: KEDA $KEDA_VERSION, Gateway API $GATEWAY_API_VERSION in $crds"
  if [ -n "$node_reason" ]; then
    say "control plane only: $node_reason"
    echo "node: unavailable: $node_reason"
  else
    say "node: containerd $(containerd_version containerd), $(runc --version | head -1), pause $PAUSE_VERSION in $images"
    echo "node: ready"
  fi
  echo "$bin"
}

if [ ${#missing[@]} -eq 0 ] && [ ${#debian_missing[@]} -eq 0 ]; then report; exit 0; fi
if [ "${1:-}" = "--check" ]; then
  fail "missing or of another version in $env_dir: ${missing[*]} ${debian_missing[*]}. Run \`bash scripts/install-k8s-test-env.sh\` (or \`make test-tools\`) once on this machine; a cold build takes about 20 minutes on two cores."
fi

if [ ${#debian_missing[@]} -gt 0 ]; then
  cannot_install() { fail "$1; the node needs Debian's ${debian_missing[*]} (or the same tools from your distribution)"; }
  # shellcheck source=lib/debian-package.sh
  source "$(dirname "$0")/lib/debian-package.sh"
  for package in $(printf '%s\n' "${debian_missing[@]}" | sort -u); do install_debian_package "$package"; done
fi
[ ${#missing[@]} -gt 0 ] || { report; exit 0; }

command -v go >/dev/null 2>&1 || fail "Go is needed to build ${missing[*]} from the Go module proxy; install Go 1.25 or newer."
say "building ${missing[*]} into $env_dir with $(go env GOVERSION) (once per machine; a cold build takes about 20 minutes on two cores)"
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
  for tool in "${kube_tools[@]}"; do
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

build_containerd() {
  local module="$work/containerd" ldflags
  mkdir -p "$module"
  printf 'module refit.invalid/containerd\n\ngo 1.24\n\nrequire github.com/containerd/containerd/v2 %s\n' "$CONTAINERD_VERSION" >"$module/go.mod"
  ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
  say "building containerd $CONTAINERD_VERSION (github.com/containerd/containerd/v2: containerd, its runc shim, ctr)"
  # Without cgo and the snapshotters that need it: overlayfs, the one the node uses, is pure Go.
  (cd "$module" && go get "github.com/containerd/containerd/v2@$CONTAINERD_VERSION" >&2 &&
    nice -n 19 go build -trimpath -tags no_btrfs,no_devmapper,no_zfs -ldflags "$ldflags" -o "$work/bin/" \
      github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
      github.com/containerd/containerd/v2/cmd/ctr >&2) ||
    fail "go build github.com/containerd/containerd/v2@$CONTAINERD_VERSION failed (output above); containerd was not installed"
  mv -f "$work/bin/containerd" "$work/bin/containerd-shim-runc-v2" "$work/bin/ctr" "$bin/"
}

build_crane() {
  local module="$work/crane"
  mkdir -p "$module"
  printf 'module refit.invalid/crane\n\ngo 1.24\n\nrequire github.com/google/go-containerregistry %s\n' "$GO_CONTAINERREGISTRY_VERSION" >"$module/go.mod"
  say "building crane $GO_CONTAINERREGISTRY_VERSION (github.com/google/go-containerregistry/cmd/crane)"
  (cd "$module" && go get "github.com/google/go-containerregistry/cmd/crane@$GO_CONTAINERREGISTRY_VERSION" >&2 &&
    go build -trimpath -ldflags "-s -w" -o "$work/bin/crane" github.com/google/go-containerregistry/cmd/crane >&2) ||
    fail "go build crane@$GO_CONTAINERREGISTRY_VERSION failed (output above); crane was not installed"
  mv -f "$work/bin/crane" "$bin/crane"
}

build_prometheus() {
  local module="$work/prometheus"
  mkdir -p "$module"
  printf 'module refit.invalid/prometheus\n\ngo 1.24\n\nrequire github.com/prometheus/prometheus %s\n' "$PROMETHEUS_MODULE_VERSION" >"$module/go.mod"
  say "building Prometheus $PROMETHEUS_MODULE_VERSION (github.com/prometheus/prometheus/cmd/prometheus; its web UI's assets are not in the module: the API is what tests use)"
  (cd "$module" && go get "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION" >&2 &&
    nice -n 19 go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_MODULE_VERSION#v}" \
      -o "$work/bin/prometheus" github.com/prometheus/prometheus/cmd/prometheus >&2) ||
    fail "go build github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION failed (output above); Prometheus was not installed"
  mv -f "$work/bin/prometheus" "$bin/prometheus"
}

build_keda() {
  local src module="$work/keda"
  src="$(download "github.com/kedacore/keda/v2@$KEDA_VERSION")"
  mkdir -p "$module"
  # KEDA's go.mod replaces and excludes a few modules; that counts only in its own build, so ours repeats it.
  {
    printf 'module refit.invalid/keda\n\n%s\n\nrequire github.com/kedacore/keda/v2 %s\n\n' "$(grep -m1 '^go ' "$src/go.mod")" "$KEDA_VERSION"
    grep -E '^(replace|exclude) ' "$src/go.mod" || true
  } >"$module/go.mod"
  say "building KEDA $KEDA_VERSION (github.com/kedacore/keda/v2: its operator and metrics API server; every scaler is compiled in, so this is the longest part)"
  (cd "$module" && go get "github.com/kedacore/keda/v2/cmd/operator@$KEDA_VERSION" "github.com/kedacore/keda/v2/cmd/adapter@$KEDA_VERSION" >&2 &&
    nice -n 19 go build -trimpath -ldflags "-s -w -X github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v}" -o "$work/bin/" \
      github.com/kedacore/keda/v2/cmd/operator github.com/kedacore/keda/v2/cmd/adapter >&2) ||
    fail "go build github.com/kedacore/keda/v2@$KEDA_VERSION failed (output above); KEDA was not installed"
  mv -f "$work/bin/operator" "$bin/keda-operator"
  mv -f "$work/bin/adapter" "$bin/keda-adapter"
}

# The sandbox image every pod starts with: Kubernetes' own pause.c, built as its Makefile builds it.
build_pause_image() {
  local src layer="$work/pause-layer"
  src="$(download "k8s.io/kubernetes@$KUBERNETES_VERSION")/build/pause/linux/pause.c"
  command -v cc >/dev/null 2>&1 || fail "a C compiler (cc) is needed to build the pause image from $src: install Debian's gcc and libc6-dev"
  say "building the pause $PAUSE_VERSION image"
  mkdir -p "$layer"
  cc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-refit" -o "$layer/pause" "$src" ||
    fail "cc could not compile $src statically (is libc6-dev installed?)"
  # shellcheck source=lib/oci-image.sh
  source "$(dirname "$0")/lib/oci-image.sh"
  mkdir -p "$images"
  layer_tar "$layer" "$work/pause-layer.tar"
  image_from_layers "$bin/crane" "$work/pause.tar" "$work/pause-layer.tar" -- --entrypoint /pause --user 65535:65535
  mv -f "$work/pause.tar" "$pause_image"
}

started=$SECONDS
if [[ " ${missing[*]} " == *" kube"* ]]; then build_kubernetes; fi
if [[ " ${missing[*]} " == *" etcd "* ]]; then build_etcd; fi
if [[ " ${missing[*]} " == *" containerd"* ]]; then build_containerd; fi
if [[ " ${missing[*]} " == *" crane "* ]]; then build_crane; fi
if [[ " ${missing[*]} " == *" prometheus "* ]]; then build_prometheus; fi
if [[ " ${missing[*]} " == *" keda "* ]]; then build_keda; fi
if [[ " ${missing[*]} " == *" pause-image "* ]]; then build_pause_image; fi
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
