# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Neo4j's own Cypher parser (npm, run with the machine's Node.js): the tests check every statement
# the Neo4j backend can send with it (tests/kg/stores/neo4j/test_cypher_static.py)
CYPHER_LS_VERSION := 2.0.0-next.38
CYPHER_LS := .node/.installed-$(CYPHER_LS_VERSION)

.PHONY: install demo test bench clean-data cypher-ls

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the CPU wheel first: an unpinned torch would pull a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	# ray: tests/kg/test_parallel.py runs the Ray workers on a local Ray instance
	$(BIN)/pip install -q -e ".[dev,ray]"
	touch $(STAMP)

install: $(STAMP)

$(CYPHER_LS):
	command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	mkdir -p .node
	npm install --prefix .node --no-save --no-audit --no-fund --loglevel=error @neo4j-cypher/language-support@$(CYPHER_LS_VERSION)
	touch $(CYPHER_LS)

cypher-ls: $(CYPHER_LS)

demo: $(STAMP)
	$(BIN)/python -m kg.demo

test: $(STAMP) $(CYPHER_LS)
	# the graph-view tests draw in a real headless browser: Debian's chromium
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	$(BIN)/python -m pytest -q tests

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean-data:
	rm -rf .kg
