"""Real English text, pinned: the NLTK data corpora, read as documents and split by document.

The corpora are the zip files of the nltk/nltk_data repository at one commit (``NLTK_COMMIT``), each checked against
the sha256 pinned here before a byte is read. They are looked for in the corpora folder - ``$ZC_DISCOVER_CORPORA``,
else the ``corpora`` folder beside ``$ZC_DISCOVER_DATA`` (``../shared/corpora`` in development and CI), else the
per-user cache - and downloaded there on first use unless offline. A zip whose digest differs is one error that names
the file; nothing is read from it.

The language-model text (``LM_CORPORA``: state_union, inaugural, movie_reviews and brown with its tags stripped) is
split by document, never by line, so no held-out document shares a sentence with training: a document goes to
``heldout`` or ``calibration`` by the sha256 of its name (5% each), the rest to ``train``. The rule uses no random
generator, so the split is the same on every machine and for every seed.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import platformdirs

from .. import files
from ..download import download
from ..errors import DataError, UnknownNameError

log = logging.getLogger(__name__)

ENV_CORPORA = "ZC_DISCOVER_CORPORA"
ENV_DATA = "ZC_DISCOVER_DATA"        # the benchmark folder; its sibling ``corpora`` is the shared layout
ENV_OFFLINE = "ZC_DISCOVER_OFFLINE"
NLTK_COMMIT = "5db857e6f7df11eabb5e5665836db9ec8df07e28"
URL = f"https://raw.githubusercontent.com/nltk/nltk_data/{NLTK_COMMIT}/packages/corpora/{{name}}.zip"
SHA256 = {
    "state_union": "366c1dc82b2abf896f42b2ec50ba802a0141a29f75d29ca48a7a243ce5bfbe8d",
    "inaugural": "7c5fb5793e31fbeae12bf1aa0ffda5336468f07cedb50654c6d31ca384e2046b",
    "movie_reviews": "a41211ae685019137410268134db6a1a14428c89b671eb83056151a878539008",
    "sentence_polarity": "6e1ed4405b65c7eabf1d199a7f7c437091ac21da0ea7467b410a74062574566b",
    "subjectivity": "741f3371e1a4375051b874fd82fd55857b90975473c91c19a3101cbe17fc4d8c",
    "brown": "9b275f9b3b95d7bd66ccfb7cd259f445a13bbe5d1f4107aba09fd3e8364bafa6",
}
LICENCES = {
    "state_union": "public domain", "inaugural": "public domain", "movie_reviews": "CC BY 4.0 (Pang & Lee 2004)",
    "sentence_polarity": "CC BY 4.0 (Pang & Lee 2005)", "subjectivity": "CC BY 4.0 (Pang & Lee 2004)",
    "brown": "non-commercial use (Francis & Kucera 1979)",
}
LM_CORPORA = ("state_union", "inaugural", "movie_reviews", "brown")
SPLITS = ("train", "calibration", "heldout")
HELDOUT_FRACTION = 0.05
CALIBRATION_FRACTION = 0.05
SPLIT_RULE = "sha256(corpus/document) < 5% heldout, < 10% calibration, v1"
MAX_ZIP_BYTES = 64 * 2**20
MAX_MEMBER_BYTES = 16 * 2**20
# Which members of each zip are documents (the rest are READMEs, category lists and licences).
DOCUMENT_PATTERNS = {
    "state_union": r"state_union/[^/]+\.txt",
    "inaugural": r"inaugural/[^/]+\.txt",
    "movie_reviews": r"movie_reviews/(pos|neg)/[^/]+\.txt",
    "brown": r"brown/c[a-r]\d\d",
}


@dataclass(frozen=True)
class Document:
    """One document of a corpus: ``corpus/name`` identifies it everywhere (splits, provenance)."""

    corpus: str
    name: str
    text: str

    @property
    def key(self) -> str:
        """``corpus/name``, the document's identity in the split rule."""
        return f"{self.corpus}/{self.name}"


def corpora_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The folder of the corpus zips: ``explicit``, else ``$ZC_DISCOVER_CORPORA``, else ``corpora`` beside
    ``$ZC_DISCOVER_DATA`` when that exists, else the per-user cache directory."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_CORPORA):
        return Path(os.environ[ENV_CORPORA]).expanduser()
    if os.environ.get(ENV_DATA):
        sibling = Path(os.environ[ENV_DATA]).expanduser().parent / "corpora"
        if sibling.is_dir():
            return sibling
    return Path(platformdirs.user_cache_dir("zc-discover")) / "corpora"


def _known(name: str) -> str:
    if name not in SHA256:
        raise UnknownNameError("corpus", name, SHA256)
    return name


@lru_cache(maxsize=32)
def _verified(path: str, size: int, mtime_ns: int, expected: str) -> bool:
    """Whether the file (as it is now: size and mtime key the memo) has the expected digest."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == expected


def corpus_zip(name: str, folder: str | os.PathLike | None = None, offline: bool | None = None) -> Path:
    """The verified zip of corpus ``name``, downloaded into the corpora folder on first use unless offline.

    Raises
    ------
    DataError
        When the zip is missing (and cannot be downloaded) or its sha256 differs from the pin.
    """
    name = _known(name)
    root = corpora_dir(folder)
    path = root / f"{name}.zip"
    if not path.exists():
        offline = (os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes"}) if offline is None \
            else offline
        if offline:
            raise DataError(f"corpus {name!r} is not at {path}. Point {ENV_CORPORA} at a folder holding {name}.zip "
                            f"(the nltk/nltk_data files at commit {NLTK_COMMIT[:10]}), or allow the download "
                            f"(unset {ENV_OFFLINE}).")
        _fetch(name, path)
    info = files.check_regular(path, f"corpus {name}")
    if info.st_size > MAX_ZIP_BYTES:
        raise DataError(f"{path} (corpus {name}): {info.st_size:,} bytes, more than any pinned corpus; replace it by "
                        f"the nltk_data file")
    if not _verified(str(path), info.st_size, info.st_mtime_ns, SHA256[name]):
        raise DataError(f"{path}: sha256 differs from the pinned {SHA256[name][:16]}... (corpus {name}, nltk_data "
                        f"{NLTK_COMMIT[:10]}); the file was altered or is another version. Delete it to download "
                        f"it again, or replace it by the pinned file.")
    return path


def _fetch(name: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(prefix=f".{name}.zip.part-", dir=path.parent)
    os.close(fd)
    try:
        actual = download(URL.format(name=name), Path(part), f"point {ENV_CORPORA} at the folder that holds it")
        if actual != SHA256[name]:
            raise DataError(f"download of corpus {name!r}: sha256 {actual[:16]}... differs from the pinned "
                            f"{SHA256[name][:16]}...; nothing was kept. Report it, or place the pinned file in "
                            f"{path.parent}.")
        os.replace(part, path)
        log.info("downloaded corpus %s into %s", name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:   # the older NLTK corpora are Latin-1
        return data.decode("latin-1")


def _brown_plain(tagged: str) -> str:
    """Brown's ``word/tag`` text as plain words: tags stripped, ``\\`\\``` and ``''`` back to quotes, one line per
    sentence as in the file."""
    lines = []
    for line in tagged.splitlines():
        words = [token.rsplit("/", 1)[0] for token in line.split()]
        if words:
            lines.append(" ".join('"' if w in ("``", "''") else w for w in words))
    return "\n".join(lines)


def documents(name: str, folder: str | os.PathLike | None = None, offline: bool | None = None) -> list[Document]:
    """The documents of a language-model corpus (``LM_CORPORA``), in the zip's sorted member order."""
    if _known(name) not in DOCUMENT_PATTERNS:
        raise UnknownNameError("document corpus", name, DOCUMENT_PATTERNS)
    pattern = re.compile(DOCUMENT_PATTERNS[name])
    out = []
    with zipfile.ZipFile(corpus_zip(name, folder, offline)) as archive:
        for member in sorted(archive.infolist(), key=lambda m: m.filename):
            if member.is_dir() or not pattern.fullmatch(member.filename):
                continue
            if member.file_size > MAX_MEMBER_BYTES:
                raise DataError(f"corpus {name}: member {member.filename} unpacks to {member.file_size:,} bytes")
            text = _decode(archive.read(member))
            if name == "brown":
                text = _brown_plain(text)
            out.append(Document(name, member.filename.split("/", 1)[1], text.strip()))
    if not out:
        raise DataError(f"corpus {name}: no documents in its zip (expected members like {pattern.pattern})")
    return out


def split_of(key: str) -> str:
    """The split of a document (``corpus/name``): a fixed function of its name."""
    fraction = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    if fraction < HELDOUT_FRACTION:
        return "heldout"
    if fraction < HELDOUT_FRACTION + CALIBRATION_FRACTION:
        return "calibration"
    return "train"


def lm_digest(corpora: tuple[str, ...] = LM_CORPORA) -> str:
    """The identity of the language-model text: its corpora's pinned digests and the split rule."""
    payload = "\n".join([SPLIT_RULE] + [f"{name} {SHA256[_known(name)]}" for name in corpora])
    return hashlib.sha256(payload.encode()).hexdigest()


def lm_documents(split: str, folder: str | os.PathLike | None = None, offline: bool | None = None,
                 corpora: tuple[str, ...] = LM_CORPORA) -> list[Document]:
    """The documents of one split (``train``, ``calibration`` or ``heldout``) of the language-model text.

    Examples
    --------
    >>> docs = lm_documents("heldout")                      # doctest: +SKIP
    >>> sum(len(d.text) for d in docs)                      # doctest: +SKIP
    """
    if split not in SPLITS:
        raise UnknownNameError("split", split, SPLITS)
    return [doc for name in corpora for doc in documents(name, folder, offline) if split_of(doc.key) == split]


def read_member(name: str, member: str, folder: str | os.PathLike | None = None,
                offline: bool | None = None) -> str:
    """One member of a verified corpus zip as text (for the sentence corpora of the robustness tasks)."""
    with zipfile.ZipFile(corpus_zip(name, folder, offline)) as archive:
        try:
            info = archive.getinfo(member)
        except KeyError:
            raise DataError(f"corpus {name}: no member {member!r}") from None
        if info.file_size > MAX_MEMBER_BYTES:
            raise DataError(f"corpus {name}: member {member} unpacks to {info.file_size:,} bytes")
        with archive.open(info) as handle:
            return _decode(io.BufferedReader(handle).read())
