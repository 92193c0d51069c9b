"""contract_profiles.read_profile: a profile over what it extends (the contract suite and
upgrade-check read the same merged rows)."""

from __future__ import annotations

from pathlib import Path

from elsercheck.contract_profiles import read_profile
from elsercheck.estate import upgrade
from elsercheck.paths import resource_dir


def test_a_profile_wins_row_by_row_over_what_it_extends(tmp_path: Path) -> None:
    (tmp_path / "9.1.toml").write_text(
        'version = "9.1"\n[reasons]\na = "old a"\nb = "old b"\n[models]\nm = "x"\n'
    )
    (tmp_path / "9.2.toml").write_text(
        'version = "9.2"\nextends = "9.1"\n[reasons]\nb = "new b"\n[features]\nf = true\n'
    )
    (tmp_path / "9.3.toml").write_text('version = "9.3"\nextends = "9.2"\n[reasons]\nc = "c"\n')
    merged = read_profile(tmp_path, "9.3")
    assert merged["version"] == "9.3"
    assert merged["reasons"] == {"a": "old a", "b": "new b", "c": "c"}
    assert merged["features"] == {"f": True} and merged["models"] == {"m": "x"}


def test_upgrade_check_reads_the_suites_profiles() -> None:
    directory = resource_dir("contracts") / "profiles"
    for path in sorted(directory.glob("*.toml")):
        merged = upgrade.profile(path.stem)
        assert merged == read_profile(directory, path.stem)
        assert merged["version"] == path.stem and merged["reasons"], path
