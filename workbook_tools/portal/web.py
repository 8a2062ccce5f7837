"""The portal's web application (Starlette): server-rendered pages with plain forms, so every
page works without JavaScript; a small script of our own adds drag and drop and upload progress.

Routes:
    /u/{token}                      a unit's page; POST a multipart ``file`` to upload
    /u/{token}/template             the unit's template
    /u/{token}/uploads/{id}[/feedback|/original]
    /office, /office/login, /office/units/{id}, /office/roster, /office/links.csv,
    /office/status.csv, /office/status.xlsx, /office/county.xlsx, /office/county.docx
    /api/status                     every unit's status as JSON (Bearer secret)

Everything blocking (the database, checking, writing workbooks) runs in worker threads so one
slow upload does not hold the others. No value from a request becomes a file-system path: files
are found by ids and digests that the database gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import gc
import hmac
import io
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .. import annotate, roster, template
from ..findings import Failure, Finding
from . import collect, exports, guard, receiving
from .store import Portal, token_hash
from .words import WORDS, pick

JSON = "application/json"
OVERHEAD = 64 * 1024  # multipart headers and form fields around the file
SESSION_COOKIE = "wbtools_office"
LOGIN_COOKIE = "wbtools_login"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),  # unit links carry their token: never leak it
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
NAMES = frozenset(k for k, _ in HEADERS)


class SecurityHeaders:
    """Adds the security headers to every response (pages, files, API, errors)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if any(k.lower() in NAMES for k, _ in headers):  # a response's own wins
                    names = {k.lower() for k, _ in headers}
                    extra = [(k, v) for k, v in HEADERS if k not in names]
                else:
                    extra = HEADERS
                message = {**message, "headers": [*headers, *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTimeout(Exception):
    """A request's body did not arrive in time (``BodyDeadline``)."""

    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds


class BodyDeadline:
    """Bounds how long a request's body may take to arrive: all of it within ``seconds`` of the
    request's start, and never a gap of more than ``idle`` seconds between its pieces. Without
    it a client that sends a body very slowly, or stops sending (slowloris), holds its
    connection, a task and its staged bytes for as long as it likes, and enough of them use up
    the server's file descriptors. Past either bound, reading the body raises BodyTimeout (the
    upload form answers it with P109, any other form through the app's handler, 408); the
    answer closes the connection. Only the body is bounded: once it has ended, waiting for the
    client (to learn it hung up while a download streams) is not."""

    def __init__(self, app, seconds: float, idle: float):
        self.app = app
        self.seconds = seconds
        self.idle = min(idle, seconds)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # One timer per request, moved on as the body comes (not a timeout around each
        # receive: asyncio.timeout costs ~30 us a call, several calls an upload).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        state = _Body(loop.time())

        def watch() -> None:
            state.timer = None
            if state.ended:
                return
            due = min(deadline, state.last + self.idle)
            if loop.time() < due:
                state.timer = loop.call_at(due, watch)
                return
            state.expired = True
            if state.waiter is not None:  # waiting for the client: stop waiting
                state.waiter.cancel()

        async def bounded_receive():
            if state.ended:
                return await receive()
            if state.expired:
                raise BodyTimeout(self.seconds)
            state.waiter = waiter = asyncio.current_task()
            try:
                message = await receive()
            except asyncio.CancelledError:
                if state.expired and waiter.uncancel() == 0:  # ours, nobody else's
                    raise BodyTimeout(self.seconds) from None
                raise
            finally:
                state.waiter = None
            state.last = loop.time()
            if message["type"] != "http.request" or not message.get("more_body", False):
                state.ended = True
            return message

        state.timer = loop.call_at(min(deadline, state.last + self.idle), watch)
        try:
            await self.app(scope, bounded_receive, send)
        finally:
            state.ended = True
            if state.timer is not None:
                state.timer.cancel()


class _Body:
    """Where a request's body is (BodyDeadline)."""

    __slots__ = ("ended", "expired", "last", "timer", "waiter")

    def __init__(self, now: float):
        self.last = now  # when its last piece came
        self.ended = False
        self.expired = False
        self.timer: asyncio.TimerHandle | None = None
        self.waiter: asyncio.Task | None = None


@dataclass
class Config:
    max_bytes: int = collect.DEFAULT_MAX_BYTES
    # A request's body must arrive within this many seconds (20 MB in 300 s: ~70 KB/s, a slow
    # line), with no gap of more than body_idle between its pieces (BodyDeadline).
    body_seconds: float = 300.0
    body_idle: float = 60.0
    workers: int | None = None  # checking processes; None: one per core; 0: in the server
    # Uploads are refused (P110) while less than this, plus the largest upload, is free on the
    # data folder's disk: a full disk would stop the database, and every unit with it.
    min_free_bytes: int = collect.DEFAULT_MIN_FREE
    login_delay: float = 1.0  # seconds before answering a wrong secret
    sign_in: guard.Limits = guard.SIGN_IN  # failed sign-ins (form and API) before a lockout
    unit_links: guard.Limits = guard.UNIT_LINKS  # wrong unit links before a lockout
    # A server process of its own (``wbtools portal serve``): what is loaded at start is moved
    # out of the garbage collector's sight (gc.freeze), so its full passes no longer walk the
    # spec, templates and libraries again and again under load. Not for an app in a process
    # that makes many (tests): what is frozen is never collected.
    freeze_heap: bool = False


def _templates() -> Jinja2Templates:
    folder = resources.files("workbook_tools.portal").joinpath("templates")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=env)


def create_app(portal: Portal, config: Config | None = None) -> Starlette:
    config = config or Config()
    pages = _templates()
    static = str(resources.files("workbook_tools.portal").joinpath("static"))
    intake = receiving.Intake(portal, config.workers)
    secret_guard = guard.Throttle(config.sign_in)
    link_guard = guard.Throttle(config.unit_links)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        intake.start()
        if config.freeze_heap:
            portal.spec  # noqa: B018 (loaded now, with everything else kept for good)
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await run_in_threadpool(intake.close)  # answered uploads are all recorded by now

    # --- helpers -------------------------------------------------------------------------------

    def lang_of(request: Request) -> tuple[str, str]:
        lang, explicit = pick(
            request.query_params.get("lang"), request.headers.get("accept-language")
        )
        return lang, (f"?lang={lang}" if explicit else "")

    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        lang, lq = lang_of(request)
        other = "en" if lang == "zh" else "zh"
        root = request.scope.get("root_path", "")
        base = {
            "t": WORDS[lang],
            "lang": lang,
            "lq": lq,
            "root": root,
            "portal_name": portal.name,
            "portal_year": portal.year,
            "switch_url": f"{root}{request.url.path}?lang={other}",
            "csrf": "",
            "text": "",
            "tz_label": zone_label(lang),
        }
        return pages.TemplateResponse(request, name, {**base, **context}, status_code=status)

    def zone_label(lang: str) -> str:
        """What the times on a page are in: 北京时间 / China time, or the zone's name."""
        key = getattr(portal.zone, "key", str(portal.zone))
        if key in ("Asia/Shanghai", "PRC", "Asia/Chongqing", "Asia/Harbin"):
            return "北京时间" if lang == "zh" else "China time"
        return key

    def not_found(request: Request) -> Response:
        # The same page whatever was asked: nothing in it echoes the path.
        lang, _ = lang_of(request)
        other = "en" if lang == "zh" else "zh"
        return render(
            request,
            "message.html",
            404,
            heading_key="not_found",
            text_key="not_found_text",
            switch_url=f"{request.scope.get('root_path', '')}/?lang={other}",
        )

    def address(request: Request) -> str:
        return request.client.host if request.client else ""

    def locked_text(request: Request, seconds: int) -> str:
        lang, _ = lang_of(request)
        return Finding("P108", {"minutes": max(1, -(-seconds // 60))}).message(lang)

    reading: list = [None]  # the read of the link table in flight: (its loop, its task)

    async def links() -> dict:
        """The link table (``Portal.link_table``); when it is too old, every request arriving
        meanwhile waits for the one read of it (a round's units uploading together after a
        quiet spell would otherwise each read every unit)."""
        table = portal.link_table()
        if table is not None:
            return table
        loop = asyncio.get_running_loop()
        if reading[0] is None or reading[0][0] is not loop:  # (tests run apps on many loops)
            task = loop.create_task(run_in_threadpool(portal.read_link_table))
            reading[0] = (loop, task)
            task.add_done_callback(lambda done: reading.__setitem__(0, None))
        return await asyncio.shield(reading[0][1])

    async def unit_of(request: Request):
        """The unit a link names, or None (counted: a client sending many wrong links is
        refused on unit pages for a while, with 429)."""
        client = address(request)
        wait = link_guard.wait(client)
        if wait:
            raise HTTPException(429, headers={"retry-after": str(wait)})
        token = request.path_params["token"]
        unit = None
        if token and len(token) <= 200:  # (a link's token is 43 characters)
            unit = (await links()).get(token_hash(token))
        if unit is None:
            link_guard.failed(client)
        return unit

    def unit_csrf(token: str) -> str:
        return hmac.new(portal.key, b"unit-form:" + token.encode(), "sha256").hexdigest()

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    def finding_rows(findings: list[Finding], lang: str) -> list[dict[str, str]]:
        spec = portal.spec
        rows = []
        for f in findings:
            level = f.level(spec)
            where = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else (f.sheet or "")
            if f.line is not None:
                where = f"第{f.line}行" if lang == "zh" else f"line {f.line}"
            rows.append(
                {
                    "level": level.value,
                    "level_label": level.label(lang),
                    "code": f.code,
                    "where": where,
                    "message": f.message(lang, spec),
                }
            )
        return rows

    def upload_view(up: collect.Upload, lang: str) -> dict[str, Any]:
        findings = up.finding_objects()
        codes = {f.code for f in findings}
        readable = not any(c.startswith("F") for c in codes)
        if not readable:
            verdict = "unreadable"
        elif up.status == "failing":
            verdict = "failing"
        elif up.state == "returned":  # passed the checks, but the office wants changes
            verdict = "returned_head"
        else:
            verdict = "passed_warnings" if up.warnings else "passed"
        current = portal.spec.version
        return {
            "up": up,
            "time": portal.local_time(up.received_ns),
            "verdict": verdict,
            "findings": finding_rows(findings, lang),
            "readable": readable,
            "old_template": "T103" in codes,
            "version_found": up.format_version,
            "version_current": current,
            "state": up.state,
            "state_text": collect.STATES[up.state][0 if lang == "zh" else 1],
        }

    def download(data: bytes, filename: str, media_type: str) -> Response:
        ascii_name = "".join(
            c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in filename
        )
        disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
        return Response(data, media_type=media_type, headers={"content-disposition": disposition})

    XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    # --- pages for everyone --------------------------------------------------------------------

    async def home(request: Request) -> Response:
        return render(request, "home.html")

    # --- a unit's pages ------------------------------------------------------------------------

    async def unit_page(request: Request, notice: list[dict] | None = None, status: int = 200):
        unit = await unit_of(request)
        if unit is None:
            return not_found(request)
        lang, _ = lang_of(request)
        uploads = await run_in_threadpool(collect.history, portal, unit.id)
        latest = None
        if uploads:
            full = await run_in_threadpool(collect.upload, portal, uploads[0].id, unit.id)
            latest = upload_view(full, lang) if full else None
        token = request.path_params["token"]
        return render(
            request,
            "unit.html",
            status,
            unit=unit,
            base=f"{request.scope.get('root_path', '')}/u/{token}",
            latest=latest,
            history=[
                {
                    "up": u,
                    "time": portal.local_time(u.received_ns),
                    "state": collect.STATES[u.state][0 if lang == "zh" else 1],
                }
                for u in uploads
            ],
            csrf=unit_csrf(token),
            limit=f"{config.max_bytes / 1024 / 1024:g} MB",
            max_bytes=config.max_bytes,
            notice=notice or [],
            spec_version=portal.spec.version,
        )

    def _disk_short() -> dict[str, str] | None:
        """While uploads are refused for lack of space (P110): the space free and needed, as
        the office is shown them; else None."""
        need = config.min_free_bytes + config.max_bytes
        free = collect.free_bytes(portal.folder)
        if free is None or free >= need:
            return None
        return {"free": _mb(free), "need": _mb(need)}

    async def unit_upload(request: Request) -> Response:
        received_ns = time.time_ns()
        unit = await unit_of(request)
        if unit is None:
            return not_found(request)
        lang, lq = lang_of(request)
        token = request.path_params["token"]
        as_json = wants_json(request)
        if _disk_short() is not None:
            return await _refused(request, Finding("P110"), 507, as_json)
        try:
            form = await receiving.read_form(
                portal,
                request.headers.get("content-type", ""),
                request.headers.get("content-length"),
                request.stream(),
                config.max_bytes,
                OVERHEAD,
            )
        except collect.TooLarge as exc:
            return await _refused(request, collect.too_large_finding(exc.limit), 413, as_json)
        except receiving.BadForm:
            return await _refused(request, Finding("P106"), 400, as_json)
        except BodyTimeout as exc:  # (nothing of it kept)
            refused = await _refused(request, body_timeout_finding(exc), 408, as_json)
            refused.headers["connection"] = "close"
            return refused
        except ClientDisconnect:  # hung up while sending: nobody to answer, nothing kept
            return Response(status_code=400)
        except OSError as exc:  # (nothing of it kept)
            if not collect.out_of_space(exc):
                raise
            return await _refused(request, Finding("P110"), 507, as_json)
        staged = form.staged
        if staged is None:
            form.discard()
            return await _refused(request, Finding("P106"), 400, as_json)
        if not as_json and not hmac.compare_digest(form.fields.get("csrf", ""), unit_csrf(token)):
            form.discard()
            return render(request, "message.html", 403, heading_key="error", text_key="csrf")
        try:
            upload_id, sha, checked = await intake.receive(
                unit, staged, form.filename, received_ns=received_ns, lang=lang if as_json else None
            )
        except Exception as exc:  # no record: the upload is not kept (an original may stay)
            if not collect.out_of_space(exc):
                raise
            return await _refused(request, Finding("P110"), 507, as_json)
        if as_json:
            return Response(checked.answer_with(upload_id, sha), media_type=JSON)
        url = f"{request.scope.get('root_path', '')}/u/{token}/uploads/{upload_id}{lq}"
        return RedirectResponse(url, status_code=303)

    async def _refused(request: Request, finding: Finding, status: int, as_json: bool):
        lang, _ = lang_of(request)
        if as_json:
            report = collect.refused_report("", finding)
            document = collect.as_json(portal, report, None, None, lang)
            return Response(document, status, media_type=JSON)
        notice = finding_rows([finding], lang)
        return await unit_page(request, notice=notice, status=status)

    async def unit_template(request: Request) -> Response:
        unit = await unit_of(request)
        if unit is None:
            return not_found(request)
        lang, _ = lang_of(request)
        data = await run_in_threadpool(
            template.render, portal.spec, unit.as_unit(), portal.year, lang=lang
        )
        return download(data, roster.file_name(unit.as_unit(), portal.year), XLSX)

    async def _unit_upload_of(request: Request):
        unit = await unit_of(request)
        if unit is None:
            return None, None
        up = await run_in_threadpool(
            collect.upload, portal, request.path_params["upload_id"], unit.id
        )
        return unit, up

    async def unit_upload_page(request: Request) -> Response:
        unit, up = await _unit_upload_of(request)
        if up is None:
            return not_found(request)
        lang, _ = lang_of(request)
        token = request.path_params["token"]
        return render(
            request,
            "upload.html",
            unit=unit,
            base=f"{request.scope.get('root_path', '')}/u/{token}",
            view=upload_view(up, lang),
        )

    async def _feedback(up: collect.Upload, unit, lang: str) -> Response:
        def build() -> bytes:
            report = collect.verdict(portal, unit, up.sha256, up.filename)
            return annotate.render(report, portal.spec, lang)

        view_readable = not any(f["code"].startswith("F") for f in up.findings)
        if not view_readable:
            raise HTTPException(404)
        data = await run_in_threadpool(build)
        name = f"{unit.code + '_' if unit.code else ''}{unit.name}_{portal.year}{annotate.SUFFIX[lang]}.xlsx"
        return download(data, name, XLSX)

    async def unit_feedback(request: Request) -> Response:
        unit, up = await _unit_upload_of(request)
        if up is None:
            return not_found(request)
        lang, _ = lang_of(request)
        return await _feedback(up, unit, lang)

    async def _original(up: collect.Upload) -> Response:
        data = await run_in_threadpool(portal.blob_path(up.sha256).read_bytes)
        return download(data, up.filename, "application/octet-stream")

    async def unit_original(request: Request) -> Response:
        _unit, up = await _unit_upload_of(request)
        if up is None:
            return not_found(request)
        return await _original(up)

    # --- the office ----------------------------------------------------------------------------

    async def office_csrf(request: Request) -> str | None:
        return await run_in_threadpool(portal.session_csrf, request.cookies.get(SESSION_COOKIE))

    def to_login(request: Request) -> Response:
        _, lq = lang_of(request)
        return RedirectResponse(f"{request.scope.get('root_path', '')}/office/login{lq}", 303)

    def secure(request: Request) -> bool:
        return request.url.scheme == "https" or portal.base_url.startswith("https://")

    async def login_page(request: Request, failed: bool = False, wait: int = 0) -> Response:
        value = request.cookies.get(LOGIN_COOKIE) or _random()
        status = 429 if wait else 401 if failed else 200
        locked = locked_text(request, wait) if wait else ""
        response = render(request, "login.html", status, csrf=value, failed=failed, locked=locked)
        if wait:
            response.headers["retry-after"] = str(wait)
        response.set_cookie(
            LOGIN_COOKIE,
            value,
            httponly=True,
            samesite="strict",
            secure=secure(request),
            path="/office",
        )
        return response

    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        sent, cookie = str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
        if not cookie or not hmac.compare_digest(sent, cookie):
            return render(request, "message.html", 403, heading_key="error", text_key="csrf")
        client = address(request)
        wait = secret_guard.wait(client)
        if wait:  # locked out: the secret is not even looked at
            return await login_page(request, failed=True, wait=wait)
        ok = await run_in_threadpool(portal.check_secret, str(form.get("secret", "")))
        if not ok:
            secret_guard.failed(client)
            await asyncio.sleep(config.login_delay)  # slows down guessing one by one
            return await login_page(request, failed=True, wait=secret_guard.wait(client))
        secret_guard.succeeded(client)
        value, _ = await run_in_threadpool(portal.open_session)
        _, lq = lang_of(request)
        response = RedirectResponse(f"{request.scope.get('root_path', '')}/office{lq}", 303)
        response.set_cookie(
            SESSION_COOKIE,
            value,
            httponly=True,
            samesite="strict",
            secure=secure(request),
            path="/",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/office")
        return response

    async def checked_form(request: Request, **limits: Any):
        """The posted form when the office session is live and its CSRF token matches."""
        csrf = await office_csrf(request)
        if csrf is None:
            return None, to_login(request)
        form = await request.form(**limits)
        if not hmac.compare_digest(str(form.get("csrf", "")), csrf):
            await form.close()
            return None, render(request, "message.html", 403, heading_key="error", text_key="csrf")
        return form, None

    async def logout(request: Request) -> Response:
        _form, refused = await checked_form(request, max_files=0, max_fields=5)
        if refused:
            return refused
        await run_in_threadpool(portal.close_session, request.cookies.get(SESSION_COOKIE))
        response = to_login(request)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def office_page(request: Request) -> Response:
        csrf = await office_csrf(request)
        if csrf is None:
            return to_login(request)
        lang, _ = lang_of(request)
        items = await run_in_threadpool(collect.states, portal)
        counts = {k: 0 for k in collect.STATES}
        for s in items:
            counts[s.status] += 1
        wanted = request.query_params.get("status", "")
        text = request.query_params.get("q", "").strip()
        shown = [
            s
            for s in items
            if (not wanted or s.status == wanted)
            and (
                not text
                or text.lower() in s.unit.name.lower()
                or text.lower() in s.unit.code.lower()
            )
        ]
        return render(
            request,
            "office.html",
            csrf=csrf,
            rows=[
                {
                    "s": s,
                    "text": s.status_text(lang),
                    "time": portal.local_time(s.newest.received_ns if s.newest else None),
                }
                for s in shown
            ],
            counts=[(k, collect.STATES[k][0 if lang == "zh" else 1], n) for k, n in counts.items()],
            total=len(items),
            wanted=wanted,
            q=text,
            message=request.query_params.get("done", ""),
            disk=_disk_short(),
        )

    async def office_unit(request: Request) -> Response:
        csrf = await office_csrf(request)
        if csrf is None:
            return to_login(request)
        lang, _ = lang_of(request)
        unit = await run_in_threadpool(portal.unit, request.path_params["unit_id"])
        if unit is None:
            return not_found(request)
        uploads = await run_in_threadpool(collect.history, portal, unit.id)
        views = []
        for u in uploads:
            full = await run_in_threadpool(collect.upload, portal, u.id)
            views.append(upload_view(full, lang))
        link = await run_in_threadpool(portal.link, unit.id, _base_url(request))
        return render(request, "office_unit.html", csrf=csrf, unit=unit, views=views, link=link)

    def _base_url(request: Request) -> str:
        return portal.base_url or str(request.base_url).rstrip("/")

    async def office_review(request: Request) -> Response:
        form, refused = await checked_form(request, max_files=0, max_fields=10)
        if refused:
            return refused
        unit_id = request.path_params["unit_id"]
        state = str(form.get("state", ""))
        try:
            upload_id = int(str(form.get("upload_id", "")))
        except ValueError:
            upload_id = -1
        ok = await run_in_threadpool(
            collect.review, portal, unit_id, upload_id, state, str(form.get("reason", ""))
        )
        if not ok:
            return render(
                request, "message.html", 409, heading_key="error", text_key="review_only_newest"
            )
        _, lq = lang_of(request)
        return RedirectResponse(
            f"{request.scope.get('root_path', '')}/office/units/{unit_id}{lq}", 303
        )

    async def office_renew(request: Request) -> Response:
        _form, refused = await checked_form(request, max_files=0, max_fields=5)
        if refused:
            return refused
        unit_id = request.path_params["unit_id"]
        if await run_in_threadpool(portal.unit, unit_id) is None:
            return not_found(request)
        await run_in_threadpool(portal.renew_link, unit_id)
        _, lq = lang_of(request)
        return RedirectResponse(
            f"{request.scope.get('root_path', '')}/office/units/{unit_id}{lq}", 303
        )

    async def _office_upload(request: Request):
        csrf = await office_csrf(request)
        if csrf is None:
            return None, None, to_login(request)
        up = await run_in_threadpool(collect.upload, portal, request.path_params["upload_id"])
        unit = await run_in_threadpool(portal.unit, up.unit_id) if up else None
        if up is None or unit is None:
            return None, None, not_found(request)
        return up, unit, None

    async def office_feedback(request: Request) -> Response:
        up, unit, refused = await _office_upload(request)
        if refused:
            return refused
        lang, _ = lang_of(request)
        return await _feedback(up, unit, lang)

    async def office_original(request: Request) -> Response:
        up, _unit, refused = await _office_upload(request)
        if refused:
            return refused
        return await _original(up)

    async def office_export(request: Request) -> Response:
        if await office_csrf(request) is None:
            return to_login(request)
        lang, _ = lang_of(request)
        kind = request.path_params["kind"]
        if kind not in ("csv", "xlsx"):
            return not_found(request)
        if kind == "csv":
            data = await run_in_threadpool(exports.status_csv, portal, lang)
            name = exports.download_name(portal, "status", ".csv", lang)
            return download(data, name, "text/csv; charset=utf-8")
        data = await run_in_threadpool(exports.status_xlsx, portal, lang)
        return download(data, exports.download_name(portal, "status", ".xlsx", lang), XLSX)

    async def office_county(request: Request) -> Response:
        if await office_csrf(request) is None:
            return to_login(request)
        lang, _ = lang_of(request)
        kind = request.path_params["kind"]
        if kind not in ("xlsx", "docx"):
            return not_found(request)

        def build() -> tuple[bytes, str]:
            with exports.Scratch(portal) as folder:
                if kind == "xlsx":
                    out = exports.county_workbook(portal, folder, lang)
                    name = exports.download_name(portal, "county", ".xlsx", lang)
                else:
                    out = exports.county_report(portal, folder, lang, "docx")
                    name = exports.download_name(portal, "report", ".docx", lang)
                return out.read_bytes(), name

        data, name = await run_in_threadpool(build)
        return download(data, name, XLSX if kind == "xlsx" else DOCX)

    async def office_links(request: Request) -> Response:
        if await office_csrf(request) is None:
            return to_login(request)
        entries = await run_in_threadpool(portal.links, _base_url(request))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["单位名称", "单位代码", "链接"])
        for e in entries:
            writer.writerow(
                [exports.neutralise(e["unit"]), exports.neutralise(e["code"]), e["url"]]
            )
        return download(
            ("\ufeff" + buffer.getvalue()).encode(), "links.csv", "text/csv; charset=utf-8"
        )

    async def office_roster(request: Request) -> Response:
        csrf = await office_csrf(request)
        if csrf is None:
            return to_login(request)
        entries = await run_in_threadpool(portal.links, _base_url(request))
        return render(request, "roster.html", csrf=csrf, entries=entries, problems=[], done=None)

    async def office_roster_replace(request: Request) -> Response:
        form, refused = await checked_form(request, max_files=1, max_fields=5)
        if refused:
            return refused
        lang, _ = lang_of(request)
        file = form.get("roster")
        problems: list[str] = []
        done = None
        try:
            if not isinstance(file, UploadFile):
                problems = [Finding("P106").message(lang)]
            else:
                data = await file.read(5 * 1024 * 1024 + 1)
                done = await run_in_threadpool(_replace_roster, data, file.filename or "")
        except Failure as exc:
            problems = [
                (f"{f.location(lang)}：" if f.location(lang) else "") + f.message(lang)
                for f in exc.findings
            ]
        finally:
            await form.close()
        entries = await run_in_threadpool(portal.links, _base_url(request))
        return render(
            request,
            "roster.html",
            400 if problems else 200,
            csrf=(await office_csrf(request)) or "",
            entries=entries,
            problems=problems,
            done=done,
        )

    def _replace_roster(data: bytes, filename: str) -> dict[str, int]:
        """Read a roster the office sent with the same reader as ``--roster`` (from a scratch
        file whose name is ours; only the suffix is taken from the sent name, from a fixed list)."""
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ".csv"
        if suffix not in (".csv", ".txt", ".xlsx", ".xls", ".ods"):
            suffix = ".csv"
        if len(data) > 5 * 1024 * 1024:
            raise Failure([Finding("U101", {"detail": "larger than 5 MB"})])
        with exports.Scratch(portal) as folder:
            path = folder / f"roster{suffix}"
            path.write_bytes(data)
            units = roster.read(path)
        return portal.replace_roster(units)

    # --- API -----------------------------------------------------------------------------------

    async def api_status(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        scheme, _, secret = auth.partition(" ")
        client = address(request)
        wait = secret_guard.wait(client) if auth else 0
        if wait:  # the API and the sign-in form guard the same secret
            return JSONResponse(
                {"error": "too_many_attempts", "code": "P108", "retry_after": wait,
                 "message": locked_text(request, wait)},
                429,
                headers={"retry-after": str(wait)},
            )  # fmt: skip
        ok = scheme.lower() == "bearer" and await run_in_threadpool(
            portal.check_secret, secret.strip()
        )
        if ok:
            secret_guard.succeeded(client)
        else:
            if auth:
                secret_guard.failed(client)
            return JSONResponse(
                {"error": "unauthorized"},
                401,
                headers={"www-authenticate": 'Bearer realm="wbtools"'},
            )
        lang, _ = lang_of(request)
        items = await run_in_threadpool(collect.states, portal)
        return JSONResponse(_status_document(items, lang))

    def _status_document(items: list[collect.UnitState], lang: str) -> dict[str, Any]:
        units = []
        for s in items:
            up = s.newest
            units.append(
                {
                    "unit": s.unit.name,
                    "code": s.unit.code,
                    "kind": s.unit.kind,
                    "status": s.status,
                    "status_text": s.status_text(lang),
                    "uploads": s.uploads,
                    "latest_upload": None
                    if up is None
                    else {
                        "id": up.id,
                        "received_at": _iso(up.received_ns),
                        "file": up.filename,
                        "sha256": up.sha256,
                        "errors": up.errors,
                        "warnings": up.warnings,
                        "check_status": up.status,
                        "format_version": up.format_version or None,
                        "review": None
                        if up.review is None
                        else {"state": up.review.state, "reason": up.review.reason},
                    },
                }
            )
        summary = {k: sum(1 for u in units if u["status"] == k) for k in collect.STATES}
        return {"name": portal.name, "year": portal.year, "units": units, "summary": summary}

    async def on_404(request: Request, exc: Exception) -> Response:
        return not_found(request)

    async def on_429(request: Request, exc: HTTPException) -> Response:
        wait = int((exc.headers or {}).get("retry-after", "60"))
        response = render(
            request, "message.html", 429, heading_key="error", text=locked_text(request, wait)
        )
        response.headers["retry-after"] = str(wait)
        return response

    async def on_body_timeout(request: Request, exc: BodyTimeout) -> Response:
        lang, _ = lang_of(request)
        text = body_timeout_finding(exc).message(lang)
        response = render(request, "message.html", 408, heading_key="error", text=text)
        response.headers["connection"] = "close"
        return response

    async def on_500(request: Request, exc: Exception) -> Response:
        return render(request, "message.html", 500, heading_key="error", text_key="error_text")

    routes = [
        Route("/", home),
        Route("/u/{token}", unit_page, methods=["GET"]),
        Route("/u/{token}", unit_upload, methods=["POST"]),
        Route("/u/{token}/template", unit_template),
        Route("/u/{token}/uploads/{upload_id:int}", unit_upload_page),
        Route("/u/{token}/uploads/{upload_id:int}/feedback", unit_feedback),
        Route("/u/{token}/uploads/{upload_id:int}/original", unit_original),
        Route("/office", office_page),
        Route("/office/login", login_page, methods=["GET"]),
        Route("/office/login", login, methods=["POST"]),
        Route("/office/logout", logout, methods=["POST"]),
        Route("/office/units/{unit_id:int}", office_unit),
        Route("/office/units/{unit_id:int}/review", office_review, methods=["POST"]),
        Route("/office/units/{unit_id:int}/renew", office_renew, methods=["POST"]),
        Route("/office/uploads/{upload_id:int}/feedback", office_feedback),
        Route("/office/uploads/{upload_id:int}/original", office_original),
        Route("/office/status.{kind:str}", office_export),
        Route("/office/county.{kind:str}", office_county),
        Route("/office/links.csv", office_links),
        Route("/office/roster", office_roster, methods=["GET"]),
        Route("/office/roster", office_roster_replace, methods=["POST"]),
        Route("/api/status", api_status),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: on_404, 429: on_429, 500: on_500, BodyTimeout: on_body_timeout},
        lifespan=lifespan,
    )
    app.state.intake = intake
    app.add_middleware(BodyDeadline, seconds=config.body_seconds, idle=config.body_idle)
    app.add_middleware(SecurityHeaders)
    return app


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


def body_timeout_finding(exc: BodyTimeout) -> Finding:
    return Finding("P109", {"seconds": f"{exc.seconds:g}"})


def _random() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def _iso(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="microseconds")
