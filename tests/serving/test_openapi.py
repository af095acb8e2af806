"""The OpenAPI document describes what the server does: schemathesis against `modelloop serve`.

schemathesis (a project dependency) reads the running server's ``/openapi.json``, sends
requests it derives from it -- valid ones, boundary values, wrong types, missing fields,
methods a path does not take -- and checks each answer against the document. The run is
bounded (``--max-examples`` per operation, no time budget) and seeded, so it sends the same
requests every time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

SEED = 17
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance,unsupported_method,"
    "allow_header_conformance"
)


def test_openapi_document_states_every_status_and_the_models_columns(client) -> None:
    doc = client.get("/openapi.json").json()
    predict = doc["paths"]["/v1/models/titanic/predict"]["post"]
    assert {"400", "404", "413", "415", "422", "503"} <= set(predict["responses"])
    body = predict["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [next(iter(shape["required"])) for shape in body] == [
        "instances",
        "dataframe_records",
        "dataframe_split",
    ]
    row = doc["components"]["schemas"]["TitanicRowV1"]
    assert set(row["required"]) == {"Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked"}
    assert row["additionalProperties"] is False
    assert doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"type": "string"}}
    }
    r = client.get("/v1/models/titanic/predict")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_schemathesis_finds_no_server_error_and_no_conformance_failure(
    home: Path, serve_process, tmp_path: Path
) -> None:
    report = tmp_path / "schemathesis.json"
    env = {**os.environ, "MODELLOOP_API_KEY": "secret"}
    with serve_process(home, "--no-log", env=env) as served:
        assert httpx.get(f"{served.base}/health").json()["models"] == ["fares", "titanic"]
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{served.base}/openapi.json",
             "--max-examples", "5", "--seed", str(SEED), "--workers", "1",
             "--phases", "examples,coverage,fuzzing", "--checks", CHECKS,
             "--header", "X-API-Key: secret", "--warnings", "off", "--no-color",
             # the same bodies as /v1/models/NAME/predict: tested through the generic routes
             "--exclude-path-regex", "^/v1/models/[a-z]+/(versions/[0-9]+|aliases/[a-z]+)/",
             "--report", "json", "--report-json-path", str(report)],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its cache goes there
        )  # fmt: skip
    summary = json.loads(report.read_text())
    cases = summary["test_cases"]
    print(f"schemathesis: {cases['generated']} requests, {cases['with_failures']} failed")
    assert run.returncode == 0, run.stdout[-4000:]
    assert summary["failures"] == [] and summary["errors"] == []
    assert cases["with_failures"] == 0 and cases["errored"] == 0
    assert summary["operations"]["tested"] >= 18 and cases["generated"] >= 500
    assert "Traceback" not in served.output and "internal error" not in served.output
