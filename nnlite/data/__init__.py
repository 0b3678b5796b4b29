"""Data sets (split up by concern in the next commit)."""
from .loaders import *  # noqa: F401,F403
from .loaders import _IDX_DTYPES, _manifest, _sha256_file  # noqa: F401
