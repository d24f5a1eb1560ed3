# memhead: a slim, non-root image. Build: docker build -t memhead .
#   docker run -p 8080:8080 memhead                        (SQLite in the /data volume)
#   docker run -p 8080:8080 -e REDIS_URL=redis://host:6379 memhead
#   docker run memhead worker | migrate-motorhead --from redis://...   (other commands)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY memhead ./memhead
RUN pip install . \
    && rm -rf /src \
    && useradd --create-home --uid 10001 memhead \
    && mkdir /data \
    && chown memhead /data

USER memhead
# The default store is sqlite:///memhead.db, relative to here: /data/memhead.db. A store URL
# is deliberately not set in the image: it would win over a REDIS_URL given at run time.
WORKDIR /data
VOLUME /data
EXPOSE 8080

# /healthz touches no backend: "the process serves HTTP". (/readyz also pings the store.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; port = os.environ.get('MEMHEAD_PORT') or os.environ.get('PORT') or '8080'; u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)"]

ENTRYPOINT ["memhead"]
CMD ["serve"]
