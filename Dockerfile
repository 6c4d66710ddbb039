# KURA OS API — production image (Cloud Run). Build: docker build -t kura-backend .
# (or let `gcloud run deploy --source .` build it: scripts/deploy.sh does).

# One base for both stages, pinned twice: by Debian release (bookworm = Debian 12, whose
# postgresql-client-15 matches Cloud SQL; the bare `python:3.11-slim` tag moved to trixie,
# which has no client 15) and by digest (a rebuild gets the same bytes). To bump it:
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # the index digest
# then replace the digest below (or pass --build-arg PYTHON_BASE=...).
ARG PYTHON_BASE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# --- build stage: wheels for the app and its dependencies --------------------------------
FROM ${PYTHON_BASE} AS build
WORKDIR /build
COPY pyproject.toml README.md alembic.ini ./
COPY requirements ./requirements
COPY src ./src
RUN pip install --no-cache-dir --require-hashes -r requirements/build.lock \
 && pip wheel --no-cache-dir --require-hashes -r requirements/base.lock --wheel-dir /wheels \
 && pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

# --- runtime stage: no compilers, no build files -----------------------------------------
FROM ${PYTHON_BASE}
# pg_dump/psql 15 (Debian bookworm) for the backup API: the same major as Cloud SQL. Not
# pinned to a Debian revision on purpose: the base is pinned by digest, and the client follows
# bookworm's security updates (an exact pin breaks the build once the archive drops it).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin kura
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/kura-*.whl \
 && rm -rf /wheels
ENV ENVIRONMENT=production \
    PORT=8000 \
    KURA_DATA_DIR=/tmp/kura \
    PG_BIN_DIR=/usr/lib/postgresql/15/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=3)"]
# Serves only: migrations are the kura-migrator job's work (`kura migrate`), never a start step.
CMD ["kura", "serve"]
