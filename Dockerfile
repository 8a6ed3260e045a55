# The kg API. CPU only: the torch wheel is pinned to the CPU build.
FROM python:3.11-slim
WORKDIR /app
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY kg kg
COPY extractors extractors
COPY graph_schema graph_schema
COPY api api
RUN pip install --no-cache-dir .
ENV KG_DATA_DIR=/data HF_HUB_OFFLINE=1
VOLUME /data
EXPOSE 8000
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000"]
