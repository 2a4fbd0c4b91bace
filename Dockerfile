# moot API image. Minimal for now: the web client build stage, the worker and the full
# multi-stage layout arrive with the deployment work (issue 7). Never run with embedded
# services in a container: set MOOT_DATABASE_URL, MOOT_REDIS_URL and MOOT_SECRET_KEY.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY migrations ./migrations
RUN pip install . && useradd --system --uid 10001 --home-dir /app moot

USER moot
ENV MOOT_HOST=0.0.0.0 MOOT_PORT=8000 MOOT_LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["moot"]
CMD ["serve"]
