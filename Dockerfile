# The registry for production: gunicorn, migrations applied at start, running as a non-root user.
# Configure with REGISTRY_DATABASE_URL (PostgreSQL), REGISTRY_BLOB_DIR (a mounted volume), REGISTRY_JOBS=celery
# and REGISTRY_BROKER_URL, and the limits in README. Reference workers run the same image with
# `registry worker --url ... --token ... [--gpu MODEL]`.
# Blobs in S3 instead of the volume: REGISTRY_STORAGE=s3, REGISTRY_S3_BUCKET, REGISTRY_S3_PREFIX, and for an
# S3-compatible store REGISTRY_S3_ENDPOINT_URL; credentials come from boto3's usual chain (an instance or task
# role, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the container's environment), never from the registry.
# Run `registry storage gc` and `registry storage fsck --sample N` from cron with the same image and settings.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    REGISTRY_VAR_DIR=/data

# bubblewrap: the evaluation sandbox, for the same image run as `registry worker`
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 registry && mkdir -p /data && chown registry:registry /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY registry ./registry
COPY client ./client
COPY schemas ./schemas
COPY migrations ./migrations
COPY worker ./worker
RUN pip install . && rm -rf /root/.cache

USER registry
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/openapi.json', timeout=4)"
CMD ["sh", "-c", "registry db upgrade && exec gunicorn --bind 0.0.0.0:8080 --worker-class gthread --workers ${WEB_CONCURRENCY:-4} --threads ${WEB_THREADS:-8} --timeout 600 --limit-request-line 8190 --access-logfile - 'reproreg.app:create_app()'"]
