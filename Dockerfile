# nnserve: approximate nearest-neighbour serving over Annoy index files.
#
#   docker build -t nnserve .
#   docker run --read-only --tmpfs /tmp --cap-drop ALL -p 8080:8080 -v "$PWD/indexes:/indexes" nnserve
#
# Runtime contract: runs as uid 1000 (node), the root filesystem may be read-only, the
# service writes only to /tmp and to the index directory /indexes. /indexes is a VOLUME so
# that a plain `docker run --read-only` (nothing mounted) still gets a writable anonymous
# volume where the demo index is created; mount your own directory there in production.

# Production dependencies only, in their own stage: cached until package*.json change, and
# built in parallel with the compile stage. (Pruning dev dependencies after the build instead
# deletes thousands of files from a lower layer, which costs 30-45 s of overlay whiteouts.)
FROM node:20-slim AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-slim AS build
WORKDIR /src
# Dependencies first so source edits do not invalidate the npm layer. --ignore-scripts:
# no dependency needs an install script, and the project's own prepare/build step needs
# the sources, which are not copied yet.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    NNSERVE_INDEX_DIR=/indexes
WORKDIR /app
# Application files stay owned by root: the service user can read but never modify them.
COPY --from=build /src/package.json ./package.json
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
RUN mkdir -p /indexes && chown 1000:1000 /indexes
VOLUME ["/indexes"]
# Numeric so Kubernetes' runAsNonRoot can verify it without a runAsUser override.
USER 1000:1000
EXPOSE 8080
# slim images have no curl; node's global fetch does the probe. /healthz only reports
# that the event loop answers; readiness (/readyz) is for load balancers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself; the service installs the handler
# that fails readiness, drains in-flight requests and exits 0.
CMD ["node", "dist/src/cli/main.js", "serve"]
