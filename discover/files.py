"""The one place files from elsewhere are opened and files of the project are written.

A run folder, a values file, a cache entry or a benchmark folder may have been sent by anyone, so every read goes
through the same checks before a byte is parsed:

- only a regular file is read: a FIFO (which would block), a device (``/dev/zero`` would never end) or a folder is
  refused, and so is a symbolic link that leaves the folder it is read from (``root``);
- at most ``limit`` bytes are read (the file is opened non-blocking and measured on the open descriptor);
- JSON and YAML refuse duplicate keys (the last would silently win), nesting deeper than ``MAX_DEPTH``, integers of
  more than ``MAX_DIGITS`` digits, and NaN or infinite numbers;
- the parsed value is then validated against a typed schema (pydantic) by its owner, so that a wrong type is one line
  naming the file and the field, never a traceback further on.

Writes are atomic: a temporary file in the same folder, renamed over the target. Nothing is ever written through a
symbolic link: a target (or a folder on the way inside ``root``) that is one is refused.
"""
from __future__ import annotations

import functools
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from .errors import DataError

MAX_BYTES = 64 * 2**20
MAX_DEPTH = 64
MAX_DIGITS = 64


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError, RuntimeError):
        return False


def check_regular(path: str | Path, what: str = "file", root: str | Path | None = None) -> os.stat_result:
    """The ``stat`` of ``path`` if it is a regular file (a link to one inside ``root`` included), else DataError."""
    path = Path(path)
    if path.is_symlink() and (root is None or not _inside(path, Path(root))):
        where = f" outside {root}" if root is not None else ""
        raise DataError(f"{path} ({what}): a symbolic link{where}; replace it by the file itself")
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path} ({what}): does not exist") from None
    except OSError as error:
        raise DataError(f"{path} ({what}): cannot be read ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode) else \
            "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a regular file"
        raise DataError(f"{path} ({what}): {kind}, not a regular file")
    return info


def read_bytes(path: str | Path, what: str = "file", limit: int = MAX_BYTES, root: str | Path | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see ``check_regular``)."""
    path = Path(path)
    check_regular(path, what, root)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise DataError(f"{path} ({what}): cannot be read ({error.strerror or error})") from None
    try:
        info = os.fstat(fd)   # the file opened, not the name checked a moment ago
        if not stat.S_ISREG(info.st_mode):
            raise DataError(f"{path} ({what}): not a regular file")
        if info.st_size > limit:
            raise DataError(f"{path} ({what}): {info.st_size:,} bytes, over the limit of {limit:,}; it is not "
                            "one this project wrote")
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise DataError(f"{path} ({what}): grows past the limit of {limit:,} bytes while being read")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as error:
        raise DataError(f"{path} ({what}): cannot be read ({error.strerror or error})") from None
    finally:
        os.close(fd)


def read_text(path: str | Path, what: str = "text file", limit: int = MAX_BYTES) -> str:
    """A regular file of at most ``limit`` bytes as UTF-8 text (a FIFO, a device or a folder is refused before it is
    opened for reading: ``/dev/zero`` would never end, a FIFO would block)."""
    data = read_bytes(path, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path} ({what}): not UTF-8 text") from None


def read_gzip(path: str | Path, what: str = "gzip file", limit: int = MAX_BYTES, expanded: int = 4 * MAX_BYTES,
              root: str | Path | None = None) -> bytes:
    """A gzip-compressed regular file, decompressed in pieces and refused as soon as it expands past ``expanded``
    bytes (a small file that expands to gigabytes is not one this project wrote) - never read whole first."""
    import gzip
    import io
    raw = read_bytes(path, what, limit, root)
    out, size = [], 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as handle:
            while True:
                chunk = handle.read(1 << 20)
                if not chunk:
                    break
                size += len(chunk)
                if size > expanded:
                    raise DataError(f"{path} ({what}): expands past {expanded:,} bytes; it is not one this project "
                                    "wrote")
                out.append(chunk)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"{path} ({what}): not a readable gzip file ({error})") from None
    return b"".join(out)


class _Refused(ValueError):
    """A JSON or YAML construct this reader does not accept (duplicate key, huge integer, non-finite number)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"the key {key!r} appears twice")
        result[key] = value
    return result


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _Refused(f"an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]} is out of range")
    return value


def _constant(text: str):
    raise _Refused(f"{text} is not a number this file may hold")


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse a parsed value nested deeper than ``limit`` (iteratively: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                raise _Refused(f"nesting deeper than {limit} levels")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


def parse_json(text: str | bytes) -> Any:
    """JSON with the reader's limits (raises ``ValueError`` with the reason)."""
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_int=_integer, parse_float=_float,
                           parse_constant=_constant)
    except RecursionError:
        raise _Refused(f"nesting deeper than {MAX_DEPTH} levels") from None
    check_depth(value)
    return value


def _schema_error(path: Path, error) -> DataError:
    first = error.errors()[0]
    # a key of the file may hold a newline or other control characters: quoted, so the error stays one line
    field = ".".join(str(p) if str(p).isprintable() else repr(p) for p in first.get("loc", ())) or "(the whole file)"
    if first.get("type") == "missing":
        return DataError(f"{path}: missing field {field}; the file is damaged or was not written by this project")
    message = first.get("msg", "invalid")
    got = first.get("input")
    shown = repr(got)[:60] if not isinstance(got, (dict, list)) else type(got).__name__
    return DataError(f"{path}: field {field}: {message} (found {shown}); the file is damaged or was not written by "
                     "this project")


def validate(path: str | Path, value: Any, schema: Any) -> Any:
    """``value`` checked against ``schema`` (a pydantic model or any type pydantic can validate); DataError naming
    the file and the first field that is wrong."""
    from pydantic import TypeAdapter, ValidationError
    try:   # strict: "5" is not 5, true is not 1 and "no" is not False - a file says what it means
        return TypeAdapter(schema).validate_python(value, strict=True)
    except ValidationError as error:
        raise _schema_error(Path(path), error) from None


def read_json(path: str | Path, what: str = "JSON file", schema: Any = None, limit: int = MAX_BYTES,
              root: str | Path | None = None) -> Any:
    """A JSON file read with every check above, validated against ``schema`` when one is given."""
    path = Path(path)
    data = read_bytes(path, what, limit, root)
    try:
        value = parse_json(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"{path} ({what}): not UTF-8 text") from None
    except ValueError as error:
        raise DataError(f"{path} ({what}): not valid JSON ({str(error).splitlines()[0][:120]})") from None
    return validate(path, value, schema) if schema is not None else value


@functools.lru_cache(maxsize=1)
def _yaml_loader():
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):   # libyaml's parser where it is installed
        """SafeLoader that refuses duplicate keys, huge integers and non-finite numbers."""

    def mapping(loader, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in keys:
                raise _Refused(f"the key {key!r} appears twice (line {key_node.start_mark.line + 1})")
            keys.add(key)
        return loader.construct_mapping(node, deep)

    def integer(loader, node):
        text = loader.construct_scalar(node)
        if len(text.lstrip("+-")) > MAX_DIGITS:
            raise _Refused(f"an integer of {len(text)} digits (line {node.start_mark.line + 1})")
        return yaml.SafeLoader.construct_yaml_int(loader, node)

    def number(loader, node):
        value = yaml.SafeLoader.construct_yaml_float(loader, node)
        if not math.isfinite(value):
            raise _Refused(f"{loader.construct_scalar(node)} is not a finite number (line {node.start_mark.line + 1})")
        return value

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    Loader.add_constructor("tag:yaml.org,2002:int", integer)
    Loader.add_constructor("tag:yaml.org,2002:float", number)
    return Loader


def _refuse_aliases(text: str) -> None:
    """Refuse YAML aliases (``*name``) before anything is built: a few hundred bytes of nested aliases expand to
    billions of nodes (an alias bomb), and no file this project reads needs one. The parser's events are scanned
    once, in linear time."""
    import yaml
    parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for event in yaml.parse(text, Loader=parser):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            raise _Refused(f"a YAML alias (*{event.anchor}, line {mark.line + 1 if mark else '?'}); files read here "
                           "hold plain values, write them out")


def read_yaml(path: str | Path, what: str = "YAML file", schema: Any = None, limit: int = 8 * 2**20,
              root: str | Path | None = None) -> Any:
    """A YAML file (safe subset: no tags that build objects) read with every check above, validated against
    ``schema`` when one is given."""
    import yaml
    path = Path(path)
    data = read_bytes(path, what, limit, root)
    try:
        text = data.decode("utf-8")
        _refuse_aliases(text)
        value = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
        check_depth(value)
    except UnicodeDecodeError:
        raise DataError(f"{path} ({what}): not UTF-8 text") from None
    except RecursionError:
        raise DataError(f"{path} ({what}): nested deeper than {MAX_DEPTH} levels") from None
    except (yaml.YAMLError, ValueError) as error:
        raise DataError(f"{path} ({what}): not valid YAML ({str(error).splitlines()[0][:120]})") from None
    return validate(path, value, schema) if schema is not None else value


def check_no_links(path: str | Path, root: str | Path | None = None) -> None:
    """Refuse to write ``path`` when it, or a folder between ``root`` and it, is a symbolic link."""
    path = Path(path)
    chain = [path]
    if root is not None:
        root = Path(root)
        parent = path.parent
        while parent != root and root in parent.parents:
            chain.append(parent)
            parent = parent.parent
        chain.append(root)
    for item in chain:
        if item.is_symlink():
            raise DataError(f"{item} is a symbolic link; this project never writes through one (remove it, or give "
                            "another folder)")


def check_writable(path: str | Path, what: str = "output", folder: bool = False) -> Path:
    """Refuse, before any work, an output that cannot be written: below a file, inside a read-only or virtual file
    system (``/proc``, ``/sys``), or a folder where a file is wanted (and the reverse). Nothing is created: a scratch
    file is written and removed in the deepest folder that exists on the way - the only sure test."""
    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        raise DataError(f"{what} {path} is {'a file' if folder else 'a folder'}; give "
                        f"{'a folder' if folder else 'a file'}")
    resolved = path.absolute()
    if resolved.parts[1:2] in (("proc",), ("sys",), ("dev",)):
        raise DataError(f"{what} {path} is inside /{resolved.parts[1]}, a virtual file system; write it somewhere "
                        "else")
    existing = path if folder and path.is_dir() else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DataError(f"{what} {path} lies below {existing}, which is a file; choose another place")
    try:
        fd, scratch = tempfile.mkstemp(prefix=".zc-write-test-", dir=existing)
        os.close(fd)
        os.unlink(scratch)
    except OSError as error:
        raise DataError(f"{what} {path} cannot be written ({error.strerror or error}); choose another place") \
            from None
    return path


def check_own_file(path: str | Path) -> None:
    """Refuse to write over ``path`` when it is a symbolic link, not a regular file, or a file with other hard links
    (``st_nlink > 1``: the same bytes have another name, perhaps outside the folder; replacing it here would leave two
    names that no longer agree, and a writer that wrote in place would change both)."""
    path = Path(path)
    if path.is_symlink():
        raise DataError(f"{path} is a symbolic link; this project never writes through one (remove it, or give "
                        "another folder)")
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    except OSError as error:
        raise DataError(f"{path}: cannot be checked ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path} is not a regular file (a folder or a device where a file is written); remove it, or "
                        "give another folder")
    if info.st_nlink > 1:
        raise DataError(f"{path} has {info.st_nlink - 1} other hard link(s); this project does not write over a file "
                        "that has another name (remove the other links, or give another folder)")


def write_text(path: str | Path, data: str | bytes, root: str | Path | None = None) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder (opened so that it cannot be a
    link), then a rename over the target - which replaces a link rather than writing through it, but a link is
    refused before that (``check_no_links``)."""
    path = Path(path)
    check_no_links(path, root)
    check_own_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
    return path


def write_json(path: str | Path, value: Any, root: str | Path | None = None) -> Path:
    """Write ``value`` as indented JSON (finite numbers only) atomically."""
    return write_text(path, json.dumps(value, indent=2, sort_keys=False, allow_nan=False) + "\n", root)


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_DIGITS", "check_depth", "check_no_links", "check_own_file", "check_regular",
           "check_writable",
           "parse_json", "read_bytes", "read_gzip", "read_json", "read_text", "read_yaml", "validate", "write_json",
           "write_text"]
