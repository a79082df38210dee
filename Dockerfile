# Berth, the container image registry, as a container image.
#
#   docker build -t berth .
#   docker run … berth           (the exact line is in docs/deployment.md, "Docker")
#
# Two stages: the first compiles (TypeScript, better-sqlite3's native addon) with the dev
# dependencies; the second carries only the compiled JavaScript and the production dependencies.
# The base images are build arguments so the image can be built where Docker Hub is out of reach;
# both must be Debian 12 with Node 20 and npm, the build one also with python3, make and g++ (which
# node:20-bookworm has). docs/deployment.md says where this file has and has not been built.
ARG BUILD_IMAGE=node:20-bookworm
ARG RUNTIME_IMAGE=node:20-bookworm-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` needs the sources, copied below. better-sqlite3's
# addon is then built on its own (a prebuilt binary when one can be downloaded, else from source).
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY ui ./ui
COPY scripts/build-ui.mjs ./scripts/
RUN npx tsc -p tsconfig.build.json && node scripts/build-ui.mjs && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${RUNTIME_IMAGE}
# A fixed uid/gid, so a host directory mounted as the volume can be chowned to it: 10001.
RUN groupadd --system --gid 10001 berth \
 && useradd --system --uid 10001 --gid berth --home-dir /var/lib/berth --no-create-home --shell /usr/sbin/nologin berth \
 && mkdir -p /var/lib/berth /etc/berth \
 && chown berth:berth /var/lib/berth
WORKDIR /opt/berth
COPY package.json ./
COPY bin ./bin
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist/src ./dist/src
COPY --from=build /build/dist/ui ./dist/ui
RUN ln -s /opt/berth/bin/berth.js /usr/local/bin/berth
# glibc malloc: two arenas, and freed memory above 128 KiB handed back to the system, so a burst
# of connections does not leave its peak resident (docs/configuration.md#nodejs-memory-settings).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    BERTH_LISTEN=0.0.0.0:5000 \
    BERTH_DATA=/var/lib/berth
USER berth
VOLUME /var/lib/berth
EXPOSE 5000
# No curl in slim images: node asks. With TLS or another port, override it (docker run --health-cmd).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:5000/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node runs as PID 1 and Berth handles SIGTERM itself (drains, then exits): no init needed, though
# `docker run --init` does no harm. `docker stop -t` should exceed shutdown.timeout (30 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/berth/bin/berth.js"]
CMD ["serve"]
