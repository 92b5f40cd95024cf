# syntax=docker/dockerfile:1
# The OPX orchestration image: `opx serve` (the default command) and `opx worker`, installed from
# the packed package with production dependencies only, run as a non-root user. What this image
# does is tested without Docker by test/package/package.int.spec.ts: it packs, installs the
# tarball the same way (npm install --omit=dev) and starts `opx worker` from the install.
#
#   docker build -t opx .
#   docker run -e OPX_EVENTSTORE='esdb://eventstoredb:2113?tls=false' -e OPX_INGEST_TOKEN=... -p 9095:9095 opx   # opx serve
#   docker run -e OPX_EVENTSTORE='esdb://eventstoredb:2113?tls=false' -e OPX_HEALTH_PORT=9464 opx worker

ARG NODE_VERSION=20.19

# 1. Build: compile the library and pack exactly what npm would publish.
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the build needs neither better-sqlite3's native module nor the prepare build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json README.md CHANGELOG.md ./
COPY src ./src
COPY config ./config
COPY samples/signals.jsonl ./samples/signals.jsonl
RUN npm run build && mkdir /pkg && npm pack --ignore-scripts --pack-destination /pkg

# 2. Install: the tarball with production dependencies only (npm installs the peers, inversify and
# reflect-metadata, too). The optional better-sqlite3 is compiled here, where the toolchain is, so
# `opx store serve --data` works in the image as well; serve and worker against EventStoreDB do not need it.
FROM node:${NODE_VERSION}-bookworm AS install
WORKDIR /opt/opx
RUN echo '{"name":"opx-image","private":true,"type":"module"}' > package.json
COPY --from=build /pkg/ /tmp/pkg/
RUN npm install --omit=dev --no-audit --no-fund /tmp/pkg/*.tgz && npm cache clean --force

# 3. Run: slim base, no compiler, no npm cache, a non-root user that cannot write the code.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    OPX_LOG_LEVEL=info \
    OPX_HEALTH_PORT=9095
WORKDIR /opt/opx
COPY --from=install /opt/opx /opt/opx
USER node
EXPOSE 9095 9464
# /healthz of `opx serve` (OPX_HEALTH_PORT, default 9095) or of `opx worker` (set OPX_HEALTH_PORT=9464, its --http-port).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.OPX_HEALTH_PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/opt/opx/node_modules/@opx/incident-orchestration/dist/lib/cli/main.js"]
# In a container the receiver listens on every interface of the container (the port is what is published);
# give it TLS (--tls-cert/--tls-key) or keep it behind one that terminates TLS.
CMD ["serve", "--host", "0.0.0.0"]
