"""Registry fixtures: the real part of the demo registry (79 networks, the well-known assets)
imported through the same path as ``hashdesk assets import``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from hashdesk.assets.demo import real_document
from hashdesk.assets.transfer import import_document
from hashdesk.core.auth import SYSTEM
from hashdesk.runtime import Runtime


@pytest.fixture
def registry(runtime: Runtime) -> Runtime:
    with runtime.database.transaction() as session:
        import_document(session, SYSTEM, real_document())
    return runtime


def count_rows(session: Session) -> tuple[int, int, int]:
    from hashdesk.assets.queries import count_registry

    return count_registry(session)
