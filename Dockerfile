# syntax=docker/dockerfile:1
# One image for every Quarry service; the command picks the service
# (node gateway/main.ts, subgraphs/documents/main.ts, subgraphs/search/main.ts,
# indexer/main.ts). There is no build step: Node 24 runs the
# TypeScript sources directly by stripping types.

# Stage 1: production dependencies only, installed from the lock file.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Stage 2: the runtime, without npm's cache, dev dependencies or tests.
FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    DATA_DIR=/var/lib/quarry
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY cli ./cli
COPY gateway ./gateway
COPY indexer ./indexer
COPY schema ./schema
COPY server ./server
COPY subgraphs ./subgraphs
# DATA_DIR exists and belongs to the unprivileged user, so a named volume
# mounted there starts with the right owner (development keys live there).
RUN mkdir -p /var/lib/quarry && chown node:node /var/lib/quarry
USER node
EXPOSE 4000 4001 4002 4003
CMD ["node", "gateway/main.ts"]
