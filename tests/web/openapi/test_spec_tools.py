"""The tools the OpenAPI generator's output will be held to, proven on the static example
spec (petstore.json) so a fresh machine shows they are installed and work:
openapi-spec-validator (PyPI), ``@redocly/cli lint`` (npm, installed into .tools/ by
``scripts/test``) and schemathesis (PyPI; run against a live API once the generator
exists, here it loads the spec). Each is also shown to fail on a broken document, so a
pass means something.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SPEC_PATH = Path(__file__).with_name("petstore.json")
REDOCLY = ROOT / ".tools" / "node_modules" / ".bin" / "redocly"


def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return data


def broken(*, dangling_ref: bool = False) -> dict[str, Any]:
    data = spec()
    # A path parameter the path does not declare, an info without its version, and
    # (openapi-spec-validator stops at the first of those) a reference to nothing.
    data["paths"]["/pets/{petId}"]["get"]["parameters"] = [
        {"name": "nope", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    del data["info"]["version"]
    if dangling_ref:
        data["components"]["schemas"]["Pet"]["allOf"][0]["$ref"] = "#/components/schemas/None"
    return data


def test_openapi_spec_validator_accepts_the_example() -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    validate(spec())  # raises on the first error
    assert list(OpenAPIV31SpecValidator(spec()).iter_errors()) == []
    errors = [error.message for error in OpenAPIV31SpecValidator(broken()).iter_errors()]
    assert any('"version" is a required property' in message for message in errors), errors
    assert any("Path parameter 'nope'" in message for message in errors), errors


def redocly_lint(path: Path) -> dict[str, Any]:
    if not REDOCLY.exists():
        pytest.fail(
            f"@redocly/cli is not installed at {REDOCLY}: scripts/test installs it (npm)",
            pytrace=False,
        )
    env = {
        **os.environ,
        "REDOCLY_TELEMETRY": "off",
        "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [str(REDOCLY), "lint", "--format=json", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == (1 if report["totals"]["errors"] else 0), done.stderr
    return report


def test_redocly_lint_finds_no_error_in_the_example() -> None:
    report = redocly_lint(SPEC_PATH)
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, report["problems"]


def test_redocly_lint_finds_the_errors_of_a_broken_spec(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken(dangling_ref=True)))
    report = redocly_lint(path)
    rules = {problem["ruleId"] for problem in report["problems"]}
    assert {"path-parameters-defined", "no-unresolved-refs", "struct"} <= rules
    assert report["totals"]["errors"] >= 3


def test_schemathesis_loads_the_example() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_dict(spec())
    operations = {
        f"{result.ok().method.upper()} {result.ok().path}" for result in schema.get_all_operations()
    }
    assert len(operations) == 7
    assert "DELETE /pets/{petId}" in operations
