"""Schema fuzzing: every operation of the OpenAPI document, called with generated input.

schemathesis generates requests from the document of a site with every shipped plugin
enabled (valid input, and input that breaks the schema), as an operator, as a member
and without a token, with path ids that exist (the seeded world) and ids that do not.
Each response must be a documented status with its documented media type and schema,
and never a 5xx other than a documented 503 (a provider the site has not set up, such as
PayPal without credentials) or 502 (the provider refused).  A failure lists each case
with a curl command that reproduces it.

Runs on SQLite with a few examples per operation (``AGORAKIT_FUZZ_EXAMPLES``, default
4: about a minute); ``make fuzz`` runs more, with a fresh random seed each time, on
SQLite and PostgreSQL (``AGORAKIT_FUZZ_DATABASES``).
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from api_world import all_plugins_config, build_world
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("AGORAKIT_FUZZ_EXAMPLES", "4"))
#: a fixed seed in the suite (a failure reproduces); `make fuzz` sets it to random
RANDOM = os.environ.get("AGORAKIT_FUZZ_RANDOM", "") not in {"", "0"}
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
#: what a site answers for a provider it has not set up (PayPal without credentials) or
#: one that refused: documented per operation, so status_code_conformance holds them to
#: the document; any other 5xx is a crash
PROVIDER_STATUSES = {502, 503}
BASE_URL = "http://testserver"

#: the suite fuzzes on SQLite; `make fuzz` on PostgreSQL too
DATABASES = os.environ.get("AGORAKIT_FUZZ_DATABASES", "sqlite").split(",")

pytestmark = [pytest.mark.fuzz, pytest.mark.parametrize("db_kind", DATABASES, indirect=True)]


@pytest.fixture
def site_config(tmp_path):
    return all_plugins_config(tmp_path)


def draw_cases(strategy, examples: int) -> list[Any]:
    """Up to ``examples`` cases from a schemathesis strategy (generated, not sent)."""
    cases: list[Any] = []

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def collect(case):
        cases.append(case)

    try:
        collect()
    except hypothesis.errors.Unsatisfiable:  # e.g. no input that could break the schema
        pass
    return cases


def transport_kwargs(case, headers: dict[str, str]) -> dict[str, Any]:
    """schemathesis' request (``requests`` arguments), encoded by requests, as httpx arguments."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
    names = ("method", "url", "headers", "params", "json", "data", "files", "cookies")
    prepared = requests.Request(**{k: kwargs[k] for k in names if kwargs.get(k) is not None}).prepare()
    return {
        "method": prepared.method,
        "url": prepared.url,
        "headers": dict(prepared.headers),
        "content": prepared.body,
    }


async def test_every_operation_conforms_to_the_openapi_document(client, runtime, make_member):
    world = await build_world(client, runtime, make_member)
    document = (await client.get("/docs/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    actors = {
        "operator": world.operator.headers,
        "member": world.buyer.headers,
        "anonymous": {},
    }
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        params = {p["name"] for p in operation.definition.raw.get("parameters", []) if p.get("in") == "path"}
        known = {name: world.ids[name] for name in params if name in world.ids}
        plans = [(GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
        if known:
            plans.append((GenerationMode.POSITIVE, known))
        for mode, path_parameters in plans:
            cases = draw_cases(
                operation.as_strategy(generation_mode=mode, path_parameters=path_parameters), EXAMPLES
            )
            for case in cases:
                actor = list(actors)[sent % len(actors)]
                headers = dict(actors[actor])
                response = await client.request(**transport_kwargs(case, headers))
                sent += 1
                checks = CHECKS
                if response.status_code not in PROVIDER_STATUSES:
                    checks = [not_a_server_error, *CHECKS]
                try:
                    case.validate_response(response, checks=checks, headers=headers)
                except (AssertionError, FailureGroup) as exc:
                    failures.append(
                        f"{operation.label} as {actor}: {response.status_code} "
                        f"{response.text[:300]}\n  {exc}\n  {case.as_curl_command(base_url=BASE_URL)}"
                    )
    assert sent > 100
    assert not failures, f"{len(failures)} of {sent} requests broke the document:\n\n" + "\n\n".join(failures)
