"""wbtools portal: limits on guessing (the office secret, unit links), the time zone times are
shown in, and how uploads are received at speed (checks in worker processes, records written in
group commits) without giving up what an answer promises."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from workbook_tools import check
from workbook_tools.portal import collect, db, guard, receiving
from workbook_tools.portal.store import Portal
from workbook_tools.portal.web import Config, create_app

from .conftest import run
from .portal_support import ROSTER_CSV, SECRET, UNITS, YEAR, make_portal, workbook


@pytest.fixture()
def portal(tmp_path):
    p = make_portal(tmp_path / "portal")
    yield p
    p.close()


def link(portal: Portal, i: int = 0) -> str:
    return "/" + portal.links("")[i]["url"].split("/", 1)[1]


def upload(client, url: str, data: bytes, name: str = "报表.xlsx"):
    return client.post(url, files={"file": (name, data)}, headers={"accept": "application/json"})


def sign_in(client, secret: str):
    page = client.get("/office/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/office/login", data={"csrf": token, "secret": secret})


# --- guessing -----------------------------------------------------------------------------------


def test_sign_in_locks_a_client_out_after_five_wrong_secrets(portal):
    app = create_app(portal, Config(workers=0, login_delay=0))
    with (
        TestClient(app, client=("10.0.0.1", 5000)) as guesser,
        TestClient(app, client=("10.0.0.2", 5000)) as office,
    ):
        answers = [sign_in(guesser, f"guess-{i}") for i in range(5)]
        assert [a.status_code for a in answers[:4]] == [401] * 4
        assert answers[4].status_code == 429  # the fifth failure locks
        locked = sign_in(guesser, SECRET)  # even the right secret: it is not looked at
        assert locked.status_code == 429
        assert "失败的尝试太多，已暂时锁定。请在 15 分钟后再试。" in locked.text
        assert 800 < int(locked.headers["retry-after"]) <= 900
        english = guesser.get("/office/login?lang=en")
        token = re.search(r'name="csrf" value="([^"]+)"', english.text).group(1)
        en = guesser.post("/office/login?lang=en", data={"csrf": token, "secret": SECRET})
        assert en.status_code == 429 and "Too many failed attempts" in en.text
        # Another address is not locked out by this one.
        assert sign_in(office, SECRET).status_code == 200
        # The API guards the same secret: wrong Bearer secrets count too.
        for i in range(5):
            office.get("/api/status", headers={"authorization": f"Bearer wrong-{i}"})
        api = office.get("/api/status", headers={"authorization": f"Bearer {SECRET}"})
        assert api.status_code == 429 and api.json()["code"] == "P108"
        assert int(api.headers["retry-after"]) > 0


def test_sign_in_locks_everyone_out_after_many_failures_from_many_addresses(portal):
    limits = guard.Limits(per_client=5, overall=6, window=900)
    app = create_app(portal, Config(workers=0, login_delay=0, sign_in=limits))
    for i in range(6):  # one guess each from six addresses
        with TestClient(app, client=(f"10.0.1.{i}", 5000)) as c:
            assert sign_in(c, f"guess-{i}").status_code in (401, 429)
    with TestClient(app, client=("10.0.2.1", 5000)) as office:
        assert sign_in(office, SECRET).status_code == 429
    assert guard.SIGN_IN.overall == 50  # the default over all addresses


def test_throttle_forgets_failures_after_its_window():
    now = [1000.0]
    throttle = guard.Throttle(guard.Limits(per_client=3, overall=None, window=60), lambda: now[0])
    for _ in range(3):
        throttle.failed("a")
    assert throttle.wait("a") == 60 and throttle.wait("b") == 0
    now[0] += 59.5
    assert throttle.wait("a") == 1
    now[0] += 1
    assert throttle.wait("a") == 0
    throttle.failed("a")
    throttle.succeeded("a")  # a right secret clears the address's count
    assert throttle.wait("a") == 0


def test_many_wrong_unit_links_from_one_client_are_refused_for_a_while(portal, spec21):
    app = create_app(portal, Config(workers=0))
    with (
        TestClient(app, client=("10.0.3.1", 5000)) as prober,
        TestClient(app, client=("10.0.3.2", 5000)) as unit,
    ):
        for i in range(guard.UNIT_LINKS.per_client):
            assert prober.get(f"/u/{i:043d}").status_code == 404
        refused = prober.get(link(portal))  # a right link too, from this address
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "失败的尝试太多" in refused.text
        assert upload(prober, link(portal), workbook(spec21)).status_code == 429
        assert unit.get(link(portal)).status_code == 200  # other addresses are served
        assert upload(unit, link(portal), workbook(spec21)).status_code == 200


# --- time zone ----------------------------------------------------------------------------------


def _shown(ns: int, zone: str) -> str:
    return (
        datetime.fromtimestamp(ns / 1e9, UTC)
        .astimezone(ZoneInfo(zone))
        .strftime("%Y-%m-%d %H:%M:%S")
    )


@pytest.fixture()
def utc_server(monkeypatch):
    """The server's own clock in UTC (as on most servers): what is shown must not follow it."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_are_shown_in_china_time_by_default(portal, spec21, utc_server):
    with TestClient(create_app(portal, Config(workers=0))) as c:
        upload(c, link(portal), workbook(spec21))
        ns = collect.newest(portal, portal.units()[0].id).received_ns
        china, utc = _shown(ns, "Asia/Shanghai"), _shown(ns, "UTC")
        assert china != utc
        assert china in c.get(link(portal)).text
        assert sign_in(c, SECRET).status_code == 200
        page = c.get("/office").text
        assert china in page and utc not in page and "最近上传 <small>北京时间</small>" in page
        rows = list(csv.reader(io.StringIO(c.get("/office/status.csv").text.lstrip("\ufeff"))))
        assert rows[1][4] == china
        # Stored in UTC: the API gives the instant itself.
        api = c.get("/api/status", headers={"authorization": f"Bearer {SECRET}"}).json()
        at = datetime.fromisoformat(api["units"][0]["latest_upload"]["received_at"])
        assert at.utcoffset().total_seconds() == 0 and abs(at.timestamp() - ns / 1e9) < 1e-5


def test_time_zone_set_at_init_and_by_serve(tmp_path, spec21, utc_server, monkeypatch):
    roster = tmp_path / "units.csv"
    roster.write_text(ROSTER_CSV, encoding="utf-8")
    monkeypatch.setenv("WBTOOLS_PORTAL_SECRET", SECRET)
    bad = run("portal", "init", tmp_path / "x", "-r", roster, "-y", YEAR, "--name", "青禾县",
              "--tz", "Mars/Olympus")  # fmt: skip
    assert bad.exit_code == 2 and "[P107]" in bad.output and "Mars/Olympus" in bad.output
    assert not (tmp_path / "x" / "portal.json").exists()
    ok = run("portal", "init", tmp_path / "r", "-r", roster, "-y", YEAR, "--name", "青禾县",
             "--tz", "Europe/Berlin")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    portal = Portal(tmp_path / "r")
    with TestClient(create_app(portal, Config(workers=0))) as c:
        upload(c, link(portal), workbook(spec21))
        ns = collect.newest(portal, portal.units()[0].id).received_ns
        page = c.get(link(portal)).text
        assert _shown(ns, "Europe/Berlin") in page and "<small>Europe/Berlin</small>" in page
    portal.use_timezone("America/New_York")  # what serve --tz does
    with TestClient(create_app(portal, Config(workers=0))) as c:
        assert _shown(ns, "America/New_York") in c.get(link(portal)).text
    portal.close()
    refused = run("portal", "serve", tmp_path / "r", "--tz", "Nowhere/Town")
    assert refused.exit_code == 2 and "[P107]" in refused.output


# --- receiving at speed -------------------------------------------------------------------------


def test_worker_processes_give_the_same_verdict_and_a_dying_worker_costs_nothing(portal, spec21):
    data = workbook(spec21, mistake=True)
    with TestClient(create_app(portal, Config(workers=0))) as c:
        here = upload(c, link(portal), data).json()
    app = create_app(portal, Config(workers=1))
    with TestClient(app) as c:
        there = upload(c, link(portal), data).json()
        for doc in (here, there):
            doc.pop("upload_id"), doc.pop("version", None)
        assert there == here and [f["code"] for f in there["files"][0]["findings"]] == ["R1"]
        # Kill the worker (as the out-of-memory killer would): the next upload is still
        # checked, in a fresh worker, and answered.
        checker = app.state.intake.checker
        (pid,) = checker.pids()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and pid in checker.pids():
            time.sleep(0.05)
        again = upload(c, link(portal), data)
        assert again.status_code == 200
        assert [f["code"] for f in again.json()["files"][0]["findings"]] == ["R1"]
        assert upload(c, link(portal), workbook(spec21)).json()["files"][0]["status"] == "passed"
    assert len(collect.history(portal, portal.units()[0].id)) == 4


def test_a_worker_dying_in_the_middle_of_checks_costs_none_of_them(portal, spec21, tmp_path):
    """The checks a checking process had when it died are done again, alone, and answered."""
    paths = []
    for i, mistake in enumerate((True, False, True)):
        paths.append(tmp_path / f"{i}.xlsx")
        paths[-1].write_bytes(workbook(spec21, mistake=mistake))
    checker = receiving.Checker(portal, 1)
    unit = portal.units()[0]
    seen = collect.Seen(unit.name, unit.code, portal.year, "a.xlsx", None)

    async def checks():
        checker.start()
        (pid,) = checker.pids()
        await checker.check(paths[0], seen)  # up and checking
        os.kill(pid, signal.SIGSTOP)  # it takes the next checks and never answers them...
        pending = [asyncio.ensure_future(checker.check(p, seen)) for p in paths]
        await asyncio.sleep(0.2)
        assert not any(t.done() for t in pending)
        os.kill(pid, signal.SIGKILL)  # ...and dies with them
        verdicts = await asyncio.wait_for(asyncio.gather(*pending), 60)
        assert pid not in checker.pids()
        again = await checker.check(paths[1], seen)  # a fresh process takes the next one
        return verdicts, again

    try:
        verdicts, again = asyncio.run(checks())
    finally:
        checker.close()

    def codes(checked: collect.Checked) -> list[str]:
        return [f["code"] for f in json.loads(checked.columns["findings"])]

    assert [codes(v) for v in verdicts] == [["R1"], [], ["R1"]]
    assert codes(again) == [] and again.columns["status"] == "passed"


def test_the_verdict_made_in_a_checking_process_is_the_servers_byte_for_byte(
    portal, spec21, tmp_path
):
    """A checking process makes the verdict as the unit sees it (P104/P105, the record's
    columns, the JSON answer): byte for byte what the report made into them in the server
    gives (``as_seen``, ``record_row``, ``as_json``), for a workbook with a mistake, another
    unit's of another year, a file that is no workbook, and names with characters the JSON
    output escapes; in both languages; in a worker process and in the server's thread."""
    unit = portal.units()[0]
    cases = [
        (workbook(spec21, mistake=True), "徐营镇 报表.xlsx"),
        (workbook(spec21, unit=UNITS[1], year=YEAR - 1), "other\u202e\x85.xlsx"),
        (b"not a workbook", "x\x7f.xlsx"),
    ]
    expected, asked = [], []
    for i, (data, name) in enumerate(cases):
        path = tmp_path / f"{i}.xlsx"
        path.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        for lang in ("zh", "en"):
            report = check.check_file(path, portal.spec)
            report.filing.spec = portal.spec if report.filing.readable else None
            report = collect.as_seen(portal, unit, report, name)
            row = collect.record_row(portal, unit, report, sha, len(data), name, 5)
            expected.append((row, collect.as_json(portal, report, 7, sha, lang)))
            asked.append(
                (path, sha, len(data), collect.Seen(unit.name, unit.code, YEAR, name, lang))
            )
    codes = [json.loads(row["findings"]) for row, _ in expected[::2]]
    assert [[f["code"] for f in c] for c in codes] == [["R1"], ["P104", "P105"], ["F102"]]

    async def verdicts(checker: receiving.Checker) -> list:
        out = []
        for path, sha, size, seen in asked:
            checked = await checker.check(path, seen)
            row = {"unit_id": unit.id, "received_ns": 5, "sha256": sha, "size": size}
            row |= {"filename": seen.filename, **checked.columns}
            out.append((row, checked.answer_with(7, sha)))
        return out

    for jobs in (1, 0):
        checker = receiving.Checker(portal, jobs)
        try:
            assert asyncio.run(verdicts(checker)) == expected
        finally:
            checker.close()


def test_records_of_uploads_waiting_together_are_written_in_one_commit(portal):
    unit = portal.units()[0]
    recorder = receiving.Recorder(portal)
    report = collect.verdict(portal, unit, collect.store_original(portal, [b"x"], 10)[0], "a")

    def rows(n: int) -> list[dict]:
        return [
            collect.record_row(portal, unit, report, "ab" * 32, 1, f"{i}.xlsx", time.time_ns())
            for i in range(n)
        ]

    async def at_once(batch: list[dict]) -> list:
        return await asyncio.gather(*(recorder.record(r) for r in batch), return_exceptions=True)

    ids = asyncio.run(at_once(rows(20)))
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 20
    assert sum(recorder.batches) == 20 and len(recorder.batches) < 20  # batched
    # A row that cannot be written fails alone; the others of its batch are recorded.
    batch = rows(5)
    batch[2] = {**batch[2], "unit_id": 999_999}  # no such unit
    more = asyncio.run(at_once(batch))
    recorder.close()
    assert isinstance(more[2], Exception)
    good = ids + [i for n, i in enumerate(more) if n != 2]
    with portal.engine.connect() as conn:
        stored = conn.execute(
            select(db.uploads.c.id, db.uploads.c.filename, db.uploads.c.findings)
        ).all()
    assert sorted(r.id for r in stored) == sorted(good)
    assert json.loads(stored[0].findings)[0]["code"].startswith("F")
    # Each upload is answered with the id of its own row (a batch is one statement).
    names = {r.id: r.filename for r in stored}
    assert [names[i] for i in ids] == [f"{i}.xlsx" for i in range(20)]
    assert [names[more[n]] for n in (0, 1, 3, 4)] == ["0.xlsx", "1.xlsx", "3.xlsx", "4.xlsx"]


def _on_disk(portal: Portal) -> frozenset[str]:
    return frozenset(
        str(p.resolve())
        for sub in ("tmp", "blobs")
        for p in (portal.folder / sub).rglob("*")
        if p.is_file()
    )


@contextlib.contextmanager
def watching(intake: receiving.Intake, events: list[tuple]):
    """Every flush of ``intake``'s recorder (the path flushed; for a syncfs, every file in
    tmp/ and blobs/ at that moment: what it made durable) and every commit (the digests
    committed) appended to ``events`` while inside; ``intake`` is closed on the way out."""
    real_fsync = os.fsync
    real_syncfs = collect.SYNCFS
    real_insert = intake.recorder._insert_rows
    portal = intake.portal

    def fsync(fd):
        real_fsync(fd)
        events.append(("flushed", os.readlink(f"/proc/self/fd/{fd}")))

    def syncfs(fd):
        files = _on_disk(portal)
        done = real_syncfs(fd)
        events.append(("synced", files))
        return done

    def insert_rows(rows):
        ids = real_insert(rows)
        events.append(("committed", {r["sha256"] for r in rows}))
        return ids

    intake.recorder._insert_rows = insert_rows
    # (the recorder's thread flushes: monkeypatch would race its teardown)
    os.fsync = fsync
    if real_syncfs is not None:
        collect.SYNCFS = syncfs
    try:
        yield
    finally:
        intake.close()
        os.fsync = real_fsync
        collect.SYNCFS = real_syncfs


def _durable_at(events: list[tuple], path: str) -> int:
    """Where in ``events`` the file at ``path`` was made durable (flushed, or there at a
    syncfs)."""
    return next(
        i
        for i, e in enumerate(events)
        if e == ("flushed", path) or (e[0] == "synced" and path in e[1])
    )


def test_uploads_are_answered_only_once_their_originals_and_records_are_durable(portal, flushing):
    """Originals are made durable and named in batches, records committed in batches: still,
    each upload is answered only after its bytes, then the folder entry naming them, then its
    record are on disk, in that order (a name is never made before its bytes are durable)."""
    events: list[tuple] = []
    intake = receiving.Intake(portal, jobs=0)
    unit = portal.units()[0]

    async def one(i: int) -> tuple[str, str]:
        staged = collect.stage(portal, [f"upload number {i}".encode()], 1000)
        _, sha, _ = await intake.receive(unit, staged, f"{i}.xlsx", received_ns=time.time_ns())
        events.append(("answered", sha))
        return sha, str(staged.path.resolve())

    async def at_once() -> list[tuple[str, str]]:
        return await asyncio.gather(*(one(i) for i in range(12)))

    with watching(intake, events):
        uploads = asyncio.run(at_once())
    synced = [e for e in events if e[0] == "synced"]
    assert bool(synced) == (flushing == "syncfs")
    if flushing == "syncfs":  # a batch costs two, not two per upload
        assert len(synced) < 12
    for sha, staged in uploads:
        final = str(portal.blob_path(sha).resolve())
        file_at = _durable_at(events, staged)
        if flushing == "syncfs":
            assert final not in events[file_at][1]  # not yet named when its bytes went
            name_at = _durable_at(events, final)
        else:
            name_at = events.index(("flushed", str(Path(final).parent)), file_at)
        committed_at = next(i for i, e in enumerate(events) if e[0] == "committed" and sha in e[1])
        assert file_at < name_at < committed_at < events.index(("answered", sha))
        assert portal.blob_path(sha).read_bytes().startswith(b"upload number")
    assert not list((portal.folder / "tmp").iterdir())  # staged names removed


def test_bytes_already_kept_cost_no_file_and_their_original_is_never_removed(portal, flushing):
    """The same bytes sent again are read from the original kept under their digest: nothing
    is written into tmp/ for them, the original is never removed (not even when the upload
    fails), and a process that has not itself flushed that original's folder flushes it before
    the upload's record is committed."""
    unit = portal.units()[0]
    data = b"the same bytes, sent twice"
    first = collect.stage(portal, [data], 1000)
    assert not first.stored and first.path.parent == portal.folder / "tmp"
    intake = receiving.Intake(portal, jobs=0)
    try:
        asyncio.run(intake.receive(unit, first, "a.xlsx", received_ns=time.time_ns()))
    finally:
        intake.close()
    blob = portal.blob_path(first.sha256)
    assert blob.read_bytes() == data and list((portal.folder / "tmp").iterdir()) == []

    # Another process (a portal of its own: it has flushed nothing yet).
    other = Portal(portal.folder)
    events: list[tuple] = []
    intake = receiving.Intake(other, jobs=0)
    again = collect.stage(other, [data[:5], data[5:]], 1000)
    assert again.stored and again.path == blob and again.tmp is None
    assert list((portal.folder / "tmp").iterdir()) == []  # nothing of its own
    sha = {first.sha256}
    with watching(intake, events):
        asyncio.run(intake.receive(unit, again, "b.xlsx", received_ns=time.time_ns()))
        folder = str(blob.resolve().parent)
        parent = str(blob.resolve().parent.parent)  # (new to this process too)
        if flushing == "syncfs":  # one syncfs for its name (its bytes were on disk)
            assert [e[0] for e in events] == ["synced", "committed"]
            assert str(blob.resolve()) in events[0][1] and events[1] == ("committed", sha)
        else:
            assert events == [("flushed", parent), ("flushed", folder), ("committed", sha)]
        # Once flushed by this process, the next one needs no flush at all.
        events.clear()
        third = collect.stage(other, [data], 1000)
        asyncio.run(intake.receive(unit, third, "c.xlsx", received_ns=time.time_ns()))
        assert events == [("committed", sha)]

        # An upload of kept bytes that fails (its check breaks) leaves the original alone.
        async def broken(path, seen):
            raise RuntimeError("the check broke")

        intake.checker.check = broken
        fourth = collect.stage(other, [data], 1000)
        with pytest.raises(RuntimeError):
            asyncio.run(intake.receive(unit, fourth, "d.xlsx", received_ns=time.time_ns()))
    other.close()
    assert blob.read_bytes() == data
    with portal.engine.connect() as conn:
        names = conn.execute(select(db.uploads.c.filename, db.uploads.c.sha256)).all()
    assert sorted(names) == [(n, first.sha256) for n in ("a.xlsx", "b.xlsx", "c.xlsx")]


def test_a_large_upload_or_one_past_the_memory_budget_goes_to_tmp_as_it_streams(
    portal, monkeypatch
):
    big = collect.Stager(portal, 10 * collect.MEMORY_BYTES)
    big.write(b"x" * collect.MEMORY_BYTES)
    assert big.path is None  # small so far: held in memory
    big.write(b"y" * 1000)
    assert big.path is not None and big.path.stat().st_size >= collect.MEMORY_BYTES
    staged = big.done()
    assert (
        not staged.stored and staged.path.read_bytes() == b"x" * collect.MEMORY_BYTES + b"y" * 1000
    )
    staged.path.unlink()
    # All uploads being received together hold at most the budget in memory.
    monkeypatch.setattr(collect, "MEMORY_BUDGET", 3000)
    held_before = collect.Stager.held
    one, two = collect.Stager(portal, 10_000), collect.Stager(portal, 10_000)
    one.write(b"a" * 2000)
    two.write(b"b" * 2000)
    assert one.path is None and two.path is not None
    one.discard()
    two.discard()
    assert collect.Stager.held == held_before and list((portal.folder / "tmp").iterdir()) == []


def test_a_commit_waits_for_the_records_of_uploads_still_being_checked_and_only_for_them(portal):
    """Uploads whose checks end one after another are committed in groups (a commit waits a
    little for the records of uploads still on their way), while an upload alone is never held
    back for others."""
    unit = portal.units()[0]
    intake = receiving.Intake(portal, jobs=0)
    intake.recorder.commit_wait = 30.0  # (a bound no test run reaches: only the count ends it)
    real_check = intake.checker.check

    async def staggered(path, seen):  # checks that end 20 ms apart, as a burst's do
        checked = await real_check(path, seen)
        await asyncio.sleep(0.02 * int(path.read_bytes().split(b" ")[-1]))
        return checked

    async def one(i: int):
        staged = collect.stage(portal, [f"upload number {i}".encode()], 1000)
        return await intake.receive(unit, staged, f"{i}.xlsx", received_ns=time.time_ns())

    async def together():
        return await asyncio.gather(*(one(i) for i in range(8)))

    try:
        start = time.monotonic()
        asyncio.run(one(100))  # alone: answered at once, nothing waited for
        alone = time.monotonic() - start
        assert alone < 15 and intake.recorder.batches == [1]
        intake.checker.check = staggered
        answers = asyncio.run(together())
    finally:
        intake.close()
    assert len({upload_id for upload_id, _, _ in answers}) == 8
    assert intake.recorder.batches == [1, 8]  # the eight records in one commit
    assert intake.recorder.pending == 0
