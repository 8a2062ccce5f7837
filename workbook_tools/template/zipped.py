"""The zip of a prepared workbook (``template.prepared``), as xlsxwriter's zipfile makes it.

xlsxwriter's Workbook._store_workbook zips an in-memory workbook with zipfile.ZipFile(buffer, "w",
ZIP_DEFLATED, allowZip64=False), each part written by writestr(ZipInfo(name, (1980, 1, 1, 0, 0,
0)), data) with the archive's compression. What zipfile writes for that (Python 3.11 to 3.13;
tests/test_prepared.py compares the two for any entries, given the same deflated bytes): a local
header (version 20, the time 00:00 1 January 1980, CRC-32 and sizes) then the deflated bytes per
part; then a central directory entry per part (made by version 20 on this system: 3, Unix, or 0
on Windows, as ZipInfo says; attributes ?rw------- as zipfile gives an entry without them); then
the end record. A name not in ASCII is UTF-8 with flag 0x800. Written out because loading zipfile
(with the threading, shutil, bz2 and lzma it loads) cost more than the zip itself.

The parts are deflated by ISA-L (``isal``, as the merge's county workbook is, and what intake
inflates with) at its default level: ~7 times faster than zlib's level 6, which zipfile uses, for
parts ~12 % bigger (zlib's 3 ms was a sixth of a one-file import's CPU). The file's bytes differ
from xlsxwriter's only there: every entry and every part's XML is the same.
"""

from __future__ import annotations

import struct
import sys
import zlib

from isal import isal_zlib

from .recorder import Unsupported

_MADE_ON = 0 if sys.platform == "win32" else 3
_DOS_DATE = (1 << 5) | 1  # (1980 - 1980) << 9 | January << 5 | 1
_ATTRIBUTES = 0o600 << 16
_ZIP32 = 0x7FFFFFFF  # zipfile's ZIP64_LIMIT: beyond it, allowZip64=False refuses to write


def deflated(data: bytes) -> tuple[int, int, bytes]:
    """A part as a zip entry holds it (raw deflate, by ISA-L at its default level: see above):
    its CRC-32, size and deflated bytes."""
    packer = isal_zlib.compressobj(isal_zlib.ISAL_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return isal_zlib.crc32(data), len(data), packer.compress(data) + packer.flush()


def archive(entries: list[tuple[str, tuple[int, int, bytes]]]) -> bytes:
    """The zip of ``entries`` (name, ``deflated`` part), byte for byte as zipfile writes them
    for xlsxwriter (above)."""
    out, central, offset = [], [], 0
    for name, (crc, size, body) in entries:
        if name.isascii():
            encoded, flags = name.encode("ascii"), 0
        else:
            encoded, flags = name.encode("utf-8"), 0x800
        if max(size, len(body), offset) > _ZIP32:
            raise Unsupported("a zip beyond 2 GiB")
        fixed = struct.pack("<HHHHIIIH", flags, 8, 0, _DOS_DATE, crc, len(body), size, len(encoded))
        local = b"PK\x03\x04\x14\x00" + fixed + b"\x00\x00" + encoded
        central.append(
            b"PK\x01\x02"
            + bytes((20, _MADE_ON, 20, 0))
            + fixed
            + struct.pack("<HHHHII", 0, 0, 0, 0, _ATTRIBUTES, offset)
            + encoded
        )
        out += (local, body)
        offset += len(local) + len(body)
    directory = b"".join(central)
    if len(central) > 0xFFFF or offset + len(directory) > _ZIP32:
        raise Unsupported("a zip beyond zip32")
    count = len(central)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count, len(directory), offset, 0)
    return b"".join([*out, directory, end])
