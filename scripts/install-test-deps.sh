#!/usr/bin/env bash
# Installs the Debian packages that Berth's interoperability tests drive:
# skopeo, podman, buildah, umoci and a Docker engine (dockerd + containerd/ctr).
# Idempotent: does nothing (not even apt-get update) when all are present.
# Must run as root (or via sudo) on Debian 12 or later.
set -euo pipefail

packages=(skopeo podman buildah umoci docker.io containerd uidmap)

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
  # keep package scripts from starting a system docker/containerd: tests run their own
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

for tool in skopeo podman buildah umoci dockerd docker containerd ctr; do
  command -v "$tool" >/dev/null || { echo "install-test-deps: $tool not on PATH after install" >&2; exit 1; }
done
