"""Fixtures shared by the budget tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contact_sdk.bootstrap import Components


@pytest.fixture
def built() -> Iterator[list[Components]]:
    """The services a test builds (append them), closed after it."""
    made: list[Components] = []
    yield made
    for components in made:
        components.close()
