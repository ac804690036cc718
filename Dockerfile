# One image for the operator and for the agent copy step of injection.
# Built on a current LTS (Node 24); the agent itself runs inside users' images on Node 20, 22 or 24.
#
# No Docker engine runs on the development machines: `npm test` checks this file statically
# (test/dockerfile.test.ts: every COPY source exists after `npm run build`, the entrypoint resolves) and
# by doing its steps (test/dockerfile-runtime.test.ts: the runtime tree, pruned to production
# dependencies, run as user 65532 with a read-only root: `--help`, `agent-bundle`, an operator on /healthz).

# ── build: compile TypeScript, bundle the UI, build native addons (better-sqlite3 for this runtime; the
#    agent's interrupt sampler for this runtime and for the Node 22 and 24 the devDependencies bring) ──
FROM node:24-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY agent ./agent
COPY operator ./operator
COPY ui ./ui
RUN apt-get update && apt-get install -y --no-install-recommends python3-websocket && rm -rf /var/lib/apt/lists/*
# Then production dependencies only, without what nothing loads at run time: source maps, type
# declarations, and better-sqlite3's sources and intermediate objects (the .node addon stays). About
# half of node_modules (127 → 66 MB); test/dockerfile-runtime.test.ts runs this line and the result.
RUN npm run build && npm prune --omit=dev && \
    find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete && \
    rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src node_modules/better-sqlite3/build/Release/obj \
      node_modules/better-sqlite3/build/Release/obj.target node_modules/better-sqlite3/build/Release/sqlite3.a \
      node_modules/better-sqlite3/build/Release/test_extension.node

# ── runtime: no compilers, no npm cache, a non-root user ──
FROM node:24-bookworm-slim
# In a pod the Service must reach the operator, so it listens on every address (the chart passes
# --auth, so people still need credentials); the store lives on the volume at /var/lib/sonde, the one
# writable path besides the agent bundle's emptyDir when the root filesystem is read-only.
ENV NODE_ENV=production \
    SONDE_HOST=0.0.0.0 \
    SONDE_DATA=/var/lib/sonde
RUN mkdir -p /var/lib/sonde && chown 65532:65532 /var/lib/sonde
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The interrupt sampler's addons, one per Node ABI the build stage had (agent/native/README.md).
COPY --from=build /src/agent/native/out ./agent/native/out
USER 65532:65532
VOLUME /var/lib/sonde
EXPOSE 7070 7071 9443
# `sonde operator` in a cluster; `sonde operator --standalone` without one (it then needs SONDE_TOKEN,
# or --host 127.0.0.1); `sonde agent-bundle DIR` as the injected init container; `sonde sample-app` and
# `sonde sample-traffic` for the tour in examples/.
ENTRYPOINT ["node", "/app/dist/operator/cli.js"]
CMD ["operator"]
