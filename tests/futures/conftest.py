from __future__ import annotations

from collections.abc import Iterator
from decimal import localcontext

import pytest

from hashdesk.futures import PRECISION


@pytest.fixture(autouse=True)
def library_precision() -> Iterator[None]:
    """Expected values in the tests are computed with the library's precision."""
    with localcontext() as context:
        context.prec = PRECISION
        yield
