"""A fuzz pass over the OpenAPI document with schemathesis: no generated request gets a 500.

Schemathesis reads ``/api/schema/`` from the WSGI application itself and,
for every documented operation, generates requests from the schema: valid
ones (positive mode) and invalid ones (negative mode: wrong types,
out-of-range numbers, missing fields, odd strings). Each is sent through the
real Django stack against the test PostgreSQL, with a key of an account holding every right so the
writes and the operators' endpoints are reached too. Checks: no 5xx
(``not_a_server_error``); documented status codes; bodies matching the
documented schema. ``MAX_EXAMPLES`` bounds the time.

Hypothesis drives the generation directly (``operation.as_strategy``):
schemathesis' own pytest integration does not run under pytest 9.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.account_helpers import make_service
from tests.recommender.conftest import published  # noqa: F401  (fixtures)
from web.accounts.permissions import OPERATORS, join_group

MAX_EXAMPLES = 15
"""Generated requests per operation and mode: reaches each parameter's edge cases, bounded for ``make test``."""
OPERATIONS = [
    ("GET", "/api/users/{user_id}/recommendations"),
    ("GET", "/api/users/{user_id}/ratings"),
    ("POST", "/api/users/{user_id}/ratings"),
    ("GET", "/api/users/{user_id}/ratings/{movie_id}"),
    ("PUT", "/api/users/{user_id}/ratings/{movie_id}"),
    ("DELETE", "/api/users/{user_id}/ratings/{movie_id}"),
    ("GET", "/api/movies"),
    ("GET", "/api/movies/{movie_id}"),
    ("GET", "/api/movies/{movie_id}/similar"),
    ("GET", "/api/runs"),
    ("POST", "/api/runs"),
    ("GET", "/api/runs/{run_id}"),
    ("POST", "/api/runs/{run_id}/cancel"),
    ("POST", "/api/runs/{run_id}/activate"),
    ("POST", "/api/users"),
    ("POST", "/api/events"),
    ("GET", "/api/users/{user_id}/watchlist"),
]
"""Every operation of the document; a test below fails if the document and this list part."""
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def all_rights_token(db) -> str:
    """The key of an account that is a service and an operator, so that no operation stops at a 403."""
    account, key = make_service("fuzzer")
    join_group(account, OPERATORS)
    return key


@pytest.fixture
def api_schema(published, all_rights_token):  # noqa: F811
    """The live OpenAPI document of the WSGI app, over the tiny catalogue with one published run."""
    from web.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


def test_the_fuzzed_operations_are_every_operation_of_the_document(api_schema):
    """The list fuzzed below is exactly the document's operations, so a new endpoint cannot escape the pass."""
    documented = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


def _fuzz(operation, mode: GenerationMode, headers: dict) -> None:
    """Send ``MAX_EXAMPLES`` generated requests of ``mode`` to ``operation``; raise the first failed check."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests every run: a failure reproduces, the time is stable
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # no shrinking: the first failing request is reported as generated
    )
    def fuzz(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()


def _has_inputs(operation) -> bool:
    """Whether the operation takes anything that a negative mode could make invalid."""
    return any(len(group) for group in (operation.path_parameters, operation.query, operation.body))


def test_no_generated_request_gets_a_server_error(api_schema, all_rights_token):
    """Every generated request, valid or not, is answered without a 5xx, with a documented status and schema.

    One test over all operations, so the database is set up once; each
    operation's failure is collected and all are reported together.
    """
    headers = {"Authorization": f"Token {all_rights_token}"}
    failures, fuzzed = [], 0
    for method, path in OPERATIONS:
        operation = api_schema[path][method]
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if _has_inputs(operation) else [])
        for mode in modes:
            fuzzed += 1
            try:
                _fuzz(operation, mode, headers)
            except Exception as exc:  # a failed check (or an error) of one operation: keep fuzzing the others
                failures.append(f"{method} {path} ({mode.value}): {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    assert fuzzed >= len(OPERATIONS)
