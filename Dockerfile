# The kg API. CPU only, installed as the Makefile installs it: the CPU build of torch first (an
# unpinned torch would pull a multi-GB CUDA build), then the package with its pinned dependencies.
FROM python:3.11-slim
WORKDIR /app
RUN pip install --no-cache-dir --upgrade pip \
 && pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY kg kg
COPY extractors extractors
COPY graph_schema graph_schema
COPY api api
RUN pip install --no-cache-dir .
# Inside the container the API must listen on every interface to be reachable through a published
# port; publish it on the host's loopback only (docker run -p 127.0.0.1:8000:8000) or set
# KG_API_KEY (docker run -e KG_API_KEY=...), which the write endpoints then require.
# KG_STORE=falkordb (the default) keeps the graph in /data; docker-compose.yml runs it on Neo4j.
ENV KG_DATA_DIR=/data HF_HUB_OFFLINE=1 KG_API_HOST=0.0.0.0 KG_API_PORT=8000
VOLUME /data
EXPOSE 8000
CMD ["kg", "serve"]
