FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 KONTOR_INSTANCE_PATH=/data \
    KONTOR_BIND=0.0.0.0:8000
WORKDIR /opt/kontor
COPY . .
RUN pip install --no-cache-dir '.[postgres,redis]' && useradd --system kontor \
    && mkdir /data && chown kontor /data
USER kontor
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
