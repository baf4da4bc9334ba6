"""Reading the JSON and YAML documents of an import without trusting them.

A JSON document (a COCO file, alone or in an archive) is refused before a byte of it is
read when it is larger than ``SAMLABEL_MAX_IMPORT_JSON_BYTES`` (default 64 MB): the
archive's limit is for images, which are read one at a time, while a document is held
whole and parsed into Python objects several times its size. Below the limit it is read
into one buffer, decoded to text (the buffer is then released) and parsed; each polygon
ring of an annotation is packed into an ``array('d')`` as soon as its annotation is
parsed, 8 bytes a coordinate instead of a 32-byte float object and a list slot. Documents
nested deeper than Python's parser can follow are refused with a problem.

A YAML document (YOLO's ``data.yaml``) names a few classes: it is refused above
:data:`MAX_YAML_BYTES`, when it uses aliases (``*name``, which let a few hundred bytes
stand for millions of strings), or when it nests deeper than :data:`MAX_YAML_DEPTH`.
"""

from __future__ import annotations

import contextlib
import json
from array import array
from collections.abc import Callable
from typing import Any, BinaryIO

import yaml
from django.conf import settings

from webapp.imports.archives import SafeArchive
from webapp.imports.problems import ImportRejected, Problem

DEFAULT_MAX_IMPORT_JSON_BYTES = 64 * 1024**2
MAX_YAML_BYTES = 1024**2
MAX_YAML_DEPTH = 20

READ_CHUNK_BYTES = 1024**2


def max_json_bytes() -> int:
    """The largest JSON document an import reads, in bytes."""
    return int(getattr(settings, "SAMLABEL_MAX_IMPORT_JSON_BYTES", DEFAULT_MAX_IMPORT_JSON_BYTES))


def check_json_size(name: str, size: int) -> None:
    """Raise ImportRejected when a JSON document of ``size`` bytes is over the limit."""
    limit = max_json_bytes()
    if size > limit:
        raise ImportRejected(
            [
                Problem(
                    name,
                    "file",
                    f"the JSON document is {size:,} bytes, over the limit of {limit:,} "
                    "(SAMLABEL_MAX_IMPORT_JSON_BYTES)",
                )
            ]
        )


def json_from_archive(archive: SafeArchive, path: str) -> Any:
    """The parsed JSON of archive member ``path``, checked against the limit first."""
    check_json_size(path, archive.size(path))
    return _parse_json(lambda: archive.read_buffer(path), path)


def json_from_stream(source: BinaryIO, name: str) -> Any:
    """The parsed JSON of the file ``source``; its size is checked as it is read, so a
    file over the limit is refused after reading at most one byte more than the limit."""
    size = getattr(source, "size", None)
    if isinstance(size, int):
        check_json_size(name, size)

    def read() -> bytearray:
        limit = max_json_bytes()
        buffer = bytearray()
        while chunk := source.read(min(READ_CHUNK_BYTES, limit + 1 - len(buffer))):
            buffer += chunk
            if len(buffer) > limit:
                check_json_size(name, len(buffer))
        return buffer

    return _parse_json(read, name)


def _parse_json(read: Callable[[], bytearray], name: str) -> Any:
    """Parse what ``read()`` returns. The bytes are referenced only while they are
    decoded, so they are gone before the (much larger) parsed objects are made."""
    text = _json_text(read(), name)
    try:
        return json.loads(text, object_hook=_pack_rings)
    except RecursionError:
        raise ImportRejected(
            [Problem(name, "file", "the JSON document nests too deeply to be read")]
        ) from None
    except ValueError as exc:  # JSONDecodeError, and integers of over 4,300 digits
        raise ImportRejected([Problem(name, "file", f"not valid JSON: {exc}")]) from None


def _json_text(content: bytearray, name: str) -> str:
    try:
        return content.decode(json.detect_encoding(content), "surrogatepass")
    except (UnicodeDecodeError, LookupError) as exc:
        raise ImportRejected([Problem(name, "file", f"not valid JSON: {exc}")]) from None


def _pack_rings(obj: dict[str, Any]) -> dict[str, Any]:
    """Store each polygon ring of an annotation's ``segmentation`` as an ``array('d')``
    when it holds only numbers that are floats or ints (no bools, no int too large for a
    float): the values are the same, as ``float`` reads them, in a quarter of the memory.
    Anything else is left as it is, to be refused with its reason later."""
    rings = obj.get("segmentation")
    if type(rings) is list:
        for number, ring in enumerate(rings):
            if type(ring) is list and all(type(v) is float or type(v) is int for v in ring):
                with contextlib.suppress(OverflowError):  # an int beyond any float
                    rings[number] = array("d", ring)
    return obj


class _BoundedYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases, and nesting at most MAX_YAML_DEPTH deep
    (its composer recurses once per level)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not accepted; write each value out",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"the document nests deeper than {MAX_YAML_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def yaml_from_archive(archive: SafeArchive, path: str) -> Any:
    """The parsed YAML of archive member ``path``: plain values, lists and mappings."""
    size = archive.size(path)
    if size > MAX_YAML_BYTES:
        raise ImportRejected(
            [Problem(path, "file", f"the file is {size:,} bytes, over {MAX_YAML_BYTES:,}")]
        )
    try:
        return yaml.load(archive.read(path), Loader=_BoundedYamlLoader)
    except yaml.YAMLError as exc:
        raise ImportRejected([Problem(path, "file", f"not valid YAML: {exc}")]) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of over 4,300 digits
        raise ImportRejected([Problem(path, "file", f"a value cannot be read: {exc}")]) from None
