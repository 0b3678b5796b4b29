"""Shared fixtures, Hypothesis profiles and the no-network guard.

Profiles: ``ci`` (derandomised, used when CI=true or HYPOTHESIS_PROFILE=ci)
and ``dev`` (random, fewer examples, for quick local runs).

Real data lives outside the repository: ``NNLITE_DATA`` or ``../shared/data``
beside the repository; the authors' models in ``NNLITE_OFFICIAL_MODELS`` or
``../shared/official-models`` (see ``tests/realdata.py``). Tests needing them
take the ``shared_data_dir`` / ``official_models_dir`` fixtures, which skip
with a reason naming what is missing and how to provide it.

No test uses the network: every connection or name lookup for a host other
than the loopback interface raises ``ConnectionRefusedError`` (a download that
a test did not mean to start fails at once instead of hanging or writing to
``~/.cache/nnlite``). Local HTTP servers on 127.0.0.1 work as usual.
"""
import ipaddress
import os
import socket
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.realdata import locate, missing

# Test files live in subfolders mirroring the packages (tests/nnlite, tests/decomposition,
# tests/pruning); the shared helpers (strategies, numerics, gradcheck, loopback) stay here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

settings.register_profile("ci", derandomize=True, max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("dev", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def _dir_or_skip(name):
    reason = missing(name)
    if reason is not None:
        pytest.skip(reason)
    return locate(name)


@pytest.fixture(scope="session")
def shared_data_dir():
    """The real datasets (NNLITE_DATA or ../shared/data); skips, saying how to provide them, when absent."""
    return _dir_or_skip("shared_data")


@pytest.fixture(scope="session")
def official_models_dir():
    """The decomposition authors' converted models (NNLITE_OFFICIAL_MODELS or ../shared/official-models);
    skips, saying how to provide them, when absent."""
    return _dir_or_skip("official_models")


# --------------------------------------------------------------------- no network

_LOOPBACK_NAMES = {None, "", "localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host):
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(host):
    raise ConnectionRefusedError(f"tests may not use the network (tried to reach {host!r}); a test that "
                                 "needs real data takes the shared_data_dir / official_models_dir fixture "
                                 "and passes the folder on with download=False")


@pytest.fixture(scope="session", autouse=True)
def no_network():
    """Refuse name lookups and connections to any host but the loopback interface."""
    getaddrinfo, connect, connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            _refuse(host)
        return getaddrinfo(host, *args, **kwargs)

    def guarded(method):
        def call(self, address, *args):
            if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
                _refuse(address[0])
            return method(self, address, *args)
        return call

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
        patch.setattr(socket.socket, "connect", guarded(connect))
        patch.setattr(socket.socket, "connect_ex", guarded(connect_ex))
        yield


def pytest_collection_modifyitems(items):
    """Mark ``shared_data`` every test that takes a real-data fixture, so that
    ``-m shared_data`` selects exactly the tests that skip on a bare clone."""
    for item in items:
        if {"shared_data_dir", "official_models_dir"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared_data)
