from pathlib import Path

import pytest

from lakehouse.resources.folders import ensure_folder


@pytest.mark.parametrize("as_text", [False, True], ids=["Path", "str"])
def test_a_missing_local_folder_is_created_with_its_parents(tmp_path: Path, as_text: bool) -> None:
    folder = tmp_path / "data" / "lake"
    ensure_folder(str(folder) if as_text else folder)
    ensure_folder(folder)  # again: it exists
    assert folder.is_dir()


def test_an_object_store_uri_creates_no_local_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where `s3:/bucket/lake` would appear if read as a path
    ensure_folder("s3://bucket/lake")
    assert list(tmp_path.iterdir()) == []
