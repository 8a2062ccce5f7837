"""Writing outputs safely: atomically, never over an input, and the OOXML patch xlsxwriter lacks."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Container, Iterable, Iterator
from pathlib import Path

from .findings import Failure, fail

# Bytes of one file name: 255 on Linux, macOS and Windows file systems, where a Chinese character
# takes 3 (UTF-8), so 85 of them fill a name.
NAME_MAX = 255


def fit_name(name: str, most: int = NAME_MAX) -> str:
    """``name`` when it fits a file name (``most`` bytes), else its stem shortened to fit and
    tagged with a checksum of the whole stem, its suffix kept: names made from a long unit or
    input name stay legal, and two that differ only past the cut stay two files."""
    if len(os.fsencode(name)) <= most:
        return name
    import zlib

    path = Path(name)
    stem, suffix = (path.stem, path.suffix) if len(path.suffix) < 16 else (name, "")
    tag = f"~{zlib.crc32(os.fsencode(stem)):08x}{suffix}"
    room = most - len(os.fsencode(tag))
    kept, used = [], 0
    for ch in stem:
        size = len(os.fsencode(ch))
        if used + size > room:
            break
        kept.append(ch)
        used += size
    return "".join(kept) + tag


def vet_output(out: Path) -> None:
    """O102 for an output path with a name longer than a file system takes (typed so), before
    its checks ask the system about it (which raises for such a name)."""
    if any(len(os.fsencode(part)) > NAME_MAX for part in out.parts):
        raise fail("O102", path=str(out), detail=os.strerror(errno.ENAMETOOLONG))


class InputSet:
    """The inputs of a run, known by their resolved paths and file identities (device, inode)
    once, so that asking whether an output is one of them is a look-up, not a pass over them all
    (a run writing a feedback workbook or a report for each of 1,000 files compared each with
    every input: a million path resolutions)."""

    def __init__(self, inputs: Iterable[Path]) -> None:
        self.resolved: set[Path] = set()
        self.ids: set[tuple[int, int]] = set()
        for src in inputs:
            src = Path(src)
            self.resolved.add(src.resolve())
            with contextlib.suppress(OSError, ValueError):
                st = os.stat(src)
                self.ids.add((st.st_dev, st.st_ino))

    def holds(self, out: Path) -> bool:
        """Whether ``out`` is (or resolves to, or is a link of) one of the inputs."""
        if out.resolve() in self.resolved:
            return True
        try:
            st = os.stat(out)
        except (OSError, ValueError):  # not there: no input
            return False
        return (st.st_dev, st.st_ino) in self.ids


def guard_output(out: Path, inputs: Iterable[Path] | InputSet) -> None:
    """Refuse to write ``out`` when it is (or resolves to) one of ``inputs``."""
    known = inputs if isinstance(inputs, InputSet) else InputSet(inputs)
    if known.holds(out):
        raise fail("O101", path=str(out))


# How a temporary file is made: as tempfile.mkstemp makes one (a fresh random name, created
# exclusively, never through a link), but with the mode any new file of this user gets (0666
# less the umask, which os.open applies; mkstemp's 0600, which a rename would keep, would hide
# the output from colleagues or a web server), and without loading tempfile (which loads random
# and shutil: more than a one-file import's writing).
_TEMP_FLAGS = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)  # (and not inherited by child processes: os.open's default)


def temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file in ``path``'s folder (so renaming it over ``path`` is atomic), named
    ``.<name>.<random>.part``, with the permissions a new file gets (see ``_TEMP_FLAGS``)."""
    name = fit_name(path.name, NAME_MAX - 19)  # room for the dots, the random part and ".part"
    for _ in range(100):  # (mkstemp's TMP_MAX tries too: an existing name is tried again)
        tmp = os.path.join(path.parent, f".{name}.{os.urandom(6).hex()}.part")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


def unwritable(path: Path, exc: OSError) -> Failure:
    """O102 for ``path`` with the system's reason (no permission, disk full, not a folder …)."""
    return fail("O102", path=str(path), detail=exc.strerror or str(exc))


@contextlib.contextmanager
def replacing(out: Path) -> Iterator[Path]:
    """A temporary file beside ``out`` for writers that want a file name (xlsxwriter, pandas),
    renamed over ``out`` when the block ends. On any failure it is removed, so a failed run
    leaves no ``.part`` behind, and an OSError becomes O102 with its reason."""
    try:  # (a name longer than the file system takes is O102 too)
        if out.is_dir():  # os.replace would say so only after the whole output was written
            raise fail("O102", path=str(out), detail=os.strerror(errno.EISDIR))
        fd, tmp = temp_beside(out)
        os.close(fd)
    except OSError as exc:
        raise unwritable(out, exc) from None
    try:
        yield Path(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        raise unwritable(out, exc) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, so a reader never
    sees half a file and an interrupted run leaves the old file (if any) intact."""
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def make_folder(folder: Path) -> Path:
    """An output folder, made if missing; O102 with the reason when it cannot be (a file or a
    device such as /dev/null by that name, no permission)."""
    try:
        if folder.exists() and not folder.is_dir():
            raise fail("O102", path=str(folder), detail=os.strerror(errno.ENOTDIR))
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(folder, exc) from None
    return folder


def free_name(path: Path, taken: Container[Path]) -> Path:
    """``path``, or ``stem (2).ext``, ``stem (3).ext`` … whichever this run has not yet written:
    two inputs that name one output (a file and its corrected copy, same-named files from two
    folders) both keep theirs."""
    n, free = 2, path
    while free in taken:
        free = path.with_name(fit_name(f"{path.stem} ({n}){path.suffix}"))
        n += 1
    return free


def legacy_password_hash(password: str) -> str:
    """The 16-bit legacy password verifier of ECMA-376 (sheetProtection/workbookProtection).

    It is not security: protection only stops accidental edits, and the checker detects
    tampering on read-back instead of trusting it.
    """
    value = 0
    for ch in reversed(password):
        value = ((value >> 14) & 0x01) | ((value << 1) & 0x7FFF)
        value ^= ord(ch)
    value = ((value >> 14) & 0x01) | ((value << 1) & 0x7FFF)
    value ^= len(password) ^ 0xCE4B
    return f"{value:X}"
