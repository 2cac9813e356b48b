"""Schema-driven fuzzing of the OpenAPI spec (schemathesis): no generated request gets a 500, a server path
or a traceback. Bounded: a few examples per operation, valid and invalid, no shrinking."""

from __future__ import annotations

import warnings

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from app.api import ApiSettings, create_app  # noqa: E402
from tests.api.conftest import FORBIDDEN  # noqa: E402
from tests.standins import build_models_dir  # noqa: E402

MAX_EXAMPLES = 12
STATUSES: list[tuple[str, bool, int]] = []  # (path, with the key, status) of every fuzzed request


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
        STATUSES.append((case.path, bool(headers), response.status_code))
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
        if "image" not in response.headers.get("content-type", ""):
            for word in FORBIDDEN:
                assert word not in response.text, response.text[:300]



def test_fuzzing_reached_the_handlers():
    """Runs after the fuzzing above (file order): the generated requests got past authentication and the
    form parser into the handlers' own checks, not just 401s."""
    if not STATUSES:
        pytest.skip("the fuzz test did not run in this session")
    with_key = {code for path, keyed, code in STATUSES if keyed and path.startswith("/api/")}
    assert {400, 422} <= with_key
