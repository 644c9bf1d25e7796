"""User data dir and crash-safe versioned documents (edgekit.userdata)."""
import os
import stat

import pytest

from edgekit import userdata
from edgekit.errors import ConfigError


def test_data_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv(userdata.ENV_VAR, str(tmp_path / "d"))
    path = userdata.data_dir()
    assert path == tmp_path / "d" and path.is_dir()


def test_atomic_write_is_owner_only_and_leaves_no_temp(tmp_path):
    target = tmp_path / "doc.json"
    userdata.atomic_write_json(target, {"kind": "k", "version": 1, "x": "笑"})
    userdata.atomic_write_json(target, {"kind": "k", "version": 1, "x": 2})
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]
    assert userdata.load_document(target, "k", 1).document["x"] == 2


def test_missing_document_is_none(tmp_path):
    loaded = userdata.load_document(tmp_path / "nope.json", "k", 1)
    assert loaded.document is None and loaded.backup is None


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"no_kind": 1}'])
def test_corrupt_document_is_moved_aside(tmp_path, content):
    target = tmp_path / "doc.json"
    target.write_bytes(content)
    loaded = userdata.load_document(target, "k", 1)
    assert loaded.document is None
    assert loaded.backup.name.startswith("doc.json.corrupt-") and loaded.backup.read_bytes() == content
    assert not target.exists()


def test_other_kind_or_newer_version_is_refused(tmp_path):
    target = tmp_path / "doc.json"
    userdata.atomic_write_json(target, {"kind": "gallery", "version": 1})
    with pytest.raises(ConfigError, match="expected 'feedback'"):
        userdata.load_document(target, "feedback", 1)
    userdata.atomic_write_json(target, {"kind": "feedback", "version": 3})
    with pytest.raises(ConfigError, match="newer edgekit"):
        userdata.load_document(target, "feedback", 2)
    assert target.exists()  # left alone


def test_atomic_write_refuses_to_replace_a_non_regular_file(tmp_path):
    from edgekit.errors import InputError

    folder = tmp_path / "a_folder"
    folder.mkdir()
    with pytest.raises(InputError, match="not a regular file"):
        userdata.atomic_write_json(folder, {"kind": "k", "version": 1})
    with pytest.raises(InputError, match="not a regular file"):
        userdata.atomic_write_bytes("/dev/null", b"x")  # would swap the device for a file
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
