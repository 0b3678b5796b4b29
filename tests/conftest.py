"""Shared fixtures and Hypothesis profiles.

Profiles: ``ci`` (derandomised, used when CI=true or HYPOTHESIS_PROFILE=ci)
and ``dev`` (random, fewer examples, for quick local runs).
Real data lives outside the repository: ``NNLITE_DATA`` or ``../shared/data``
beside the repository; the authors' models in ``NNLITE_OFFICIAL_MODELS`` or
``../shared/official-models``. Tests needing them skip when they are absent.
"""
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

settings.register_profile("ci", derandomize=True, max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("dev", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def _dir_or_skip(env, default):
    path = Path(os.environ.get(env, default))
    if not path.is_dir():
        pytest.skip(f"{path} not found (set {env})")
    return path


@pytest.fixture(scope="session")
def shared_data_dir():
    """The real datasets (../shared/data or NNLITE_DATA); skips when absent."""
    return _dir_or_skip("NNLITE_DATA", SHARED / "data")


@pytest.fixture(scope="session")
def official_models_dir():
    """The decomposition authors' converted models; skips when absent."""
    return _dir_or_skip("NNLITE_OFFICIAL_MODELS", SHARED / "official-models")
