# copbot in a container: a slim Python, a user of its own, the database on a volume.
#   docker build -t copbot .
#   docker run -d --name copbot -p 127.0.0.1:3978:3978 --env-file copbot.env -v copbot-data:/data copbot
FROM python:3.11-slim

RUN useradd --system --create-home --home-dir /opt/copbot --shell /usr/sbin/nologin copbot \
    && mkdir /data && chown copbot:copbot /data
WORKDIR /opt/copbot
COPY --chown=copbot:copbot . .
USER copbot
# The README's install step, as written (a test keeps the two the same).
RUN python3 -m venv .venv && .venv/bin/pip install -e .
# Compiled once in the image, not again by every container that starts from it.
RUN .venv/bin/python -m compileall -q adapters bot prompts storage

ENV COPBOT_DB=/data/copbot.db \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:3978/healthz', timeout=4).status != 200)"]
# SIGTERM: copbot stops taking requests and exits within 9 s (docker stop waits 10 s;
# a shorter wait, docker stop -t, would kill it part-way: see docs/operations.md).
STOPSIGNAL SIGTERM
CMD [".venv/bin/copbot", "serve", "--host", "0.0.0.0", "--port", "3978"]
