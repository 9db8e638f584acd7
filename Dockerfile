# Preempt: one image for every service (the command picks the service).
# Stage 1 builds the dashboard with Node; stage 2 runs Python on a slim image as a non-root user.

FROM node:20-slim AS dashboard
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src/ src/
RUN pip install . && useradd --create-home --uid 10001 preempt \
    && mkdir -p /app/var/ml_models && chown -R preempt /app/var
COPY config.yaml ./
COPY data/ data/
COPY --from=dashboard /build/frontend/dist frontend/dist
USER preempt
EXPOSE 8080
# Health checks are per service in docker-compose.yml: only the api serves HTTP.
ENTRYPOINT ["preempt"]
CMD ["server"]
