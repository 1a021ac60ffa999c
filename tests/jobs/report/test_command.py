"""`eidata report`: with `--episode DATASET:INDEX` one episode's page where the corpus report links it (exit 0), an
episode the corpus lacks named (exit 2), no catalog (exit 1); without it the corpus page and, beside it, the pages of
the first `--episode-pages` episodes it names (each other one's link names the command that writes its page)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.report.episode_data import episode_href
from tests.jobs.report.episode_corpus import DATASET, REASONS, write_episode_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_episode_corpus(tmp_path_factory.mktemp("episodes"))


def test_an_episode_page_where_the_report_links_it(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(corpus), "--episode", "oxe/bridge:2"]) == 0
    page = corpus / "report_episodes/oxe__bridge_2.html"
    assert f"episode page: {page}" in capsys.readouterr().out
    assert "<h1>episode datasets/oxe/bridge:2</h1>" in page.read_text()
    page.unlink()


def test_an_episode_the_corpus_lacks_exits_2_naming_it(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.html"
    assert main(["report", str(corpus), "--episode", "oxe/bridge:9", "--out", str(out)]) == 2
    assert "no episode 9 in dataset datasets/oxe/bridge" in capsys.readouterr().err
    assert main(["report", str(corpus), "--episode", "oxe/other:0", "--out", str(out)]) == 2
    assert "no dataset datasets/oxe/other in the corpus" in capsys.readouterr().err
    assert main(["report", str(corpus), "--episode", "oxe/bridge", "--out", str(out)]) == 2
    assert "an episode is DATASET:INDEX" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--episode", "oxe/bridge:0", "--out", str(out)]) == 2
    assert "not an eidata corpus" in capsys.readouterr().err  # an empty folder is no corpus
    assert not out.exists()


def test_the_corpus_report_links_every_episode_and_writes_the_pages_asked(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "r.html"
    assert main(["report", str(corpus), "--out", str(report), "--episode-pages", "1"]) == 0
    out = capsys.readouterr().out
    assert "episode pages: 1 of the 3 episodes the report names; the other 2: `eidata report" in out
    links = re.findall(r'<a href="([^"]+)">its page</a>', report.read_text())
    assert links == [episode_href(DATASET, 1)]  # the one flagged episode, the losses' example, first
    linked = (report.parent / links[0]).read_text()
    assert "<h1>episode datasets/oxe/bridge:1</h1>" in linked and REASONS[0] in linked
    assert sorted(p.name for p in (tmp_path / "report_episodes").iterdir()) == ["oxe__bridge_1.html"]
    for index in (0, 2):  # the others link to the note, titled with the command that writes their page
        assert (
            f'href="#episode-pages" title="eidata report {corpus} --episode oxe/bridge:{index}"' in report.read_text()
        )
    assert main(["report", str(corpus), "--out", str(report), "--episode-pages", "all"]) == 0
    assert "episode pages: 3 of the 3 episodes the report names\n" in capsys.readouterr().out
    assert len(list((tmp_path / "report_episodes").iterdir())) == 3
    assert main(["report", str(corpus), "--out", str(report), "--episode-pages", "some"]) == 2
    assert "--episode-pages 'some': a count of pages" in capsys.readouterr().err


def test_an_episode_named_by_its_uid_or_raw_id(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Issue 68: `--episode` took only DATASET:INDEX; the catalog's `episode_uid` and the raw id name the same page."""
    for name, index in (("oxe/bridge/e2", 2), ("e1", 1), ("datasets/oxe/bridge:0", 0)):
        out = tmp_path / f"{index}.html"
        assert main(["report", str(corpus), "--episode", name, "--out", str(out)]) == 0, capsys.readouterr().err
        assert f"<h1>episode datasets/oxe/bridge:{index}</h1>" in out.read_text()
    assert main(["report", str(corpus), "--episode", "e9", "--out", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "'e9' names no episode of the corpus" in err and "episode_uid" in err and "raw episode id" in err


def test_a_raw_id_two_datasets_share_is_refused_naming_both(tmp_path: Path) -> None:
    from adapters.storage.corpus import Corpus
    from jobs.catalog.build import rebuild_catalog
    from jobs.report.episode_data import EpisodeNotFound, resolve_episode
    from tests.fixtures.corpus import episode, write_dataset

    root = tmp_path / "c"
    for name, uids in (("a/x", ["a/x/ep0", "a/x/ep1"]), ("b/y", ["b/y/ep1"])):
        write_dataset(root / "datasets" / name, "franka", [episode(3, "pick", u, "franka") for u in uids])
    rebuild_catalog(Corpus(root))
    assert resolve_episode(root, "b/y/ep1") == ("datasets/b/y", 0)
    assert resolve_episode(root, "ep0") == ("datasets/a/x", 0)
    assert resolve_episode(root, "a/x:1") == ("datasets/a/x", 1)
    with pytest.raises(EpisodeNotFound, match=r"raw_id or raw_uid of 2 episodes: datasets/a/x:1, datasets/b/y:0"):
        resolve_episode(root, "ep1")


def test_an_episode_page_reads_its_own_dataset_alone(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 75: `--episode` resolved its episode through every dataset's meta (and again for its page): 100k
    episodes' lineage held at once passed the memory limit. The catalog names the dataset; only its meta is read."""
    import shutil

    from adapters.storage.corpus import Corpus
    from jobs.catalog.build import rebuild_catalog
    from jobs.report import data
    from tests.fixtures.corpus import episode, write_dataset

    root = shutil.copytree(corpus, tmp_path / "c")
    for name in ("oxe/other", "oxe/third"):
        write_dataset(root / "datasets" / name, "franka", [episode(5, "pick", f"{name}/e0", "franka")], camera=(24, 32))
    rebuild_catalog(Corpus(root))
    read: list[str] = []
    load_info, read_jsonl = data.load_info, data.read_jsonl
    monkeypatch.setattr(data, "load_info", lambda p: read.append(Path(p).parent.parent.name) or load_info(p))
    monkeypatch.setattr(data, "read_jsonl", lambda p, *a: read.append(Path(p).parent.parent.name) or read_jsonl(p, *a))
    for name in ("oxe/bridge:1", "oxe/bridge/e2"):
        assert main(["report", str(root), "--episode", name, "--out", str(tmp_path / "e.html")]) == 0, (
            capsys.readouterr()
        )
        assert set(read) == {"bridge"}, read  # its info.json and episodes.jsonl, no other dataset's
        read.clear()


_OPENED: list[str] = []  # the files opened while `_RECORDING` (a Python audit hook, added once: `_HOOKED`)
_RECORDING: list[bool] = []
_HOOKED: list[bool] = []


_LISTED: list[str] = []  # the folders listed (os.scandir, os.walk's) while `_RECORDING`


def _hook(event: str, args: tuple) -> None:
    if event == "open" and _RECORDING and isinstance(args[0], str | bytes | Path):
        _OPENED.append(str(args[0]))
    if event == "os.scandir" and _RECORDING:
        _LISTED.append(str(args[0]))


def test_an_episode_named_by_its_uid_opens_no_other_datasets_episodes(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 99: a page named by its episode_uid also sought the name among the raw ids, streaming every dataset's
    episodes.jsonl (48 s of its 78 s at 1M episodes), though the catalog had named the episode: the raw ids are read
    only when no episode_uid is the name. Every file the command opens is recorded (an audit hook, not a stand-in)."""
    import shutil
    import sys

    from adapters.storage.corpus import Corpus
    from jobs.catalog.build import rebuild_catalog
    from schemas.lerobot import EPISODES_PATH
    from tests.fixtures.corpus import episode, write_dataset

    root = shutil.copytree(corpus, tmp_path / "c")
    other_episodes = [episode(5, "pick", "oxe/other/e0", "franka")]
    write_dataset(root / "datasets/oxe/other", "franka", other_episodes, camera=(24, 32))
    rebuild_catalog(Corpus(root))
    if not _HOOKED:  # an audit hook cannot be removed: one for the session, recording only in this test
        sys.addaudithook(_hook)
        _HOOKED.append(True)
    for name, opened in (("oxe/bridge/e2", False), ("e1", True)):  # a raw id: every dataset's lines are sought
        _OPENED.clear()
        _RECORDING.append(True)
        try:
            assert main(["report", str(root), "--episode", name, "--out", str(tmp_path / "e.html")]) == 0, (
                capsys.readouterr()
            )
        finally:
            _RECORDING.clear()
        other = str(root / "datasets/oxe/other" / EPISODES_PATH)
        assert (other in _OPENED) is opened, name
        assert str(root / "datasets/oxe/bridge" / EPISODES_PATH) in _OPENED


def test_the_corpus_report_reads_the_catalog_once_and_walks_no_dataset(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 99: at 1M episodes the report walked the corpus's 29,852 datasets three times (the masks' dataset list
    and the recorded thresholds twice: 3 CPU-s and 15 s of wall) and ran ~50 statements, each on a connection of its
    own, 8 of them twice or more. The datasets are the catalog census's, the thresholds the first dataset's, and
    every statement runs once on one connection. The folders listed are recorded by an audit
    hook, the connections and statements by the real functions wrapped."""
    import shutil
    import sys

    import jobs.catalog.query as query
    from adapters.storage.corpus import Corpus
    from jobs.catalog.build import rebuild_catalog
    from jobs.report.command import write_report
    from schemas.behaviour import BehaviourConfig
    from schemas.qa import QAConfig
    from tests.fixtures.corpus import episode, write_dataset

    root = shutil.copytree(corpus, tmp_path / "c")
    recorded = {"qa_config": QAConfig().model_dump(mode="json"), "behaviour_config": BehaviourConfig().model_dump()}
    for name in ("oxe/aaa", "oxe/other", "oxe/third"):  # the first in the catalog's order records the thresholds
        lin = recorded if name == "oxe/aaa" else {}
        ep = episode(5, "pick", f"{name}/e0", "franka", **lin)
        write_dataset(root / "datasets" / name, "franka", [ep], camera=(24, 32))
    rebuild_catalog(Corpus(root))
    connected, ran = [], []
    real_connect, real_table = query.connect, query._table
    monkeypatch.setattr(query, "connect", lambda *a, **k: connected.append(a[0]) or real_connect(*a, **k))
    monkeypatch.setattr(query, "_table", lambda sql, con: ran.append(sql) or real_table(sql, con))
    if not _HOOKED:
        sys.addaudithook(_hook)
        _HOOKED.append(True)
    _LISTED.clear()
    _RECORDING.append(True)
    try:
        write_report(root, tmp_path / "r.html", pages=1)
    finally:
        _RECORDING.clear()
    assert not [p for p in _LISTED if p.startswith(str(root / "datasets"))], _LISTED  # no dataset folder listed
    assert len(connected) == 1 and len(ran) == len(set(ran)) > 10, (connected, ran)
    assert "oxe/third" in (tmp_path / "r.html").read_text()  # every dataset reported
