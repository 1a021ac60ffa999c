"""The egocentric-video family's shared fixture: one set of WebDataset shards with every bad case."""

from __future__ import annotations

import pytest

from adapters.synthetic.egovideo import BAD_CASES, EgoFixture, write_ego_shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> EgoFixture:
    return write_ego_shards(tmp_path_factory.mktemp("ego10k"), window_clip=True, gzip_last=True, bad=BAD_CASES)
