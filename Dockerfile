# One image for the operator and for the agent copy step of injection.
# Built on a current LTS (Node 24); the agent itself runs inside users' images on Node 20, 22 or 24.
#
# No Docker engine runs on the development machines: `npm test` checks this file statically
# (test/dockerfile.test.ts: every COPY source exists after `npm run build`, the entrypoint resolves).

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
RUN npm run build && npm prune --omit=dev

# ── runtime: no compilers, no npm cache, a non-root user ──
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The interrupt sampler's addons, one per Node ABI the build stage had (agent/native/README.md).
COPY --from=build /src/agent/native/out ./agent/native/out
USER 65532:65532
EXPOSE 7070
# `sonde operator` in a cluster; `sonde operator --standalone` without one.
ENTRYPOINT ["node", "/app/dist/operator/cli.js"]
CMD ["operator"]
