"""Shared fixtures. Tests that need ../shared/data fail (not skip) when
TAGNN_REQUIRE_DATA=1 (as in CI) and the data is missing.

`tagnn_tf` is imported as installed (`pip install -e .`, done by `make
install`); pytest.ini puts this folder on the path for the test helpers.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import pytest  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402  (the benchmark data, relative to the repo root)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.environ.get("TAGNN_DATA_DIR", os.path.join(ROOT, DEFAULT_DATA_DIR))


def require_data(*parts: str) -> str:
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        msg = f"{path} not found (the benchmark data lives in ../shared/data beside the repo)"
        if os.environ.get("TAGNN_REQUIRE_DATA") == "1":
            pytest.fail(msg + "; TAGNN_REQUIRE_DATA=1 makes this a failure")
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def shared_data() -> str:
    return require_data()
