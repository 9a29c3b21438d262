# syntax=docker/dockerfile:1
#
# Tributary's image: `docker build -t tributary .`, or `docker compose up --build` for the whole stack.
# The build stage compiles the TypeScript and any native addons (librdkafka for the `confluent`
# client engine); the runtime stage carries only production node_modules, the compiled code and
# the shared libraries those addons link against. Both stages are on Node 26, the line CI runs
# (package.json engines.node lists the supported ones).

FROM node:26-bookworm-slim AS build

# Build librdkafka against the system's OpenSSL, zlib, zstd, curl, SASL and LZ4 rather than
# vendoring (and downloading) their sources, and the addon against the headers the image's Node
# carries under /usr/local/include/node rather than downloading them.
ENV CKJS_LINKING=dynamic \
  npm_config_nodedir=/usr/local

RUN apt-get update \
  && apt-get install -y --no-install-recommends \
    python3 make g++ pkg-config \
    libssl-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev libsasl2-dev liblz4-dev \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci

COPY . .
RUN npm run build \
  && npm prune --omit=dev


FROM node:26-bookworm-slim AS runtime

RUN apt-get update \
  && apt-get install -y --no-install-recommends \
    ca-certificates libssl3 zlib1g libzstd1 libcurl4 libsasl2-2 liblz4-1 \
  && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production

WORKDIR /app

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/schemas/analytics/*.avsc ./schemas/analytics/
# The demo app: the shop example, loaded by the CLI from its tributary.config.ts.
COPY --from=build /app/examples ./examples
ENV TRIBUTARY_APP=/app/examples/shop

# The state directory (TRIBUTARY_STATE_DIR, default .tributary) must be writable by the runtime user.
RUN mkdir -p /app/.tributary && chown node:node /app/.tributary

USER node

EXPOSE 8080 8090

ENTRYPOINT ["node", "bin/tributary.js"]
CMD ["demo"]
