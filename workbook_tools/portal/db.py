"""The portal's database: SQLite (WAL) in the data folder by default, PostgreSQL by URL.

SQLAlchemy Core keeps one schema and one set of queries for both. The database holds metadata
and findings only; the uploaded originals live in the data folder, named by their sha256.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine

metadata = MetaData()

# Key/value settings of the collection round: name, year, spec, secret hash, base URL.
settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

units = Table(
    "units",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("code", String(100), nullable=False, default=""),
    Column("kind", String(20), nullable=False, default=""),
    Column("position", Integer, nullable=False, default=0),  # order on the roster
    Column("nonce", String(32), nullable=False),  # the link token is HMAC(key, nonce); renewed
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the link token
    Column("active", Boolean, nullable=False, default=True),  # off when dropped from the roster
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("unit_id", Integer, ForeignKey("units.id"), nullable=False),
    Column("received_ns", BigInteger, nullable=False),  # when it arrived: the newest counts
    Column("sha256", String(64), nullable=False),  # the stored original's name
    Column("size", BigInteger, nullable=False),
    Column("filename", String(255), nullable=False),  # as sent; shown, never used as a path
    Column("status", String(20), nullable=False),  # passed | failing
    Column("errors", Integer, nullable=False),
    Column("warnings", Integer, nullable=False),
    Column("file_unit", String(200), nullable=False, default=""),
    Column("file_year", Integer),
    Column("format_version", String(50), nullable=False, default=""),
    Column("findings", Text, nullable=False),  # JSON list (code, args, where)
    Index("ix_uploads_unit", "unit_id", "received_ns"),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("upload_id", Integer, ForeignKey("uploads.id"), nullable=False, index=True),
    Column("state", String(20), nullable=False),  # approved | returned
    Column("reason", Text, nullable=False, default=""),
    Column("at_ns", BigInteger, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # sha256 of the cookie value
    Column("csrf", String(64), nullable=False),
    Column("expires_ns", BigInteger, nullable=False),
)


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'portal.db'}"


def engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL (readers never wait for the writer), a busy
    timeout (concurrent uploads queue instead of failing) and foreign keys."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(eng, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # a committed upload survives a power cut
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return eng
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def create(eng: Engine) -> None:
    metadata.create_all(eng)
