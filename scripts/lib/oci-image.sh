# Sourced by the scripts that make OCI images without a Docker engine, with crane (go-containerregistry).
#   layer_tar DIR OUT                          a reproducible layer: DIR's contents owned by root, mtime 0, sorted
#   image_from_layers CRANE OUT LAYER... -- MUTATE_FLAGS...
#                                              an image of those layers on an empty base, its config set by
#                                              `crane mutate` flags (--entrypoint, --env, ...), saved as the
#                                              tarball OUT (what `crane push OUT <ref>` takes)
# crane edits images in a registry, so image_from_layers runs a throwaway `crane registry serve` on loopback.
# Both call the sourcing script's fail on error.

layer_tar() {
  tar --create --file "$2" --directory "$1" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 . ||
    fail "could not pack $1 into the layer $2"
}

image_from_layers() {
  local crane="$1" out="$2" layers=() log port="" pid attempt ref
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do layers+=(--new_layer "$1") && shift; done
  [ $# -gt 0 ] && shift
  log="$(mktemp)"
  "$crane" registry serve --address 127.0.0.1:0 2>"$log" &
  pid=$!
  for attempt in $(seq 100); do
    port="$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$log")"
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    kill "$pid" 2>/dev/null || true
    fail "crane registry serve did not start: $(cat "$log")"
  fi
  ref="127.0.0.1:$port/refit/image:build"
  # An image appended to an empty base names no platform, and containerd pulls none without one.
  if ! "$crane" append --oci-empty-base "${layers[@]}" --new_tag "$ref" >/dev/null ||
    ! "$crane" mutate --set-platform linux/amd64 "$@" --tag "$ref" "$ref" >/dev/null ||
    ! "$crane" pull "$ref" "$out.partial"; then
    kill "$pid" 2>/dev/null || true
    fail "crane could not make the image $out (output above)"
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
  mv -f "$out.partial" "$out"
}
