"""Reading an uploaded zip archive without trusting it.

:func:`open_archive` inspects the archive's central directory and refuses, before a single
member is decompressed, anything that could write outside a folder, point elsewhere, or
exhaust memory or disk: absolute paths and ``..``, symbolic links, encrypted members, too
many members, too many uncompressed bytes in all, or a member that expands far beyond
its compressed size (a "zip bomb"), or a compression method we cannot read. Members are
then read in bounded chunks that stop at the size the directory declared, so a lying
header cannot make a read grow further, and a member whose data is damaged (a wrong CRC,
a corrupt compressed stream, a local header that names another file) is refused by name.
"""

from __future__ import annotations

import lzma
import posixpath
import stat
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings

from webapp.imports.problems import ImportRejected, Problem, shorten

DEFAULT_MAX_IMPORT_BYTES = 2 * 1024**3  # uncompressed, all members together
DEFAULT_MAX_IMPORT_MEMBERS = 100_000
# Photos and JSON compress by a factor of 2 to 20; a member that expands more than this
# (and is large enough to matter) is refused as a decompression bomb.
MAX_COMPRESSION_RATIO = 200
RATIO_CHECKED_FROM_BYTES = 1024**2
READ_CHUNK_BYTES = 1024**2
READABLE_COMPRESSION = {
    zipfile.ZIP_STORED,
    zipfile.ZIP_DEFLATED,
    zipfile.ZIP_BZIP2,
    zipfile.ZIP_LZMA,
}


def max_import_bytes() -> int:
    return int(getattr(settings, "SAMLABEL_MAX_IMPORT_BYTES", DEFAULT_MAX_IMPORT_BYTES))


def max_import_members() -> int:
    return int(getattr(settings, "SAMLABEL_MAX_IMPORT_MEMBERS", DEFAULT_MAX_IMPORT_MEMBERS))


@dataclass(frozen=True)
class Member:
    """One regular file of the archive; ``path`` is relative, "/"-separated, normalised."""

    path: str
    size: int  # uncompressed bytes, as the central directory declares

    @property
    def basename(self) -> str:
        return posixpath.basename(self.path)


class SafeArchive:
    """A zip archive whose directory passed :func:`open_archive`'s checks."""

    def __init__(self, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> None:
        self._zip = archive
        self._infos = members
        self.members = [Member(path, info.file_size) for path, info in members.items()]

    def size(self, path: str) -> int:
        """Member ``path``'s uncompressed size in bytes, as its directory entry declares."""
        return self._infos[path].file_size

    def read(self, path: str) -> bytes:
        """The bytes of member ``path``: see :meth:`read_buffer`."""
        return bytes(self.read_buffer(path))

    def read_buffer(self, path: str) -> bytearray:
        """The bytes of member ``path`` in one buffer of the size its directory entry
        declared, read in 1 MiB chunks; a member that holds more than that, or whose data
        is damaged (a CRC that does not match, a corrupt compressed stream, a local
        header that names another file), raises ImportRejected naming it."""
        info = self._infos[path]
        buffer = bytearray(info.file_size)
        view = memoryview(buffer)
        total = 0
        try:
            with self._zip.open(info) as stream:
                while chunk := stream.read(READ_CHUNK_BYTES):
                    if total + len(chunk) > info.file_size:
                        raise ImportRejected(
                            [Problem(path, "archive", "the member is larger than declared")]
                        )
                    view[total : total + len(chunk)] = chunk
                    total += len(chunk)
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError) as exc:
            raise ImportRejected(
                [Problem(path, "archive", f"the member is damaged: {shorten(str(exc), 120)}")]
            ) from None
        except NotImplementedError:
            raise ImportRejected(
                [Problem(path, "archive", "the member uses a compression we cannot read")]
            ) from None
        finally:
            view.release()
        if total != info.file_size:
            raise ImportRejected([Problem(path, "archive", "the member is shorter than declared")])
        return buffer

    def close(self) -> None:
        self._zip.close()


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path; members must be relative"
    if ".." in name.split("/"):
        return "a path with '..'; members must stay inside the archive"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link; links are not accepted"
    if info.flag_bits & 0x1:
        return "encrypted; encrypted archives are not accepted"
    if info.compress_type not in READABLE_COMPRESSION:
        return f"compressed with method {info.compress_type}, which we cannot read"
    return None


def open_archive(source: BinaryIO) -> SafeArchive:
    """Check the archive's directory and return it for reading; raise ImportRejected,
    naming every refused member, when anything is hostile or over a limit."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportRejected(
            [Problem("archive", "file", f"not a readable zip archive ({exc})")]
        ) from None
    infos = archive.infolist()
    problems: list[Problem] = []
    if len(infos) > max_import_members():
        problems.append(
            Problem(
                "archive",
                "archive",
                f"{len(infos):,} members, over the limit of {max_import_members():,}",
            )
        )
        archive.close()
        raise ImportRejected(problems)
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        problem = _member_problem(info)
        if problem is not None:
            problems.append(Problem(info.filename, "archive", f"the member is {problem}"))
            continue
        if info.is_dir():
            continue
        total += info.file_size
        compressed = max(info.compress_size, 1)
        if (
            info.file_size > RATIO_CHECKED_FROM_BYTES
            and info.file_size / compressed > MAX_COMPRESSION_RATIO
        ):
            problems.append(
                Problem(
                    info.filename,
                    "archive",
                    f"the member expands {info.file_size // compressed:,} times "
                    f"(over {MAX_COMPRESSION_RATIO}); refused as a decompression bomb",
                )
            )
        path = posixpath.normpath(info.filename.replace("\\", "/"))
        if path in members:
            problems.append(Problem(info.filename, "archive", "the archive holds this path twice"))
        members[path] = info
    if total > max_import_bytes():
        problems.append(
            Problem(
                "archive",
                "archive",
                f"the members hold {total:,} bytes uncompressed, "
                f"over the limit of {max_import_bytes():,}",
            )
        )
    if problems:
        archive.close()
        raise ImportRejected(problems)
    return SafeArchive(archive, members)
