"""The portal's data folder and database: settings, the roster with each unit's link, the office's
secret and sessions, and the uploaded originals (named by their sha256, never overwritten).

Layout of the data folder (mode 0700: it holds the link key)::

    portal.json   which database (SQLite in this folder unless --db named another)
    portal.key    32 random bytes; each unit's link token is HMAC(key, the unit's nonce)
    portal.db     the SQLite database (when no other database is used)
    spec.yaml     a custom format spec, copied in at init (absent for the bundled ones)
    blobs/ab/abcdef…  every upload as received, named by its sha256
    tmp/          uploads being received (left-overs of a killed server are removed at start)

The database stores only the sha256 of each link token and a scrypt hash of the office secret,
so a copy of the database alone opens no unit's page and no office page.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from .. import patterns
from .. import spec as spec_module
from ..findings import Failure, Finding, fail
from ..roster import Unit, identity
from . import db

CONFIG = "portal.json"
KEY = "portal.key"
SPEC_COPY = "spec.yaml"
SESSION_NS = 12 * 3600 * 10**9  # an office sign-in lasts a working day
LINK_CACHE_S = 10.0  # how long a found unit link is remembered (see Portal.unit_by_token)
DEFAULT_TZ = "Asia/Shanghai"  # times are stored in UTC and shown in China time unless set
_DIGEST = patterns.compile(r"[0-9a-f]{64}")  # a sha256 as this process writes it


def zone(name: str):
    """The time zone called ``name`` (IANA), or P107."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise fail("P107", zone=name) from None


@dataclass(frozen=True)
class UnitRow:
    id: int
    name: str
    code: str
    kind: str
    position: int
    active: bool

    def as_unit(self) -> Unit:
        return Unit(self.name, self.code, self.kind)


def _unit_row(row: Any) -> UnitRow:
    return UnitRow(row.id, row.name, row.code, row.kind, row.position, row.active)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def _verify_secret(secret: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


class Portal:
    """One collection round's data folder and database."""

    def __init__(self, folder: Path, db_url: str | None = None):
        self.folder = folder
        config_path = folder / CONFIG
        if not config_path.is_file() or not (folder / KEY).is_file():
            raise fail("P102", path=str(folder), detail="portal.json / portal.key")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            self.key = (folder / KEY).read_bytes()
        except (OSError, ValueError) as exc:
            raise fail("P102", path=str(folder), detail=str(exc)) from None
        self.db_url = db_url or config.get("db") or db.sqlite_url(folder)
        self.engine = db.engine(self.db_url)
        try:
            db.create(self.engine)  # idempotent: a new database gets the schema
            self._settings = self._read_settings()
        except SQLAlchemyError as exc:
            raise fail("P103", detail=_db_error(exc)) from None
        if "year" not in self._settings:
            raise fail("P102", path=str(folder), detail="the database holds no collection round")
        self._spec = None
        self._verified: set[str] = set()
        self.durable_dirs: set[Path] = set()  # blob folders known flushed (collect.settle)
        self.durable_blobs: set[str] = set()  # originals whose folder entry is known flushed
        self._handles: dict[str, int] = {}  # folder_handle
        self._handles_lock = threading.Lock()
        # (token hash -> unit, valid until): see unit_by_token
        self._links: tuple[dict[str, UnitRow], float] | None = None
        self._links_lock = threading.Lock()
        self._links_generation = 0
        self.zone = zone(self._settings.get("timezone") or DEFAULT_TZ)

    # --- creation ------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: Path,
        units: list[Unit],
        *,
        year: int,
        name: str,
        base_url: str = "",
        spec_source: str | None = None,
        db_url: str | None = None,
        secret: str,
        timezone: str = DEFAULT_TZ,
    ) -> Portal:
        if (folder / CONFIG).exists():
            raise fail("P101", path=str(folder))
        zone(timezone)  # fails (P107) before anything is written
        spec = spec_module.load(spec_source)  # fails (S101/S102) before anything is written
        try:
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
            for sub in ("blobs", "tmp"):
                (folder / sub).mkdir(exist_ok=True)
            if spec_source and Path(spec_source).is_file():
                (folder / SPEC_COPY).write_bytes(Path(spec_source).read_bytes())
                spec_setting = SPEC_COPY
            else:
                spec_setting = spec_source or ""
            key_path = folder / KEY
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        except OSError as exc:
            raise fail("O102", path=str(folder), detail=exc.strerror or str(exc)) from None
        url = db_url or db.sqlite_url(folder)
        eng = db.engine(url)
        try:
            db.create(eng)
            with eng.begin() as conn:
                if conn.execute(select(db.settings.c.key)).first() is not None:
                    raise fail("P101", path=url.split("@")[-1])
                values = {
                    "name": name,
                    "year": str(year),
                    "spec": spec_setting,
                    "base_url": base_url.rstrip("/"),
                    "secret_hash": hash_secret(secret),
                    "spec_version": spec.version,
                    "timezone": timezone,
                }
                conn.execute(
                    insert(db.settings), [{"key": k, "value": v} for k, v in values.items()]
                )
        except SQLAlchemyError as exc:
            key_path.unlink(missing_ok=True)
            raise fail("P103", detail=_db_error(exc)) from None
        except Failure:
            key_path.unlink(missing_ok=True)
            raise
        finally:
            eng.dispose()
        # The config is written last: a folder without it is not a portal, so a failed init can
        # simply be run again.
        config = {"db": db_url} if db_url else {}
        (folder / CONFIG).write_text(json.dumps(config), encoding="utf-8")
        (folder / CONFIG).chmod(0o600)  # a database URL may carry a password
        portal = cls(folder, db_url)
        portal.replace_roster(units)
        return portal

    # --- settings ------------------------------------------------------------------------------

    def _read_settings(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.key: r.value for r in conn.execute(select(db.settings))}

    @property
    def name(self) -> str:
        return self._settings.get("name", "")

    @property
    def year(self) -> int:
        return int(self._settings["year"])

    def use_timezone(self, name: str) -> None:
        """Show times in ``name`` from now on (``serve --tz``); P107 if there is no such zone."""
        self.zone = zone(name)

    def local_time(self, ns: int | None) -> str:
        """A stored time (UTC nanoseconds) as the office reads it, in the portal's time zone."""
        if not ns:
            return ""
        from datetime import UTC, datetime

        return (
            datetime.fromtimestamp(ns / 1e9, UTC)
            .astimezone(self.zone)
            .strftime("%Y-%m-%d %H:%M:%S")
        )

    @property
    def base_url(self) -> str:
        return self._settings.get("base_url", "")

    @property
    def spec(self):
        if self._spec is None:
            self._spec = spec_module.load(self.spec_source)
        return self._spec

    @property
    def spec_source(self) -> str | None:
        """What ``spec.load`` is given for this round's format (None: the bundled default)."""
        source = self._settings.get("spec") or None
        if source == SPEC_COPY:
            source = str(self.folder / SPEC_COPY)
        return source

    def check_secret(self, secret: str) -> bool:
        """The office secret, verified against its scrypt hash (a success is remembered for this
        process by the secret's sha256, so the API does not pay scrypt on every call)."""
        if not secret:
            return False
        quick = hashlib.sha256(secret.encode()).hexdigest()
        if quick in self._verified:
            return True
        if _verify_secret(secret, self._settings.get("secret_hash", "")):
            self._verified.add(quick)
            return True
        return False

    # --- units and links -----------------------------------------------------------------------

    def token(self, nonce: str) -> str:
        mac = hmac.new(self.key, b"unit-link:" + nonce.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()  # 256 bits, 43 characters

    def _new_link(self) -> dict[str, str]:
        nonce = secrets.token_hex(16)
        return {"nonce": nonce, "token_hash": token_hash(self.token(nonce))}

    def units(self, active_only: bool = True) -> list[UnitRow]:
        query = select(db.units).order_by(db.units.c.position, db.units.c.id)
        if active_only:
            query = query.where(db.units.c.active.is_(True))
        with self.engine.connect() as conn:
            return [_unit_row(r) for r in conn.execute(query)]

    def unit(self, unit_id: int) -> UnitRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(db.units).where(db.units.c.id == unit_id, db.units.c.active.is_(True))
            ).first()
        return _unit_row(row) if row else None

    def link_table(self) -> dict[str, UnitRow] | None:
        """Every active unit by the hash of its link token, as this process read them in the
        last LINK_CACHE_S seconds (no database), or None when that is older or links changed
        since: then ``read_link_table`` reads them again."""
        table = self._links
        if table is None or table[1] < time.monotonic():
            return None
        return table[0]

    def read_link_table(self) -> dict[str, UnitRow]:
        """Every active unit by the hash of its link token, read from the database now, and
        remembered for LINK_CACHE_S seconds unless links changed while it was read."""
        generation = self._links_generation
        query = select(db.units).where(db.units.c.active.is_(True))
        with self.engine.connect() as conn:
            table = {r.token_hash: _unit_row(r) for r in conn.execute(query)}
        with self._links_lock:
            # Not kept when links changed while they were read: it may hold old ones.
            if generation == self._links_generation:
                self._links = (table, time.monotonic() + LINK_CACHE_S)
        return table

    def unit_by_token(self, token: str) -> UnitRow | None:
        """The active unit whose link holds ``token``; None for a wrong, old or dropped link.
        Answered from the table of every active link (read at most every LINK_CACHE_S seconds:
        a unit's page and uploads look their link up on every request); renewing a link or
        replacing the roster drops the table at once, and the time bound covers another server
        process sharing the database."""
        if not token or len(token) > 200:
            return None
        table = self.link_table()
        if table is None:
            table = self.read_link_table()
        return table.get(token_hash(token))

    def _links_changed(self) -> None:
        with self._links_lock:
            self._links_generation += 1
            self._links = None

    def url(self, nonce: str, base_url: str | None = None) -> str:
        base = self.base_url if base_url is None else base_url.rstrip("/")
        return f"{base}/u/{self.token(nonce)}"

    def links(self, base_url: str | None = None) -> list[dict[str, str]]:
        query = (
            select(db.units)
            .where(db.units.c.active.is_(True))
            .order_by(db.units.c.position, db.units.c.id)
        )
        with self.engine.connect() as conn:
            return [
                {"unit": r.name, "code": r.code, "url": self.url(r.nonce, base_url)}
                for r in conn.execute(query)
            ]

    def link(self, unit_id: int, base_url: str | None = None) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(db.units.c.nonce).where(
                    db.units.c.id == unit_id, db.units.c.active.is_(True)
                )
            ).first()
        return self.url(row.nonce, base_url) if row else None

    def renew_link(self, unit_id: int) -> None:
        """A new link for a unit; the old one stops working (404)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(db.units).where(db.units.c.id == unit_id).values(**self._new_link())
                )
        finally:
            self._links_changed()

    def replace_roster(self, roster: Iterable[Unit]) -> dict[str, int]:
        """Make ``roster`` the list of units. A unit already known (same code, else same name)
        keeps its link and uploads; a unit no longer listed is switched off (its link answers 404,
        its uploads stay); a new one gets a new link."""
        try:
            return self._replace_roster(list(roster))
        finally:
            self._links_changed()

    def _replace_roster(self, roster: list[Unit]) -> dict[str, int]:
        counts = {"kept": 0, "added": 0, "removed": 0}
        with self.engine.begin() as conn:
            existing = list(conn.execute(select(db.units)))
            by_code = {identity(r.code): r for r in existing if r.code}
            by_name = {identity(r.name): r for r in existing}
            seen: set[int] = set()
            for position, u in enumerate(roster):
                row = (by_code.get(identity(u.code)) if u.code else None) or by_name.get(
                    identity(u.name)
                )
                if row is not None and row.id in seen:
                    row = None
                values = {"name": u.name, "code": u.code, "kind": u.kind, "position": position}
                if row is None:
                    conn.execute(insert(db.units).values(active=True, **values, **self._new_link()))
                    counts["added"] += 1
                else:
                    seen.add(row.id)
                    conn.execute(
                        update(db.units)
                        .where(db.units.c.id == row.id)
                        .values(active=True, **values)
                    )
                    counts["kept"] += 1
            for r in existing:
                if r.id not in seen and r.active:
                    conn.execute(update(db.units).where(db.units.c.id == r.id).values(active=False))
                    counts["removed"] += 1
        return counts

    # --- office sessions -----------------------------------------------------------------------

    def open_session(self) -> tuple[str, str]:
        """A new office session: (cookie value, CSRF token). Only the cookie's hash is stored."""
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time_ns()
        with self.engine.begin() as conn:
            conn.execute(delete(db.sessions).where(db.sessions.c.expires_ns < now))
            conn.execute(
                insert(db.sessions).values(
                    id_hash=token_hash(cookie), csrf=csrf, expires_ns=now + SESSION_NS
                )
            )
        return cookie, csrf

    def session_csrf(self, cookie: str | None) -> str | None:
        """The CSRF token of a live session, or None when the cookie opens none."""
        if not cookie or len(cookie) > 200:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(db.sessions).where(db.sessions.c.id_hash == token_hash(cookie))
            ).first()
        if row is None or row.expires_ns < time.time_ns():
            return None
        return row.csrf

    def close_session(self, cookie: str | None) -> None:
        if cookie:
            with self.engine.begin() as conn:
                conn.execute(delete(db.sessions).where(db.sessions.c.id_hash == token_hash(cookie)))

    # --- stored originals ----------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        """Where the original with this sha256 lives. Only ever called with a digest computed
        here (64 hex digits), never with anything a request carried."""
        if not _DIGEST.fullmatch(sha256):
            raise ValueError("not a sha256 digest")
        return Path(f"{self.folder}/blobs/{sha256[:2]}/{sha256}")

    def folder_handle(self, name: str) -> int:
        """A descriptor of this data folder's sub-folder ``name``, opened once and held until
        ``close`` (collect.flush_handle)."""
        with self._handles_lock:
            fd = self._handles.get(name)
            if fd is None:
                path = self.folder / name
                path.mkdir(exist_ok=True)
                fd = self._handles[name] = os.open(
                    path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
                )
            return fd

    def clean_tmp(self) -> int:
        """Remove what a killed server left in tmp/: uploads half received (never recorded) and
        scratch folders of county workbooks."""
        import shutil

        n = 0
        for p in (self.folder / "tmp").iterdir():
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            n += 1
        return n

    def close(self) -> None:
        with self._handles_lock:
            handles, self._handles = list(self._handles.values()), {}
        for fd in handles:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.engine.dispose()


def _db_error(exc: SQLAlchemyError) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def db_failure(exc: SQLAlchemyError) -> Failure:
    return Failure([Finding("P103", {"detail": _db_error(exc)})])
