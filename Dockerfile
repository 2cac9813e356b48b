# Deep Live Cam REST API on CPU (onnxruntime). Models are not baked in: mount them at /models.
#   docker build -t deep-live-cam .
#   docker run -p 127.0.0.1:8000:8000 -e DLC_API_KEY=change-me -v "$PWD/models:/models:ro" deep-live-cam
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DLC_MODELS_DIR=/models

# opencv-python needs libGL and glib at import time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv
# Only what the package needs (the checkout's .venv and model weights stay out of the image).
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install ".[cpu]" \
    && useradd --system --create-home --uid 10001 dlc \
    && mkdir -p /models && chown dlc /models

USER dlc
VOLUME ["/models"]
EXPOSE 8000

# /health answers without the API key; it reports "degraded" (still 200) while models are missing.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)" || exit 1

# The API key comes from $DLC_API_KEY (set it: the server listens on every interface inside the container).
CMD ["deep-live-cam", "serve", "--host", "0.0.0.0", "--port", "8000"]
