FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY api api
COPY domain domain
COPY balancer balancer
COPY rules rules
COPY bench bench
COPY alembic alembic
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["radflow", "serve"]
