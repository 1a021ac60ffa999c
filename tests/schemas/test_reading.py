"""`schemas.reading`: a source's reading and its fingerprint (issue 98 item 1): stable whatever the key order and the
source's name, different for any setting that differs, and the changes said setting by setting."""

from __future__ import annotations

from schemas.reading import ReadingChange, SourceReading, changes


def _reading(**update: object) -> SourceReading:
    base = {
        "source": "logs",
        "adapter": "table_log",
        "options": {"robot": "ur5e", "fps": 125.0, "columns": {"joints": ["q_0"], "timestamp": None}},
        "robot": None,
        "tier": None,
        "settings": {"min_episode_s": 1.0, "quality": {"max_idle_ratio": 0.5}},
        "codec": {"vcodec": "libsvtav1", "crf": 30},
        "code": "eidata-canon-1",
    }
    return SourceReading.model_validate({**base, **update})


def test_the_fingerprint_is_the_recipe_not_the_name_nor_the_key_order() -> None:
    a = _reading()
    reordered = _reading(options={"columns": {"timestamp": None, "joints": ["q_0"]}, "fps": 125.0, "robot": "ur5e"})
    assert a.fingerprint == reordered.fingerprint == _reading(source="other").fingerprint
    assert len(a.fingerprint) == 16 and a.fingerprint == _reading().fingerprint  # the same in a new object
    assert a.fingerprint != _reading(options={**a.options, "robot": "ur3e"}).fingerprint
    assert a.fingerprint != _reading(settings={"min_episode_s": 1.0, "quality": {"max_idle_ratio": 0.6}}).fingerprint
    assert a.fingerprint != _reading(code="eidata-canon-2").fingerprint


def test_changes_are_said_setting_by_setting() -> None:
    a = _reading()
    b = _reading(options={**a.options, "robot": "ur3e", "subset": "x"}, tier="low")
    assert changes(a, b) == ["options.robot: 'ur5e' -> 'ur3e'", "options.subset: (unset) -> 'x'", "tier: None -> 'low'"]
    assert changes(a, a) == []


def test_a_change_of_the_code_alone_is_said_not_stopped_on() -> None:
    a, b = _reading(), _reading(code="eidata-canon-2")
    said = ReadingChange(source="logs", before=a.fingerprint, after=b.fingerprint, changes=changes(a, b))
    assert said.code_only and said.changes == ["code: 'eidata-canon-1' -> 'eidata-canon-2'"]
    assert not ReadingChange(source="logs", before="x", after="y", changes=["tier: None -> 'low'"]).code_only
