# balance-service image.
#
#   docker build -t balance-service .
#   docker run --rm -e REDIS_URL=redis://redis-host:6379 -e GRPC_AUTH_TOKEN=... \
#     -p 3002:3002 -p 50051:50051 -p 9102:9102 balance-service
#
# REDIS_URL is required in a container: without it the service tries to start a
# private redis-server child, and this image deliberately ships none (Redis is a
# separate, persistent service; see docker-compose.yml and docs/operations.md).
# Secrets (LEDGER_HMAC_KEY, ADMIN_API_KEY, JWT_*, GRPC_AUTH_TOKEN, REDIS_PASSWORD)
# come from the environment at run time; none is baked in here. gRPC listens on
# all interfaces in the container (GRPC_HOST below), so the start is refused
# without a credential for the game: GRPC_AUTH_TOKEN or mutual TLS (GRPC_TLS_*),
# or GRPC_ALLOW_UNAUTHENTICATED=true on a network you trust.
#
# Both stages use the same pinned Node 24 image, the version of the `node`
# devDependency in package.json. Bump both together (and pin a digest,
# node:24.x.y-bookworm-slim@sha256:..., in a registry-connected pipeline).

# ---- build: all dependencies, TypeScript -> dist/ -------------------------------
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install script that matters is the `node`
# devDependency's, which downloads a second Node binary; the image already is
# Node 24.21.0, so it is skipped (tsc and vitest then run on the image's node).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
# tsc -p tsconfig.build.json, then scripts/copy-assets.ts puts the .lua store scripts into dist/store/redis/.
RUN npm run build

# ---- runtime: production dependencies, compiled JS, proto/, bin/ -------------
FROM node:24.21.0-bookworm-slim AS runtime
# tini as PID 1: forwards SIGTERM/SIGINT to node and reaps zombies. Node itself
# would also do for signals (NodeRuntime.runMain installs SIGTERM/SIGINT
# handlers that interrupt the app: gRPC drains, the credit queue closes, exit 0),
# but tini keeps PID 1 semantics right whatever runs. Unpinned on purpose: the
# Debian revision differs per architecture; the base image tag pins the release.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# Loopback inside a container would serve no one: gRPC listens on all interfaces, with the game's credential.
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/balance-service \
    GRPC_HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; no install scripts (none of them needs one).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
# The gRPC server loads proto/*.proto at run time from ../../../proto/ relative to dist/api/grpc/.
COPY proto ./proto
# The admin CLI (package.json "bin"): bin/balance-admin.js loads ../dist/cli/main.js. Linked onto
# PATH so that `docker exec <container> balance-admin archive` works; it finds the admin key
# through DATA_DIR below (or ADMIN_API_KEY) and the API on 127.0.0.1:3002 (BALANCE_API_URL).
COPY bin ./bin
RUN chmod 0755 bin/balance-admin.js \
 && ln -s /app/bin/balance-admin.js /usr/local/bin/balance-admin
# DATA_DIR holds the durable credit queue (credit-queue.jsonl, fsync'ed before a
# credit is acknowledged while Redis is down), its dead-letter file and, when
# ADMIN_API_KEY is unset, the generated admin key: mount a persistent volume here,
# one per instance.
RUN mkdir -p /var/lib/balance-service \
 && chown 1000:1000 /var/lib/balance-service \
 && chmod 0700 /var/lib/balance-service
VOLUME ["/var/lib/balance-service"]

# 1000:1000 is the image's `node` user; numeric so that Kubernetes runAsNonRoot can check it.
USER 1000:1000

# HTTP API (/api, /api/health, /api/ready, /metrics), gRPC, Prometheus /metrics.
EXPOSE 3002 50051 9102

# Liveness only (/api/health); readiness (/api/ready: every listener accepts and Redis answers) is for the orchestrator's probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||3002)+'/api/health',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# SIGTERM to the container reaches node through tini (exec form, no shell): it drains and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
