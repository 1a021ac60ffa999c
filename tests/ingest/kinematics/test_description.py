"""Descriptions are refused when uncited, malformed or outside what we model, and ship with the package."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.kinematics.description import DescriptionError, parse_description, read_description, robots_dir

CITED = "<!--\n  source: owner/repo some/arm.urdf @ " + "a" * 40 + "\n-->\n"
ARM = """<robot name="arm">
  <link name="base"/><link name="tip"/>
  <joint name="j1" type="{kind}"><parent link="base"/><child link="tip"/><origin xyz="0 0 1" rpy="0 0 0"/>
    <axis xyz="0 0 1"/><limit lower="-1" upper="1"/></joint>
</robot>
"""


def test_a_cited_description_parses() -> None:
    d = parse_description(CITED + ARM.format(kind="revolute"), Path("arm.urdf"), "arm")
    assert d.sources == ("owner/repo/some/arm.urdf@" + "a" * 40,)
    assert d.root == "base" and [j.name for j in d.joints] == ["j1"]


def test_the_comma_form_of_a_citation_parses_too() -> None:
    header = "<!--\n  Source: FFTAI/Wiki-MJCF, models/gr1t1.xml, commit " + "b" * 40 + "\n-->\n"
    d = parse_description(header + ARM.format(kind="revolute"), Path("arm.urdf"), "arm")
    assert d.sources == ("FFTAI/Wiki-MJCF/models/gr1t1.xml@" + "b" * 40,)


@pytest.mark.parametrize(
    "header",
    [
        "",  # no comment at all
        "<!-- transcribed from the maker's URDF -->\n",  # a comment without a source line
        "<!--\n  source: owner/repo some/arm.urdf @ main\n-->\n",  # a branch is not a commit
    ],
)
def test_a_description_without_a_citation_is_refused(header: str, tmp_path: Path) -> None:
    path = tmp_path / "uncited.urdf"
    path.write_text(header + ARM.format(kind="revolute"))
    with pytest.raises(DescriptionError, match=r"uncited\.urdf: no citation header"):
        read_description(path)


def test_the_citation_must_come_before_the_robot(tmp_path: Path) -> None:
    text = ARM.format(kind="revolute").replace("</robot>", CITED + "</robot>")
    with pytest.raises(DescriptionError, match="no citation header"):
        parse_description(text, tmp_path / "late.urdf", "late")


def test_floating_joints_and_broken_trees_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DescriptionError, match=r"joint 'j1' has type 'floating'"):
        parse_description(CITED + ARM.format(kind="floating"), tmp_path / "f.urdf", "f")
    two_roots = CITED + ARM.format(kind="revolute").replace('<link name="tip"/>', '<link name="tip"/><link name="x"/>')
    with pytest.raises(DescriptionError, match="one root link"):
        parse_description(two_roots, tmp_path / "r.urdf", "r")
    no_limit = CITED + ARM.format(kind="revolute").replace('<limit lower="-1" upper="1"/>', "")
    with pytest.raises(DescriptionError, match=r"needs <limit lower=\.\.\. upper=\.\.\.>"):
        parse_description(no_limit, tmp_path / "l.urdf", "l")


def test_shipped_descriptions_are_package_data(tmp_path: Path) -> None:
    """The .urdf files are declared package data, so a wheel carries them next to `schemas`."""
    pyproject = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    assert '"descriptions/*.urdf"' in pyproject.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert sorted(robots_dir().glob("*.urdf")), robots_dir()
