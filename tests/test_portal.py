"""wbtools portal: set-up, a unit's page, uploads and verdicts, the office's pages, the API, and
the security basics, through the real application (Starlette's test client) on a real database
(SQLite here; the same flow on PostgreSQL in test_portal_live.py)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import sqlite3
import time
import zipfile

import openpyxl
import pytest
from starlette.testclient import TestClient

from workbook_tools import annotate, check, template
from workbook_tools.portal import collect, store
from workbook_tools.portal.store import Portal
from workbook_tools.portal.web import Config, create_app

from . import workbooks as wb
from .conftest import run
from .portal_support import ROSTER_CSV, SECRET, UNITS, YEAR, make_portal, workbook


@pytest.fixture()
def portal(tmp_path):
    p = make_portal(tmp_path / "portal")
    yield p
    p.close()


@pytest.fixture()
def client(portal):
    # Checked inside the server here (quick to start); the worker processes that `serve` uses
    # by default are tested below and in test_portal_live.py.
    with TestClient(create_app(portal, Config(max_bytes=2 * 1024 * 1024, workers=0))) as c:
        yield c


def link(portal: Portal, i: int = 0) -> str:
    return "/" + portal.links("")[i]["url"].split("/", 1)[1]


def upload(client, url: str, data: bytes, name: str = "报表.xlsx", json_api=True, **kw):
    headers = {"accept": "application/json"} if json_api else {}
    return client.post(url, files={"file": (name, data)}, headers=headers, **kw)


def office(client) -> str:
    """Sign in; returns the CSRF token of the session."""
    page = client.get("/office/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = client.post("/office/login", data={"csrf": token, "secret": SECRET})
    assert answer.status_code == 200  # followed the redirect to /office
    return re.search(r'name="csrf" value="([^"]+)"', answer.text).group(1)


# --- set-up (CLI) -------------------------------------------------------------------------------


def test_init_links_and_secret(tmp_path, monkeypatch):
    roster = tmp_path / "units.csv"
    roster.write_text(ROSTER_CSV, encoding="utf-8")
    folder = tmp_path / "round"
    monkeypatch.delenv("WBTOOLS_PORTAL_SECRET", raising=False)
    result = run("portal", "init", folder, "--roster", roster, "--year", YEAR, "--name", "青禾县",
                 "--base-url", "http://portal.county.local:8000/")  # fmt: skip
    assert result.exit_code == 0, result.output
    secret = result.output.splitlines()[2].strip()
    assert len(secret) >= 22  # 144 random bits, printed once
    linked = run("portal", "links", folder, "--format", "json")
    entries = json.loads(linked.output)
    assert [(e["unit"], e["code"]) for e in entries] == [(u.name, u.code) for u in UNITS]
    tokens = [e["url"].rsplit("/", 1)[1] for e in entries]
    assert all(e["url"].startswith("http://portal.county.local:8000/u/") for e in entries)
    assert all(len(t) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens)
    assert len(set(tokens)) == 3
    # Neither the tokens nor the secret are in the database (only their hashes are).
    raw = b"".join(p.read_bytes() for p in folder.glob("portal.db*"))
    assert not any(t.encode() in raw for t in tokens) and secret.encode() not in raw
    text = run("portal", "links", folder)
    assert text.output.splitlines()[0] == f"徐营镇\t101\t{entries[0]['url']}"
    # Links are stable, and the secret is not printed again.
    assert json.loads(run("portal", "links", folder, "--format", "json").output) == entries
    assert secret not in text.output
    portal = Portal(folder)
    assert portal.check_secret(secret) and not portal.check_secret(secret + "x")
    portal.close()
    # A second init into the same folder is refused; links of a non-portal folder too.
    again = run("portal", "init", folder, "--roster", roster, "--year", YEAR, "--name", "x")
    assert again.exit_code == 2 and "[P101]" in again.output
    missing = run("portal", "links", tmp_path / "nothing", "--lang", "en")
    assert missing.exit_code == 2 and "[P102]" in missing.output


def test_init_takes_the_secret_from_the_environment(tmp_path, monkeypatch):
    roster = tmp_path / "units.csv"
    roster.write_text(ROSTER_CSV, encoding="utf-8")
    monkeypatch.setenv("WBTOOLS_PORTAL_SECRET", "from-the-environment")
    result = run("portal", "init", tmp_path / "p", "-r", roster, "-y", YEAR, "--name", "青禾县")
    assert result.exit_code == 0 and "from-the-environment" not in result.output
    portal = Portal(tmp_path / "p")
    assert portal.check_secret("from-the-environment")
    portal.close()


def test_init_refuses_a_bad_roster_and_writes_nothing(tmp_path):
    roster = tmp_path / "units.csv"
    roster.write_text("单位名称\n徐营镇\n徐营镇\n", encoding="utf-8")
    result = run("portal", "init", tmp_path / "p", "-r", roster, "-y", YEAR, "--name", "青禾县")
    assert result.exit_code == 2 and "[U104]" in result.output
    assert not (tmp_path / "p").exists()


def test_unreachable_database_is_a_coded_finding(tmp_path):
    roster = tmp_path / "units.csv"
    roster.write_text(ROSTER_CSV, encoding="utf-8")
    result = run("portal", "init", tmp_path / "p", "-r", roster, "-y", YEAR, "--name", "青禾县",
                 "--db", "postgresql://nobody:x@127.0.0.1:1/none")  # fmt: skip
    assert result.exit_code == 2 and "[P103]" in result.output
    assert not (tmp_path / "p" / "portal.json").exists()


# --- a unit's page ------------------------------------------------------------------------------


def test_unit_page_and_template(client, portal, spec21):
    page = client.get(link(portal))
    assert page.status_code == 200
    assert "徐营镇" in page.text and "2024年度" in page.text
    assert 'name="file"' in page.text and 'enctype="multipart/form-data"' in page.text
    assert "城关镇" not in page.text  # a unit sees only its own page
    got = client.get(link(portal) + "/template")
    assert got.status_code == 200
    assert got.content == template.render(spec21, UNITS[0], YEAR)  # as `wbtools template` makes it
    assert "101_%E5%BE%90%E8%90%A5%E9%95%87_2024.xlsx" in got.headers["content-disposition"]


def test_wrong_or_old_links_are_404_and_say_nothing(client, portal):
    wrong = client.get("/u/" + "A" * 43)
    nowhere = client.get("/no/such/page")
    assert wrong.status_code == nowhere.status_code == 404
    assert wrong.text == nowhere.text  # the same page whatever was asked
    old = link(portal)
    assert client.get(old).status_code == 200  # the server now knows this link
    portal.renew_link(portal.units()[0].id)
    assert client.get(old).status_code == 404
    assert upload(client, old, b"x").status_code == 404
    assert client.get(link(portal)).status_code == 200


def test_requests_arriving_together_after_a_quiet_spell_read_the_links_once(portal):
    """Once the remembered links are too old, the requests arriving together (a round's units
    uploading at once after a quiet spell) wait for one read of the units, not one each (each
    read is of every unit: a burst of n would cost n reads of n rows)."""
    import asyncio

    import httpx2 as httpx
    from sqlalchemy import event

    reads = []

    def slow_link_read(conn, cursor, statement, parameters, context, executemany):
        if "FROM units" in statement and "ORDER BY" not in statement:  # the link table
            reads.append(statement)
            time.sleep(0.05)  # a database under load: the requests overlap the read

    event.listen(portal.engine, "before_cursor_execute", slow_link_read)
    app = create_app(portal, Config(workers=0))
    urls = [link(portal, i % 3) for i in range(12)] + ["/u/" + "A" * 43]

    async def together() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            answers = await asyncio.gather(*(c.get(u) for u in urls))
        return [a.status_code for a in answers]

    assert asyncio.run(together()) == [200] * 12 + [404]
    assert len(reads) == 1
    portal._links = None  # too old again (as after LINK_CACHE_S)
    assert asyncio.run(together()) == [200] * 12 + [404]
    assert len(reads) == 2
    event.remove(portal.engine, "before_cursor_execute", slow_link_read)


def test_links_changed_by_another_process_stop_working_within_the_bound(
    client, portal, monkeypatch
):
    monkeypatch.setattr(store, "LINK_CACHE_S", 0.3)
    old = link(portal)
    assert client.get(old).status_code == 200
    other = Portal(portal.folder)  # another server process sharing the database
    other.renew_link(other.units()[0].id)
    other.close()
    time.sleep(0.4)
    assert client.get(old).status_code == 404
    assert client.get(link(portal)).status_code == 200


# --- uploads and verdicts -----------------------------------------------------------------------


def test_upload_json_is_the_check_json_plus_id_and_sha(client, portal, spec21, tmp_path):
    data = workbook(spec21, mistake=True)
    answer = upload(client, link(portal), data, name="徐营镇 报表.xlsx")
    assert answer.status_code == 200
    got = answer.json()
    assert got["sha256"] == hashlib.sha256(data).hexdigest() and got["upload_id"] == 1
    # The same file through `wbtools check --format json`.
    path = tmp_path / "徐营镇 报表.xlsx"
    path.write_bytes(data)
    cli = json.loads(run("check", path, "--format", "json").output)
    for doc in (got, cli):
        doc["files"][0].pop("path")
        for f in doc["files"][0]["findings"]:
            f.pop("file")
    assert got["files"] == cli["files"] and got["summary"] == cli["summary"]
    assert got["exit_code"] == cli["exit_code"] == 1
    assert [f["code"] for f in got["files"][0]["findings"]] == ["R1"]
    # The original is kept byte for byte under its digest.
    stored = portal.blob_path(got["sha256"])
    assert stored.read_bytes() == data and stored.name == got["sha256"]


def test_form_upload_without_javascript_shows_the_verdict(client, portal, spec21):
    page = client.get(link(portal))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    data = workbook(spec21, mistake=True)
    answer = client.post(
        link(portal), files={"file": ("a.xlsx", data)}, data={"csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303
    verdict = client.get(answer.headers["location"])
    report = check.check_file(_tmp_copy(portal, data), spec21)
    finding = report.findings[0]
    assert finding.code == "R1"
    assert f"{finding.sheet}!{finding.cell}" in verdict.text  # the cell, as check gives it
    assert _escape(finding.message("zh", spec21)) in verdict.text  # and the fix
    assert "未通过校验" in verdict.text
    feedback = client.get(answer.headers["location"] + "/feedback")
    assert feedback.status_code == 200
    report.path = "a.xlsx"
    assert feedback.content == annotate.render(report, spec21, "zh")  # as check --annotate
    book = openpyxl.load_workbook(io.BytesIO(feedback.content))
    assert any("R1" in str(c.value) for ws in book for row in ws.iter_rows() for c in row)
    original = client.get(answer.headers["location"] + "/original")
    assert original.content == data
    # A form post without the page's CSRF token is refused.
    refused = client.post(link(portal), files={"file": ("a.xlsx", data)})
    assert refused.status_code == 403


def _tmp_copy(portal, data):
    path = portal.folder / "tmp" / "copy.xlsx"
    path.write_bytes(data)
    return path


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    )


def test_a_unit_sees_only_its_own_uploads(client, portal, spec21):
    mine = upload(client, link(portal, 0), workbook(spec21)).json()["upload_id"]
    other = link(portal, 1)
    for suffix in ("", "/feedback", "/original"):
        assert client.get(f"{other}/uploads/{mine}{suffix}").status_code == 404
        assert client.get(f"{link(portal, 0)}/uploads/{mine}{suffix}").status_code == 200
    assert "徐营镇" not in client.get(other).text


def test_history_keeps_every_upload_and_the_newest_counts(client, portal, spec21):
    bad, good = workbook(spec21, mistake=True), workbook(spec21)
    first = upload(client, link(portal), bad).json()
    second = upload(client, link(portal), good).json()
    third = upload(client, link(portal), good).json()  # the same bytes again
    assert first["files"][0]["status"] == "errors" and second["files"][0]["status"] == "passed"
    uploads = collect.history(portal, portal.units()[0].id)
    assert [u.id for u in uploads] == [third["upload_id"], second["upload_id"], first["upload_id"]]
    state = collect.states(portal)[0]
    assert state.status == "passed" and state.uploads == 3
    blobs = sorted(p.name for p in (portal.folder / "blobs").rglob("*") if p.is_file())
    assert blobs == sorted({first["sha256"], second["sha256"]})
    page = client.get(link(portal)).text
    assert page.count('class="badge badge-') >= 4  # the verdict and three history rows


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "F109"),
        (b"just some text, not a workbook", "F102"),
        (b"PK\x03\x04 truncated zip", "F103"),
    ],
)
def test_bad_files_get_the_check_finding_and_the_portal_keeps_running(client, portal, data, code):
    answer = upload(client, link(portal), data, name="x.xlsx")
    assert answer.status_code == 200
    doc = answer.json()
    assert [f["code"] for f in doc["files"][0]["findings"]] == [code]
    assert doc["files"][0]["status"] == "unreadable"
    assert collect.states(portal)[0].status == "failing"
    assert client.get(link(portal)).status_code == 200


def test_word_file_renamed_and_a_zip_bomb(client, portal, tmp_path):
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    assert _codes(upload(client, link(portal), docx.getvalue())) == ["F105"]
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    assert _codes(upload(client, link(portal), bomb.getvalue())) == ["F106"]


def _codes(answer) -> list[str]:
    return [f["code"] for f in answer.json()["files"][0]["findings"]]


def test_size_limit_is_enforced_while_streaming(client, portal):
    big = b"PK\x03\x04" + b"\0" * (3 * 1024 * 1024)

    def chunks():
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    # No Content-Length (chunked): the limit still holds, counted as the body streams in.
    answer = client.post(
        link(portal),
        content=chunks(),
        headers={
            "accept": "application/json",
            "content-type": "multipart/form-data; boundary=b0undary",
        },
    )
    assert answer.status_code == 413
    assert _codes(answer) == ["F106"] and answer.json()["upload_id"] is None
    declared = upload(client, link(portal), big)
    assert declared.status_code == 413 and _codes(declared) == ["F106"]
    page = client.post(link(portal), files={"file": ("big.xlsx", big)})
    assert page.status_code == 413 and "F106" in page.text
    assert not any((portal.folder / "blobs").rglob("*.*"))
    assert list((portal.folder / "tmp").iterdir()) == []
    assert collect.states(portal)[0].uploads == 0


def test_upload_forms_that_are_not_whole_are_refused_and_leave_nothing(client, portal, spec21):
    data = workbook(spec21)
    head = b'--b0\r\nContent-Disposition: form-data; name="file"; filename="a.xlsx"\r\n\r\n'
    bodies = {
        "cut off in the file": head + data[:5000],
        "no closing boundary": head + data + b"\r\n--b",
        "two files": head + data + b"\r\n" + head + data + b"\r\n--b0--\r\n",
        "a file in another field": head.replace(b'name="file"', b'name="f"')
        + data
        + b"\r\n--b0--\r\n",
        "a field too long": b'--b0\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
        + b"x" * 20000
        + b"\r\n"
        + head
        + data
        + b"\r\n--b0--\r\n",
        "no boundary": head + data + b"\r\n--b0--\r\n",
    }
    for what, body in bodies.items():
        answer = client.post(
            link(portal),
            content=body,
            headers={
                "accept": "application/json",
                "content-type": "multipart/form-data"
                + ("" if what == "no boundary" else "; boundary=b0"),
            },
        )
        assert answer.status_code == 400 and _codes(answer) == ["P106"], what
    assert list((portal.folder / "tmp").iterdir()) == []
    assert not (portal.folder / "blobs").exists() or not any((portal.folder / "blobs").rglob("*"))
    assert collect.states(portal)[0].uploads == 0
    # The same file in a whole form is taken, its bytes stored as sent.
    whole = client.post(
        link(portal),
        content=head + data + b"\r\n--b0--\r\n",
        headers={"accept": "application/json", "content-type": "multipart/form-data; boundary=b0"},
    )
    assert whole.status_code == 200
    assert whole.json()["sha256"] == hashlib.sha256(data).hexdigest()
    deadline = time.monotonic() + 10  # the staged name goes right after the answer
    while list((portal.folder / "tmp").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list((portal.folder / "tmp").iterdir()) == []


def test_a_new_blob_folder_is_flushed_into_its_parent(portal, monkeypatch, flushing):
    """The original, the folder it is linked in, and (when that folder is new) blobs/ itself are
    flushed before the upload is recorded: a power cut cannot take a folder of originals. With
    syncfs: one for the bytes (before they have their name), one for the name and folders."""
    flushed: list[str] = []
    synced: list[frozenset[str]] = []
    real, real_syncfs = os.fsync, collect.SYNCFS

    def fsync(fd):
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    def syncfs(fd):
        synced.append(
            frozenset(
                str(p.resolve())
                for p in portal.folder.rglob("*")
                if not p.name.startswith("portal.db")
            )
        )
        return real_syncfs(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    if flushing == "syncfs":
        monkeypatch.setattr(collect, "SYNCFS", syncfs)
    sha, _ = collect.store_original(portal, [b"first bytes"], 100)
    blob = portal.blob_path(sha).resolve()
    if flushing == "syncfs":
        assert flushed == [] and len(synced) == 2
        assert str(blob) not in synced[0] and str(blob.parent) not in synced[0]
        assert any(p.endswith(".part") for p in synced[0])  # the bytes, not yet named
        assert {str(blob), str(blob.parent)} <= synced[1]
    else:
        assert str(blob.parent) in flushed and str(blob.parent.parent) in flushed
        assert flushed.index(str(blob.parent.parent)) < flushed.index(str(blob.parent))
    flushed.clear()
    synced.clear()
    sha2, _ = collect.store_original(portal, [b"first bytes", b"!"], 100)
    if flushing == "syncfs":
        assert len(synced) == 2 and str(portal.blob_path(sha2).resolve()) in synced[1]
    else:
        assert str(portal.blob_path(sha2).resolve().parent) in flushed


def test_other_unit_other_year_no_file(client, portal, spec21):
    other = workbook(spec21, unit=UNITS[1])
    assert _codes(upload(client, link(portal), other)) == ["P104"]
    last_year = workbook(spec21, year=YEAR - 1)
    assert _codes(upload(client, link(portal), last_year)) == ["P105"]
    none = client.post(link(portal), data={"x": "1"}, headers={"accept": "application/json"})
    assert none.status_code == 400 and _codes(none) == ["P106"]


def test_uploaded_names_never_become_paths(client, portal, spec21, tmp_path):
    data = workbook(spec21)
    answer = upload(client, link(portal), data, name="../../../../tmp/evil.xlsx").json()
    up = collect.upload(portal, answer["upload_id"])
    assert up.filename == "evil.xlsx"
    assert collect.display_name("..\\..\\a\x00\x1b[31m.xlsx") == "a[31m.xlsx"
    files = [p for p in portal.folder.rglob("*") if p.is_file()]
    assert {p.name for p in files if "blobs" in p.parts} == {answer["sha256"]}
    assert not (tmp_path / "evil.xlsx").exists() and not any(
        "evil" in p.name for p in portal.folder.parent.rglob("*")
    )


def test_old_template_version_is_shown_with_the_current_one(client, portal, spec21):
    from . import workbooks as wb

    data = wb.set_meta(workbook(spec21), "format_version", "2019")
    answer = upload(client, link(portal), data)
    assert "T103" in _codes(answer)
    page = client.get(link(portal)).text
    assert "您上传的模板版本：2019；当前版本：2021。" in page
    assert "您使用的不是最新模板" in page and "/template" in page


# --- the office ---------------------------------------------------------------------------------


def test_office_needs_the_secret(client):
    assert client.get("/office", follow_redirects=False).status_code == 303
    page = client.get("/office/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    wrong = client.post("/office/login", data={"csrf": token, "secret": "guess"})
    assert wrong.status_code == 401
    no_csrf = client.post("/office/login", data={"csrf": "x", "secret": SECRET})
    assert no_csrf.status_code == 403
    answer = client.post(
        "/office/login", data={"csrf": token, "secret": SECRET}, follow_redirects=False
    )
    cookie = answer.headers["set-cookie"]
    assert "wbtools_office=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    for path in ("/office", "/office/status.csv", "/office/county.xlsx", "/office/roster"):
        assert client.get(path, follow_redirects=False).status_code == 200, path


def test_office_sees_statuses_reviews_and_filters(client, portal, spec21):
    upload(client, link(portal, 0), workbook(spec21))
    upload(client, link(portal, 1), workbook(spec21, unit=UNITS[1], mistake=True))
    csrf = office(client)
    page = client.get("/office").text
    rows = re.findall(r'<tr data-status="(\w+)">', page)
    assert rows == ["passed", "failing", "missing"]
    assert "已报送通过" in page and "未通过校验" in page and "未报送" in page
    # every form of the office carries the CSRF token
    assert page.count('name="csrf"') == page.count('<form method="post"')
    failing = client.get("/office?status=failing").text
    assert re.findall(r'<tr data-status="(\w+)">', failing) == ["failing"]
    assert "城关镇" in client.get("/office?q=102").text
    # Any unit's findings and files.
    unit_id = portal.units()[1].id
    detail = client.get(f"/office/units/{unit_id}").text
    assert "R1" in detail and "/u/" in detail
    newest = collect.newest(portal, unit_id)
    assert client.get(f"/office/uploads/{newest.id}/feedback").status_code == 200
    # Review: return the passed upload of 徐营镇 with a reason the unit sees.
    first = portal.units()[0].id
    up = collect.newest(portal, first)
    assert (
        client.post(
            f"/office/units/{first}/review",
            data={"upload_id": up.id, "state": "returned", "reason": "第五部分请写具体"},
        ).status_code
        == 403
    )  # fmt: skip  (no CSRF token)
    done = client.post(
        f"/office/units/{first}/review",
        data={"csrf": csrf, "upload_id": up.id, "state": "returned", "reason": "第五部分请写具体"},
    )
    assert done.status_code == 200
    unit_page = client.get(link(portal, 0)).text
    assert "主管部门退回修改：第五部分请写具体" in unit_page
    assert collect.states(portal)[0].status == "returned"
    # Approving a failing upload is refused.
    bad = collect.newest(portal, unit_id)
    refused = client.post(
        f"/office/units/{unit_id}/review",
        data={"csrf": csrf, "upload_id": bad.id, "state": "approved"},
    )
    assert refused.status_code == 409
    # A new upload after the review counts again.
    upload(client, link(portal, 0), workbook(spec21))
    assert collect.states(portal)[0].status == "passed"
    done = client.post(
        f"/office/units/{first}/review",
        data={"csrf": csrf, "upload_id": collect.newest(portal, first).id, "state": "approved"},
    )
    assert collect.states(portal)[0].status == "approved"


def test_status_exports_neutralise_formulas(client, portal, spec21):
    from workbook_tools.roster import Unit

    portal.replace_roster([*UNITS, Unit('=HYPERLINK("http://x","a")', "+301", "")])
    office(client)
    data = client.get("/office/status.csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data)))
    assert rows[0][:4] == ["序号", "单位名称", "单位代码", "状态"]
    assert rows[4][1] == '\'=HYPERLINK("http://x","a")' and rows[4][2] == "'+301"
    assert [r[3] for r in rows[1:]] == ["未报送"] * 4
    xlsx = client.get("/office/status.xlsx?lang=en").content
    ws = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    assert ws["B5"].value == '=HYPERLINK("http://x","a")' and ws["B5"].data_type == "s"
    assert ws["D2"].value == "not returned"


def test_county_workbook_and_report_from_the_newest_uploads(client, portal, spec21, tmp_path):
    upload(client, link(portal, 0), workbook(spec21, mistake=True))
    upload(client, link(portal, 0), workbook(spec21))  # newest counts
    upload(client, link(portal, 1), workbook(spec21, unit=UNITS[1]))
    office(client)
    got = client.get("/office/county.xlsx")
    assert got.status_code == 200
    county = tmp_path / "county.xlsx"
    county.write_bytes(got.content)
    filing = check.check_file(county, spec21).filing
    assert filing.readable and filing.unit == "青禾县"
    base = spec21.compute(wb.base_values(spec21))
    for dp in ("t3.new.natural", "t2.licensing.decisions", "t3.total.total"):
        assert filing.values[dp] == 2 * base[dp], dp
    status = openpyxl.load_workbook(county, read_only=True)["报送情况"]
    texts = [str(c.value) for row in status.iter_rows() for c in row if c.value]
    assert "县教育局" in texts and "未报送" in texts
    report = client.get("/office/county.docx")
    assert report.status_code == 200
    import docx

    document = docx.Document(io.BytesIO(report.content))
    assert "青禾县2024年政府信息公开工作年度报告" in document.paragraphs[0].text


def test_roster_replacement(client, portal, spec21):
    csrf = office(client)
    keep = link(portal, 0)
    dropped = link(portal, 2)
    new_roster = "单位名称,单位代码\n徐营镇,101\n城关镇,102\n新华街道,301\n"
    assert client.get(dropped).status_code == 200  # the server now knows this link
    answer = client.post(
        "/office/roster",
        data={"csrf": csrf},
        files={"roster": ("名册.csv", new_roster.encode("utf-8"))},
    )
    assert answer.status_code == 200 and "保留 2 个，新增 1 个，停用 1 个" in answer.text
    assert client.get(keep).status_code == 200
    assert client.get(dropped).status_code == 404
    assert [u.name for u in portal.units()] == ["徐营镇", "城关镇", "新华街道"]
    bad = client.post(
        "/office/roster",
        data={"csrf": csrf},
        files={"roster": ("名册.csv", "单位名称\n甲\n甲\n".encode())},
    )
    assert bad.status_code == 400 and "U104" not in bad.text and "甲" in bad.text
    assert len(portal.units()) == 3  # nothing changed


# --- API ----------------------------------------------------------------------------------------


def test_api_status(client, portal, spec21):
    assert client.get("/api/status").status_code == 401
    wrong = client.get("/api/status", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    upload(client, link(portal, 0), workbook(spec21))
    upload(client, link(portal, 1), b"")
    doc = client.get("/api/status", headers={"authorization": f"Bearer {SECRET}"}).json()
    assert [(u["unit"], u["code"], u["status"]) for u in doc["units"]] == [
        ("徐营镇", "101", "passed"),
        ("城关镇", "102", "failing"),
        ("县教育局", "201", "missing"),
    ]
    assert doc["summary"]["passed"] == 1 and doc["units"][2]["latest_upload"] is None
    assert (
        doc["units"][0]["latest_upload"]["sha256"] == hashlib.sha256(workbook(spec21)).hexdigest()
    )


# --- language and headers -----------------------------------------------------------------------


def test_chinese_by_default_english_on_request(client, portal):
    assert "第一步" in client.get(link(portal)).text
    assert "Step 1" in client.get(link(portal) + "?lang=en").text
    browser_en = client.get(link(portal), headers={"accept-language": "en-US,en;q=0.9"})
    assert "Step 1" in browser_en.text
    browser_zh = client.get(link(portal), headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "第一步" in browser_zh.text


def test_security_headers_everywhere_and_no_outside_assets(client, portal):
    for path in (
        link(portal),
        "/static/portal.css",
        "/static/portal.js",
        "/nowhere",
        "/api/status",
    ):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
    page = client.get(link(portal)).text
    assert not re.search(r"<script>|\son\w+=|style=", page)  # no inline script or style
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from outside


def test_static_files_ship_in_the_package():
    from importlib import resources

    folder = resources.files("workbook_tools.portal")
    for name in ("static/portal.css", "static/portal.js", "templates/unit.html"):
        assert folder.joinpath(name).is_file(), name


def test_sqlite_is_in_wal_mode(portal):
    conn = sqlite3.connect(portal.folder / "portal.db")
    assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_readme_documents_the_portal():
    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for words in ("wbtools portal init", "wbtools portal links", "wbtools portal serve",
                  "GET /api/status", "Authorization: Bearer", "Accept: application/json",
                  "`missing`", "`failing`", "`passed`", "`approved`", "`returned`"):  # fmt: skip
        assert readme.count(words) >= 2, words  # in the Chinese and the English half
