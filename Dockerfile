# tablegate: build the dependencies in one stage, run as a non-root user in the next.
# Configured by TABLEGATE_* environment variables at `docker run` (docs/operations.md).
FROM python:3.11-slim AS build
WORKDIR /app
COPY requirements.txt .
# Only the service's pins: everything below "# tests" in requirements.txt stays out.
RUN sed '/^# tests/,$d' requirements.txt > service.txt \
    && python -m venv /venv \
    && /venv/bin/pip install --no-cache-dir -r service.txt

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home tablegate
COPY --from=build /venv /venv
WORKDIR /app
COPY tablegate/ tablegate/
COPY wsgi.py gunicorn.conf.py ./
ENV PATH="/venv/bin:$PATH" PYTHONUNBUFFERED=1 TABLEGATE_BIND=0.0.0.0:8000
# Numeric, so that the runtime (and Kubernetes' runAsNonRoot) can tell it is not root.
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
