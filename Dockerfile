# Preempt: one image for every service (the command picks the service).
# Stage 1 builds the dashboard with Node; stage 2 runs Python on a slim image as a non-root user.

FROM node:20-slim AS dashboard
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# mysqlclient, the C MySQL driver the services pick when it is installed (PyMySQL otherwise),
# compiled here so the runtime image carries the client library only, not a compiler.
FROM python:3.11-slim AS wheels
RUN apt-get update && apt-get install -y --no-install-recommends gcc pkg-config libmariadb-dev \
    && rm -rf /var/lib/apt/lists/*
RUN pip wheel --no-cache-dir --wheel-dir /wheels 'mysqlclient>=2.2'

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=wheels /wheels /wheels
COPY pyproject.toml README.md ./
COPY src/ src/
RUN pip install /wheels/*.whl . && rm -rf /wheels && useradd --create-home --uid 10001 preempt \
    && mkdir -p /app/var/ml_models && chown -R preempt /app/var
COPY config.yaml ./
COPY data/ data/
COPY --from=dashboard /build/frontend/dist frontend/dist
USER preempt
EXPOSE 8080
# Health checks are per service in docker-compose.yml: only the api serves HTTP.
ENTRYPOINT ["preempt"]
CMD ["server"]
