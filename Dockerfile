# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim
# NUMBA_CACHE_DIR: the batch ranker is compiled on first use and cached there (var/ is the
# one folder the running user may write; the installed package is not).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PAPERPOST_VAR_DIR=/app/var NUMBA_CACHE_DIR=/app/var/numba-cache
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY paperpost ./paperpost
COPY digest ./digest
COPY subscribers ./subscribers
COPY web ./web
RUN pip install --no-cache-dir .
COPY . .
# The dense encoder's weights, checked against the official SHA-256 (`make model`; kept if the
# build context already holds them): ranking uses them by default (MATCH_EMBEDDING_MODEL).
RUN python scripts/embedding_model.py
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && useradd --system --home /app paperpost && mkdir -p /app/var && chown -R paperpost /app/var
USER paperpost
EXPOSE 8000
CMD ["gunicorn", "paperpost.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
