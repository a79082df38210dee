#!/usr/bin/env bash
# Makes the two base images the Dockerfile takes as build arguments, for machines that cannot pull
# node:20-bookworm from Docker Hub (this is how the image was built for docs/deployment.md):
#   berth-base:runtime  Debian 12 minbase (debootstrap) + this machine's node and npm
#   berth-base:build    the same + python3, make, g++, node's headers, and an npmrc using the
#                       system CA bundle and those headers (no download of headers or CAs)
# Then: docker build --network host --build-arg BUILD_IMAGE=berth-base:build \
#         --build-arg RUNTIME_IMAGE=berth-base:runtime -t berth .
# Needs root, debootstrap, a Debian mirror, and node 20 at /usr/bin/node with headers in
# /usr/include/node (NodeSource's nodejs package). Usage: make-local-base.sh WORKDIR [MIRROR]
set -euo pipefail
work=${1:?usage: make-local-base.sh WORKDIR [MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
node_bin=$(command -v node)
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
case "$("$node_bin" --version)" in v20.*) ;; *) echo "node 20 needed, found $("$node_bin" --version)" >&2; exit 2 ;; esac

mkdir -p "$work"
rootfs=$work/rootfs
debootstrap --variant=minbase --include=ca-certificates,libstdc++6 bookworm "$rootfs" "$mirror"
install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

import_image() {
  tar -C "$1" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["node"]' - "$2"
}
import_image "$rootfs" berth-base:runtime

build=$work/rootfs-build
cp -a "$rootfs" "$build"
chroot "$build" /bin/sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ && apt-get clean && rm -rf /var/lib/apt/lists/*'
mkdir -p "$build/usr/local/include" "$build/usr/local/etc"
cp -a /usr/include/node "$build/usr/local/include/node"
cp /etc/ssl/certs/ca-certificates.crt "$build/etc/ssl/certs/ca-certificates.crt"
printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nnodedir=/usr/local\nfund=false\naudit=false\nupdate-notifier=false\n' > "$build/usr/local/etc/npmrc"
import_image "$build" berth-base:build
