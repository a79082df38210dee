#!/usr/bin/env bash
# Installs the Debian packages that Berth's interoperability tests drive:
# skopeo, podman, buildah, umoci and a Docker engine (dockerd + containerd/ctr);
# docker-registry (distribution 2.8, whose webhook envelope the notification tests compare with);
# openssl and openssh-client (ssh-keygen), which make the keys and certificates the signature
# and secret-scanning tests use; and the real engines the S3 and PostgreSQL driver tests run against: Ceph with
# radosgw, and PostgreSQL; and chromium (with a font), the real browser the web UI's tests drive through playwright-core.
# scripts/test-with-services.sh (run by `npm test`) starts
# throwaway instances of those on free loopback ports and stops them afterwards.
# Idempotent: does nothing (not even apt-get update) when all are present.
# Must run as root (or via sudo) on Debian 12 or later.
set -euo pipefail

packages=(skopeo podman buildah umoci docker.io containerd uidmap ceph radosgw postgresql openssl openssh-client docker-registry chromium fonts-dejavu-core)

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for pkg in "${packages[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "install-test-deps: all present (${packages[*]})"
else
  if [[ $EUID -ne 0 ]]; then
    echo "install-test-deps: missing ${missing[*]}; run as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # keep package scripts from starting system daemons (docker, containerd, ceph, and the
  # "main" PostgreSQL cluster that the postgresql package creates on port 5432): the tests
  # run their own, on ports of their own, and never use those
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  echo "install-test-deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
  echo "install-test-deps: installed ${missing[*]}"
fi

# golang-github-containers-common (pulled in by skopeo/podman) ships
# /etc/containers/registries.conf.d and policy.json; when both are there
# skopeo and podman need no further configuration.
if [[ ! -d /etc/containers/registries.conf.d || ! -f /etc/containers/policy.json ]]; then
  echo "install-test-deps: /etc/containers is incomplete; reinstall golang-github-containers-common" >&2
  exit 1
fi

for tool in skopeo podman buildah umoci dockerd docker containerd ctr docker-registry \
  ceph ceph-authtool monmaptool ceph-mon ceph-osd radosgw radosgw-admin; do
  command -v "$tool" >/dev/null || { echo "install-test-deps: $tool not on PATH after install" >&2; exit 1; }
done
# the PostgreSQL server programs are not on PATH: scripts/postgres.sh looks here
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "install-test-deps: no /usr/lib/postgresql/*/bin/initdb after install" >&2
  exit 1
fi
