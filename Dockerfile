# tablegate: build the dependencies in one stage, run as a non-root user in the next.
FROM python:3.11-slim AS build
WORKDIR /app
COPY requirements.txt .
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -r requirements.txt

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home tablegate
COPY --from=build /venv /venv
WORKDIR /app
COPY tablegate/ tablegate/
COPY wsgi.py gunicorn.conf.py ./
ENV PATH="/venv/bin:$PATH" PYTHONUNBUFFERED=1 TABLEGATE_BIND=0.0.0.0:8000
USER tablegate
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
