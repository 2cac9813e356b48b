"""Schema-driven fuzzing of the OpenAPI spec (schemathesis): no generated request gets a 500, a server path
or a traceback. Bounded: a few examples per operation, valid and invalid, no shrinking."""

from __future__ import annotations

import warnings

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from app.api import ApiSettings, create_app
from tests.api.conftest import FORBIDDEN
from tests.standins import build_models_dir

MAX_EXAMPLES = 12


def _app():  # type: ignore[no-untyped-def]
    import tempfile
    from pathlib import Path

    models = build_models_dir(Path(tempfile.mkdtemp(prefix="dlc-fuzz-models-")))
    return create_app(ApiSettings(models_dir=models, api_key="fuzz-key", workers=1, queue_limit=64,
                                  max_upload_bytes=2_000_000, load_models=False))


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    APP = _app()
    schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(modes=["positive", "negative"], max_examples=MAX_EXAMPLES, no_shrink=True,
                                deterministic=True, database="none")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.filterwarnings("ignore")
def test_no_server_errors(case):  # type: ignore[no-untyped-def]
    for headers in ({"X-API-Key": "fuzz-key"}, {}):
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
        if "image" not in response.headers.get("content-type", ""):
            for word in FORBIDDEN:
                assert word not in response.text, response.text[:300]



def test_generated_requests_reach_the_handlers():
    """Generated requests get past authentication and the form parser into the handlers' own checks (400 for
    a file that is not an image, 422 for a value out of range), not just 401s: the fuzzing above means something.
    Draws its own requests, so it holds whatever ran before it."""
    seen: set[int] = set()
    for path in ("/api/face-swap", "/api/face-restore"):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=schema[path]["POST"].as_strategy(generation_mode=mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                      derandomize=True, database=None)
            def fuzz(case):  # type: ignore[no-untyped-def]
                seen.add(case.call(headers={"X-API-Key": "fuzz-key"}).status_code)

            fuzz()
    assert {400, 422} <= seen, seen
