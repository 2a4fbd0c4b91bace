# syntax=docker/dockerfile:1
# moot's image, in three stages: the web client (Node), the wheels (Python), and a slim runtime
# that runs `moot` as a non-root user. One image serves every role: `moot serve` (the API, the
# default), `moot worker`, `moot migrate`, `moot cleanup`, `moot turn-probe`.
#
#   docker build -t moot .
#
# Nothing secret is baked in: no .env, no .env.local (see .dockerignore). Give the container
# MOOT_DATABASE_URL, MOOT_REDIS_URL and MOOT_SECRET_KEY (docker-compose.yml, deploy/nomad/).
# Without store URLs it starts embedded PostgreSQL and Valkey in MOOT_DATA_DIR, as on a laptop:
# fine for a look, not for production.

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# -- 1. the web client -------------------------------------------------------------------------
# Until web/package.json exists (issue 6) this stage yields an empty dist and moot serves the
# API only. BuildKit (the default builder) lets the package*.json wildcard match nothing.
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY web/package*.json ./
RUN --mount=type=cache,target=/root/.npm \
    if [ -f package.json ]; then npm ci --no-audit --no-fund; fi
COPY web/ ./
RUN if [ -f package.json ]; then npm run build; else mkdir -p dist; fi

# -- 2. the wheels -----------------------------------------------------------------------------
# A wheel for every dependency exactly as requirements/app.txt pins it (hash-checked, binary
# only), then moot's wheel (migrations inside) without resolving again, so the runtime installs
# offline and needs no compiler. The lock comes first: its layer is rebuilt only when it changes.
FROM ${PYTHON_IMAGE} AS wheels
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements/app.txt ./requirements/
RUN pip wheel --wheel-dir /wheels --require-hashes --only-binary=:all: -r requirements/app.txt
COPY pyproject.toml README.md ./
COPY src ./src
COPY migrations ./migrations
RUN pip wheel --wheel-dir /wheels --no-deps .

# -- 3. the runtime ----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    --mount=type=bind,source=requirements,target=/requirements \
    pip install --no-index --find-links=/wheels --require-hashes -r /requirements/app.txt \
 && pip install --no-index --no-deps /wheels/moot-*.whl \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/moot --create-home moot

COPY --from=web /web/dist /app/web
WORKDIR /app

# Listen on every interface inside the container; logs as JSON lines; the web client's build.
# MOOT_PORT is the API's port, MOOT_WORKER_PORT the worker's (`moot worker`).
ENV MOOT_HOST=0.0.0.0 \
    MOOT_PORT=8000 \
    MOOT_WORKER_PORT=8001 \
    MOOT_LOG_FORMAT=json \
    MOOT_WEB_DIR=/app/web \
    MOOT_DATA_DIR=/var/lib/moot

USER moot
EXPOSE 8000 8001
# Healthy when /health answers on the API's port or, for `moot worker`, on the worker's: one
# image, one check for both roles. (Compose and Nomad also check /ready, which needs the stores.)
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u\ndef ok(port):\n try: return u.urlopen(f'http://127.0.0.1:{port}/health', timeout=2).status == 200\n except OSError: return False\nraise SystemExit(0 if any(ok(os.environ.get(k, d)) for k, d in (('MOOT_PORT', '8000'), ('MOOT_WORKER_PORT', '8001'))) else 1)"]
# SIGTERM (docker stop's default) shuts down gracefully: room sockets are closed with 1012 so
# clients reconnect to another instance, the worker flushes its transcripts.
STOPSIGNAL SIGTERM
ENTRYPOINT ["moot"]
CMD ["serve"]
