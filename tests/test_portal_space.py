"""The portal with its disk (or its database) full: an upload is refused with P110 and a clear
word, nothing half-kept, instead of a server error; and uploads are refused before the disk is
full, while the office still has room for the database and its exports."""

from __future__ import annotations

import errno
import shutil

import pytest
from sqlalchemy import event, text
from starlette.testclient import TestClient

from workbook_tools.portal import collect
from workbook_tools.portal.web import Config, create_app

from .portal_support import make_portal, workbook

ACCEPT_JSON = {"accept": "application/json"}


@pytest.fixture()
def portal(tmp_path):
    p = make_portal(tmp_path / "portal")
    yield p
    p.close()


def _link(portal) -> str:
    return "/" + portal.links("")[0]["url"].split("/", 1)[1]


def _post(client, portal, data: bytes, json_api: bool = True):
    headers = ACCEPT_JSON if json_api else {}
    if not json_api:  # the page's form carries its CSRF token
        page = client.get(_link(portal))
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        return client.post(
            _link(portal), files={"file": ("a.xlsx", data)}, data={"csrf": token}, headers=headers
        )
    return client.post(_link(portal), files={"file": ("a.xlsx", data)}, headers=headers)


def _codes(answer) -> list[str]:
    return [f["code"] for f in answer.json()["files"][0]["findings"]]


def _nothing_kept(portal) -> None:
    assert not any((portal.folder / "blobs").rglob("*.*"))
    assert not list((portal.folder / "tmp").glob("*"))
    assert collect.states(portal)[0].uploads == 0


def test_an_upload_is_refused_while_the_disk_is_short(portal, spec21):
    """Less free space than --min-free-mb (plus the largest upload): 507 and P110, nothing read
    or kept; with room, the same upload goes through."""
    free = shutil.disk_usage(portal.folder).free
    short = Config(workers=0, min_free_bytes=free + 10 * 1024**3)
    with TestClient(create_app(portal, short)) as client:
        answer = _post(client, portal, workbook(spec21))
        assert answer.status_code == 507 and _codes(answer) == ["P110"]
        assert "磁盘空间不足" in answer.json()["files"][0]["findings"][0]["message"]
        page = _post(client, portal, workbook(spec21), json_api=False)
        assert page.status_code == 507 and "P110" in page.text and "磁盘空间不足" in page.text
        _nothing_kept(portal)
    with TestClient(create_app(portal, Config(workers=0, min_free_bytes=0))) as client:
        answer = _post(client, portal, workbook(spec21))
        assert answer.status_code == 200 and collect.states(portal)[0].uploads == 1


def test_a_disk_filling_up_while_an_upload_arrives_gives_p110(portal, spec21, monkeypatch):
    """The disk fills while an upload is written to tmp/ (ENOSPC): 507 and P110, no half file;
    the next upload, with room again, is kept."""
    real = collect.Stager._write

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    data = workbook(spec21) + b"\0" * (collect.MEMORY_BYTES + 1)  # large: written as it comes
    with TestClient(create_app(portal, Config(workers=0))) as client:
        monkeypatch.setattr(collect.Stager, "_write", full)
        answer = _post(client, portal, data)
        assert answer.status_code == 507 and _codes(answer) == ["P110"]
        _nothing_kept(portal)
        monkeypatch.setattr(collect.Stager, "_write", real)
        assert _post(client, portal, workbook(spec21)).status_code == 200
        assert collect.states(portal)[0].uploads == 1


def test_a_full_database_gives_p110_and_no_record(portal, spec21):
    """SQLite cannot grow (a real SQLITE_FULL: the database's page count is capped): the upload
    is answered 507 with P110, not a server error; nothing is recorded and the portal goes on
    once there is room."""
    portal.engine.dispose()
    cap = {"pages": None}

    @event.listens_for(portal.engine, "connect")
    def capped(dbapi_connection, _record):
        if cap["pages"] is not None:
            dbapi_connection.execute(f"PRAGMA max_page_count = {cap['pages']}")

    with portal.engine.connect() as conn:
        cap["pages"] = conn.execute(text("PRAGMA page_count")).scalar()
    portal.engine.dispose()
    data = workbook(spec21, mistake=True)  # findings to record: rows fill pages quickly
    with TestClient(create_app(portal, Config(workers=0))) as client:
        answers = []
        while len(answers) < 200 and (not answers or answers[-1].status_code == 200):
            answers.append(_post(client, portal, data))
        answer = answers[-1]
        assert answer.status_code == 507 and _codes(answer) == ["P110"], answer.text[:500]
        kept = len(answers) - 1
        assert collect.states(portal)[0].uploads == kept  # the refused one has no record
        assert not list((portal.folder / "tmp").glob("*"))
    cap["pages"] = None
    portal.engine.dispose()
    with TestClient(create_app(portal, Config(workers=0))) as client:
        assert _post(client, portal, workbook(spec21)).status_code == 200
        assert collect.states(portal)[0].uploads == kept + 1


def test_the_office_sees_when_units_cannot_upload(portal):
    """While the disk is short, the office's status page says so (P110, free and needed space),
    in either language; with room, it says nothing."""
    from .test_portal import office

    free = shutil.disk_usage(portal.folder).free
    short = Config(workers=0, min_free_bytes=free + 10 * 1024**3)
    with TestClient(create_app(portal, short)) as client:
        office(client)
        page = client.get("/office")
        assert "disk-short" in page.text and "各单位现在无法上传" in page.text
        assert " MB" in page.text.split('id="disk-short"', 1)[1].split("</div>", 1)[0]
        assert "units cannot upload now" in client.get("/office?lang=en").text
    with TestClient(create_app(portal, Config(workers=0, min_free_bytes=0))) as client:
        office(client)
        assert "disk-short" not in client.get("/office").text
