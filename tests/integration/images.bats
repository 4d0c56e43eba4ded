#!/usr/bin/env bats
# `make images`: the images runhv's manifests name, built offline from the
# release binaries (scripts/make-images.sh), loaded by real podman and
# imported by a real containerd, and run with runhv as their runtime.

load helpers

source "$RUNHV_SOURCE_DIR/tests/lib/containerd-ctr.sh"

VERSION=$("$RUNHV" --version | awk '{ print $3; exit }')
WEBHOOK_IMAGE=docker.io/runhv/runhv-webhook:$VERSION

setup_file() {
  export IMG_DIR
  IMG_DIR=$(mktemp -d /tmp/runhv-images.XXXXXX)
  bash "$RUNHV_SOURCE_DIR/scripts/make-images.sh" "$RUNHV_SOURCE_DIR/build" "$IMG_DIR/a" >/dev/null
  mkdir -p "$IMG_DIR/conf" "$IMG_DIR/certs"
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' >"$IMG_DIR/conf/containers.conf"
  bash "$RUNHV_SOURCE_DIR/scripts/make-webhook-certs.sh" "$IMG_DIR/certs" >/dev/null
  # the image runs as uid 65532, as the Deployment's Secret volume (0440,
  # fsGroup 65532) lets it read the pair
  chgrp 65532 "$IMG_DIR/certs/tls.key" "$IMG_DIR/certs/tls.crt"
  chmod 0440 "$IMG_DIR/certs/tls.key" "$IMG_DIR/certs/tls.crt"
  chmod 755 "$IMG_DIR" "$IMG_DIR/certs"
}

teardown_file() {
  pm rm -a -f >/dev/null 2>&1 || true
  pm system reset -f >/dev/null 2>&1 || true
  rm -rf "$IMG_DIR"
}

pm() {
  CONTAINERS_CONF="$IMG_DIR/conf/containers.conf" podman --root "$IMG_DIR/storage" --runroot "$IMG_DIR/run" \
    --runtime "$RUNHV" --cgroup-manager cgroupfs --events-backend file --storage-driver vfs "$@"
}

# The webhook on 127.0.0.1:$1 becomes ready and answers a review with
# the right patch (tests/webhook/check.py applies and compares it).
answers_review() {
  local port=$1 fixture="$RUNHV_SOURCE_DIR/tests/webhook/fixtures/mutate-no-annotations.json" status
  wait_for 100 bash -c "curl -sS --cacert '$IMG_DIR/certs/ca.pem' https://127.0.0.1:$port/readyz >/dev/null 2>&1" ||
    return 1
  status=$(curl -sS --cacert "$IMG_DIR/certs/ca.pem" -o "$IMG_DIR/body.$port" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary "@$fixture" "https://127.0.0.1:$port/mutate")
  [ "$status" = 200 ] || return 1
  /usr/bin/python3 "$RUNHV_SOURCE_DIR/tests/webhook/check.py" review "$fixture" "$IMG_DIR/body.$port" runhv-hypervisor
}

@test "make images: reproducible OCI archives, non-root, labelled, nothing but the binary, its libraries and CA files" {
  local tar="$IMG_DIR/a/runhv-webhook.oci.tar" cfg
  bash "$RUNHV_SOURCE_DIR/scripts/make-images.sh" "$RUNHV_SOURCE_DIR/build" "$IMG_DIR/b" >/dev/null
  cmp "$tar" "$IMG_DIR/b/runhv-webhook.oci.tar"
  # an OCI layout: index -> manifest -> config, every blob named by its digest
  mkdir "$IMG_DIR/x"
  tar -xf "$tar" -C "$IMG_DIR/x"
  jq -e '.imageLayoutVersion == "1.0.0"' "$IMG_DIR/x/oci-layout"
  (cd "$IMG_DIR/x/blobs/sha256" && for b in *; do echo "$b  $b"; done | sha256sum -c --quiet)
  local manifest
  manifest=$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$IMG_DIR/x/index.json")
  jq -e --arg n "$WEBHOOK_IMAGE" '.manifests[0].annotations["io.containerd.image.name"] == $n' "$IMG_DIR/x/index.json"
  cfg="$IMG_DIR/x/blobs/sha256/$(jq -r '.config.digest | sub("sha256:"; "")' "$IMG_DIR/x/blobs/sha256/$manifest")"
  jq -e '.config.User == "65532:65532" and .config.Entrypoint == ["/usr/bin/runhv-webhook"]' "$cfg"
  jq -e --arg v "$VERSION" --arg r "$(git -C "$RUNHV_SOURCE_DIR" rev-parse HEAD)" '.config.Labels |
    .["org.opencontainers.image.version"] == $v and .["org.opencontainers.image.revision"] == $r
    and .["org.opencontainers.image.title"] == "runhv-webhook" and (.["org.opencontainers.image.created"] | test("^[0-9-]+T"))' "$cfg"
  # what is in it: the binary, the loader and libraries, CA bundle, passwd
  local layer
  layer="$IMG_DIR/x/blobs/sha256/$(jq -r '.layers[0].digest | sub("sha256:"; "")' "$IMG_DIR/x/blobs/sha256/$manifest")"
  run bash -c "tar -tzf '$layer' | grep -v '/\$' | grep -Ev '^(usr/bin/runhv-webhook|lib/x86_64-linux-gnu/lib[^/]*\\.so[.0-9]*|lib64/ld-linux-x86-64\\.so\\.2|etc/(passwd|group)|etc/ssl/certs/ca-certificates\\.crt)\$'"
  [ -z "$output" ] || fail "unexpected files: $output"
  tar -tvzf "$layer" | grep -q '^-rwxr-xr-x root/root .* usr/bin/runhv-webhook$'
}

@test "podman loads the webhook image and runs it under runhv as uid 65532: it answers a review on loopback" {
  pm load -i "$IMG_DIR/a/runhv-webhook.oci.tar" >/dev/null
  local port=$((20000 + RANDOM % 20000))
  pm run -d --name wh --network host -v "$IMG_DIR/certs:/certs:ro" "$WEBHOOK_IMAGE" \
    --listen "127.0.0.1:$port" --tls-cert-file /certs/tls.crt --tls-private-key-file /certs/tls.key >/dev/null
  answers_review "$port" || fail "podman's container: $(pm logs wh 2>&1)"
  run pm top wh huser
  [ "${lines[1]}" = 65532 ]
  # podman really used runhv
  rh_root=$(pm info --format '{{.Host.OCIRuntime.Path}}')
  [ "$rh_root" = "$RUNHV" ]
  pm rm -f wh >/dev/null
}

@test "containerd imports the webhook image (same digest) and runs it with runhv: it answers a review on loopback" {
  ctd_setup
  c images import "$IMG_DIR/a/runhv-webhook.oci.tar" >/dev/null
  run c images ls -q
  [[ "$output" == *"$WEBHOOK_IMAGE"* ]]
  local want
  want=$(tar -xOf "$IMG_DIR/a/runhv-webhook.oci.tar" index.json | jq -r '.manifests[0].digest')
  c images ls | awk -v n="$WEBHOOK_IMAGE" '$1 == n { print $3 }' | grep -qx "$want"
  run c run --rm --runc-binary "$RUNHV" "$WEBHOOK_IMAGE" img1 /usr/bin/runhv-webhook --version
  [ "$status" -eq 0 ]
  [[ "$output" == "runhv-webhook $VERSION "* ]]
  # and serving: a review answered on loopback from the imported image
  local port=$((20000 + RANDOM % 20000))
  c run -d --runc-binary "$RUNHV" --net-host \
    --mount "type=bind,src=$IMG_DIR/certs,dst=/certs,options=rbind:ro" "$WEBHOOK_IMAGE" img2 \
    /usr/bin/runhv-webhook --listen "127.0.0.1:$port" --tls-cert-file /certs/tls.crt \
    --tls-private-key-file /certs/tls.key >/dev/null
  answers_review "$port" || fail "the imported image does not answer a review"
  run ctd_teardown images
  [ "$status" -eq 0 ] || fail "$output"
}
