"""The egocentric-video family's shared fixture: one set of WebDataset shards with every bad case."""

from __future__ import annotations

import pytest

from adapters.synthetic.egovideo import EgoFixture
from tests.fixtures.writers.egovideo import BAD_CASES, write_ego_variants


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> EgoFixture:
    return write_ego_variants(tmp_path_factory.mktemp("ego10k"), window_clip=True, gzip_last=True, bad=BAD_CASES)
