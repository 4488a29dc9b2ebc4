# The chat server in one image (docs/deploy.md): `docker build -t chatserver .`, or
# `docker compose up --build` for two processes behind nginx with PostgreSQL and Redis.
# Installs the lock (requirements/run.txt: exact versions, hashes checked; langdetect, pure
# Python, is built from its sdist), as `make run` does.
FROM python:3.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/venv/bin:$PATH

WORKDIR /app

# The dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements/run.txt requirements/run.txt
RUN python -m venv /venv \
    && pip install --require-hashes --no-deps -r requirements/run.txt

# The server, and what it reads relative to /app: static/ (pages, widget, console; found
# next to the chatserver package, which is why the install below is editable: a copy in
# site-packages would look for site-packages/static), faq/ and locales/ (the defaults of
# CHATSERVER_FAQ_DIR and CHATSERVER_LOCALES_DIR), and docs/sla.example.yaml.
COPY pyproject.toml README.md ./
COPY chatserver chatserver
COPY static static
COPY faq faq
COPY locales locales
COPY docs/sla.example.yaml docs/sla.example.yaml
RUN pip install --no-deps --no-build-isolation -e . && pip check

# Not root. var/ holds the SQLite file of a single process (the default database) and the
# cache directory (the FAQ's trained builds, its embeddings, the word table: a restart with
# an unchanged FAQ maps them instead of training again); a desk on PostgreSQL keeps nothing
# here that must survive.
RUN useradd --system --uid 10001 --gid 0 --home-dir /app --no-create-home chat \
    && mkdir -p var/cache \
    && chown -R chat:0 var
USER chat

ENV CHATSERVER_HOST=0.0.0.0 \
    CHATSERVER_PORT=8080 \
    CHATSERVER_CACHE_DIR=/app/var/cache
EXPOSE 8080

# Ready = start-up done, the database answers (and Redis, when shared). The first start
# trains the FAQ matcher (about a minute with embeddings on two cores): start period 180 s.
HEALTHCHECK --interval=10s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('CHATSERVER_PORT', '8080'), timeout=4)"]

# SIGTERM (docker stop) closes every socket (clients reconnect, to another process behind
# the proxy) and stops within CHATSERVER_SHUTDOWN_TIMEOUT (default 10 s) of open requests.
CMD ["chatserver", "serve"]
