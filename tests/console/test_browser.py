"""The console in a real browser (Debian's headless Chromium, driven by Playwright) against a
real server with the demo department: a supervisor's board, a rule change reaching a
radiologist's open page live, a critical finding reaching the supervisor, an expired sign-in.

Screenshots of each view go to the test's folder, and to docs/console/ with
RADFLOW_CONSOLE_SCREENSHOTS=1 (`make console-screenshots`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import SQLModel

from api.app import create_app
from api.auth import mint
from application.demo import seed_demo
from application.planning.rule_effects import install_defaults
from application.settings import Settings
from domain.db import Database
from domain.enums import Role
from domain.lifecycle import Actor
from tests.conftest import REQUIRE_SERVICES, on_loopback, token_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "console"
VIEWPORT = {"width": 1280, "height": 800}
WAIT_MS = 20_000  # the longest a live change may take to show before the test fails


def chromium() -> str:
    """Debian's Chromium, or a skip (a failure in CI) saying what is missing."""
    path = os.environ.get("RADFLOW_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    problem = None
    if not Path(path).exists():
        problem = "Chromium is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (make install-dev)"
    if problem:
        if REQUIRE_SERVICES:
            pytest.fail(problem + " (RADFLOW_REQUIRE_SERVICES=1 forbids skipping)")
        pytest.skip(problem)
    return path


@pytest.fixture(scope="session")
def demo_department(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the demo department and its default rules, seeded once per run."""
    chromium()  # skip before seeding when there is no browser
    path = tmp_path_factory.mktemp("console") / "demo.db"
    url = f"sqlite:///{path}"

    async def seed() -> None:
        db = Database(url)
        assert db.sync_engine is not None
        SQLModel.metadata.create_all(db.sync_engine)
        await db.dispose()
        await seed_demo(url)
        db = Database(url)
        await db.run(lambda uow: install_defaults(uow, Actor("seed", Role.ADMIN)))
        await db.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, seed()).result()
    return path


class Console:
    """The server, an HTTP client on its API, and a browser."""

    def __init__(self, base: str, api: httpx.AsyncClient, browser: Any, shots: Path) -> None:
        self.base = base
        self.api = api
        self.browser = browser
        self.shots = shots

    async def query(self, document: str, variables: dict[str, object] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token_for('sup.ortiz', 'supervisor')}"}
        response = await self.api.post(
            "/graphql", json={"query": document, "variables": variables or {}}, headers=headers
        )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def page(self, role: str, subject: str | None = None) -> Any:
        """A new browser context signed in through the demo picker."""
        context = await self.browser.new_context(viewport=VIEWPORT)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors
        await page.goto(f"{self.base}/console/")
        await page.select_option("#demo-role", role)
        if subject:
            await page.fill("#demo-subject", subject)
        await page.click("text=Sign in as demo user")
        await page.wait_for_selector("#nav a")
        # Set once: a reload would lose it, so finding it later proves there was none.
        await page.evaluate("window.stillTheSamePage = true")
        return page

    async def shoot(self, page: Any, name: str) -> None:
        """A screenshot of what the page shows, once it is checked to be readable."""
        await readable(page)
        path = self.shots / f"{name}.png"
        await page.screenshot(path=str(path), full_page=False)
        if os.environ.get("RADFLOW_CONSOLE_SCREENSHOTS") == "1":
            SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SHOTS / path.name)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@asynccontextmanager
async def running(db_file: Path, shots: Path) -> AsyncIterator[Console]:
    from playwright.async_api import async_playwright

    executable = chromium()
    db = Database(f"sqlite:///{db_file}")
    settings = Settings(database_url=str(db.url), RADFLOW_BALANCER=True)
    try:
        async with (
            on_loopback(create_app(settings, db=db)) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api,
            async_playwright() as playwright,
        ):
            browser = await playwright.chromium.launch(
                executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            try:
                yield Console(f"http://127.0.0.1:{port}", api, browser, shots)
            finally:
                await browser.close()
    finally:
        await db.dispose()


@pytest.fixture
def department_copy(demo_department: Path, tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "radflow.db"
    shutil.copyfile(demo_department, copy)
    yield copy


@pytest.fixture
async def console(department_copy: Path, tmp_path: Path) -> AsyncIterator[Console]:
    chromium()
    async with running(department_copy, tmp_path) as started:
        yield started


# Every visible text against the colour behind it: WCAG AA asks 4.5:1, 3:1 for large text.
CONTRAST = (Path(__file__).parent / "contrast.js").read_text()


async def readable(page: Any) -> None:
    """WCAG AA contrast for every visible text, and no sideways scrolling at this width."""
    assert await page.evaluate(CONTRAST) == []
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


READERS = "{ radiologists { code shift { endsAt } } }"
WORKLIST = """query ($code: String!) { worklist(radiologistCode: $code) {
  opened pinned exam { id accessionNumber } } }"""


async def busiest_reader(console: Console) -> tuple[str, list[dict[str, Any]]]:
    """The reader on shift with the most studies they have not opened, and those studies."""
    readers = (await console.query(READERS))["radiologists"]
    best: tuple[str, list[dict[str, Any]]] = ("", [])
    for reader in readers:
        if reader["shift"] is None:
            continue
        items = (await console.query(WORKLIST, {"code": reader["code"]}))["worklist"]
        movable = [i for i in items if not i["opened"] and not i["pinned"]]
        if len(movable) > len(best[1]):
            best = (reader["code"], movable)
    assert best[1], "the demo department has no reader with unopened studies"
    return best


async def test_a_supervisor_signs_in_with_the_keyboard_and_sees_every_reader_on_shift(
    console: Console,
) -> None:
    context = await console.browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(f"{console.base}/console/")
    await page.wait_for_selector("#demo-role:focus")
    await page.keyboard.press("ArrowDown")  # radiologist -> supervisor
    await page.keyboard.press("Tab")  # the user field
    await page.keyboard.press("Tab")  # the button
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#readers tr[data-reader]")
    assert await page.evaluate("document.activeElement.id") == "main"
    await page.keyboard.press("Tab")  # from the content's start: its first control
    assert await page.evaluate("document.activeElement.id") == "rebalance"
    on_shift = {r["code"] for r in (await console.query(READERS))["radiologists"] if r["shift"]}
    shown = await page.eval_on_selector_all(
        "#readers tr[data-reader]", "rows => rows.map(r => r.dataset.reader)"
    )
    assert set(shown) == on_shift
    assert await page.locator("#readers [role=meter]").count() >= 3 * len(on_shift)
    assert await page.locator("#runs tbody tr").count() >= 1
    assert [await a.text_content() for a in await page.locator("#nav a[data-view]").all()] == [
        "Board",
        "Rules",
        "Metrics",
        "Critical results",
    ]
    await console.shoot(page, "board")

    # Pin a study to its reader, see the reason, unpin it; put the reader on a break.
    code, studies = await busiest_reader(console)
    accession = studies[0]["exam"]["accessionNumber"]
    await page.click(f"#readers tr[data-reader='{code}'] button.link")
    await page.wait_for_selector(f"#reader-detail tr[data-accession='{accession}']")
    await page.fill("#pin-accession", accession)
    await page.fill("#pin-reason", "knows this patient's priors")
    await page.click("#reader-detail form button[type=submit]")
    await page.wait_for_selector("#board-status >> text=knows this patient's priors")
    row = f"#reader-detail tr[data-accession='{accession}']"
    await page.click(f"{row} button:has-text('Unpin')")
    await page.wait_for_selector(f"{row} button", state="detached")
    await page.select_option(f"#readers tr[data-reader='{code}'] select", "ON_BREAK")
    status = "{ radiologists { code status } }"
    for _ in range(100):
        readers = (await console.query(status))["radiologists"]
        if {r["code"]: r["status"] for r in readers}[code] == "ON_BREAK":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"{code} never went on a break")
    await page.goto(f"{console.base}/console/#metrics")
    await page.wait_for_selector("#metrics-out .chart")
    await console.shoot(page, "metrics")
    # The contrast check does catch faint text.
    await page.evaluate(
        "document.getElementById('main').append("
        "Object.assign(document.createElement('p'), {textContent: 'faint', style: 'color: #aaa'}))"
    )
    assert len(await page.evaluate(CONTRAST)) == 1


async def test_an_activated_rule_reaches_a_radiologists_open_worklist_without_a_reload(
    console: Console,
) -> None:
    code, studies = await busiest_reader(console)
    reader = await console.page("radiologist", code)
    await reader.wait_for_selector("#worklist-table tbody tr")
    await reader.wait_for_selector("#live.on")  # subscribed
    assert await reader.locator("#moved-away li").count() == 0

    supervisor = await console.page("supervisor")
    await supervisor.goto(f"{console.base}/console/#rules")
    await supervisor.wait_for_selector("#rule-history tbody tr")
    await supervisor.click("#add-rule")
    index = await supervisor.locator("#rule-editor .rule").count() - 1
    rule = f"#rule-{index}"
    await supervisor.fill(f"{rule}-name", f"Keep {code} free")
    await supervisor.fill(f"{rule}-condition", "patient_agee >= 0")  # a typo
    await supervisor.select_option(f"{rule}-a0-kind", "EXCLUDE_RADIOLOGISTS")
    await supervisor.fill(f"{rule}-a0-radiologistCodes", code)
    await supervisor.click("#preview")
    # The server's error is shown at the condition, which gets the focus.
    await supervisor.wait_for_selector(f"{rule}-condition[aria-invalid=true]")
    error = await supervisor.text_content(f"{rule}-condition-error")
    assert "patient_agee" in (error or "")
    await console.shoot(supervisor, "rules-error")

    await supervisor.fill(f"{rule}-condition", "patient_age >= 0")
    await supervisor.click("#preview")
    await supervisor.wait_for_selector("#preview-result")
    preview = await supervisor.text_content("#preview-result")
    assert any(s["exam"]["accessionNumber"] in (preview or "") for s in studies)
    await console.shoot(supervisor, "rules-preview")

    # The what-if: the same synthetic day under the active rules and the draft, side by side.
    await supervisor.click("#simulate")
    await supervisor.fill("#sim-studies", "60")
    await supervisor.fill("#sim-readers", "4")
    await supervisor.click("#sim-run")
    await supervisor.wait_for_selector("#simulation-result tbody tr", timeout=4 * WAIT_MS)
    assert await supervisor.locator("#simulation-result [role=meter]").count() >= 2 * 9
    await supervisor.locator("#simulation-result").scroll_into_view_if_needed()
    await console.shoot(supervisor, "rules-simulation")

    await supervisor.fill("#rules-reason", f"{code} covers the ED phone this afternoon")
    await supervisor.click("#save-rules")
    await supervisor.click("#activate")
    await supervisor.wait_for_selector("#rule-history tr.selected")

    # The radiologist's page learns of it over worklistChanged: studies moved away.
    await reader.wait_for_selector("#moved-away li[data-change=removed]")
    await reader.wait_for_selector("#live-log li[data-change=removed]")
    gone = await reader.eval_on_selector_all(
        "#moved-away li", "items => items.map(i => i.dataset.accession)"
    )
    assert set(gone) & {s["exam"]["accessionNumber"] for s in studies}
    assert await reader.evaluate("window.stillTheSamePage === true")
    await console.shoot(reader, "worklist")

    # The diff with the version before, then a roll back to it.
    versions = await supervisor.eval_on_selector_all(
        "#rule-history tbody tr", "rows => rows.map(r => Number(r.dataset.version))"
    )
    before = f"#rule-history tr[data-version='{min(versions)}']"
    await supervisor.click(f"{before} button.diff-show")
    await supervisor.wait_for_selector("#diff-result")
    assert f"Keep {code} free" in (await supervisor.text_content("#diff-result") or "")
    await console.shoot(supervisor, "rules-diff")
    await supervisor.click(f"{before} button.activate-version")
    await supervisor.wait_for_selector(f"{before}.selected")
    assert reader.errors == [] and supervisor.errors == []


async def test_a_critical_finding_signed_by_a_radiologist_is_raised_on_the_supervisors_page(
    console: Console,
) -> None:
    code, studies = await busiest_reader(console)
    supervisor = await console.page("supervisor")
    await supervisor.wait_for_selector("#readers tr[data-reader]")
    await supervisor.wait_for_selector("#live.on")  # subscribed
    reader = await console.page("radiologist", code)
    exam = studies[0]["exam"]
    await reader.goto(f"{console.base}/console/#read/{exam['id']}")
    await reader.click("#open-read")
    await reader.wait_for_selector("#report-form")

    await reader.click("#sign-final")  # nothing filled in: every required field is marked
    await reader.wait_for_selector("#report-errors [role=alert]")
    marked = await reader.eval_on_selector_all(
        "#report-form [aria-invalid=true]", "fields => fields.map(f => [f.id, f.tagName])"
    )
    assert marked
    for field, tag in marked:
        if tag == "SELECT":
            choices = await reader.eval_on_selector_all(
                f"#{field} option", "options => options.map(o => o.value)"
            )
            await reader.select_option(f"#{field}", next(c for c in choices if c))
        else:
            await reader.fill(f"#{field}", "Acute finding, see impression.")
    assert await reader.locator("#report-form [aria-invalid=true]").count() == 0
    await reader.fill("#impression", "Large acute finding; discussed with the referrer.")
    await reader.select_option("#critical-level", "CRITICAL")
    await reader.evaluate("document.querySelector('#report-form').scrollIntoView()")
    await console.shoot(reader, "report")
    await reader.click("#sign-final")
    await reader.wait_for_selector("#notify")
    assert "final" in (await reader.text_content("#exam-status") or "")
    await reader.click("#notify")
    await reader.wait_for_selector("#communications [data-acknowledged=no]")

    # The supervisor, still on the board, sees it raised, then records the read-back.
    await supervisor.wait_for_selector("#critical-alert:not([hidden])")
    await supervisor.click("#critical-alert")
    item = f"#critical-list li[data-accession='{exam['accessionNumber']}']"
    await supervisor.wait_for_selector(item)
    assert "critical" in (await supervisor.text_content(item) or "")
    assert await supervisor.evaluate("window.stillTheSamePage === true")
    await console.shoot(supervisor, "critical")
    await supervisor.fill(f"{item} input[name=readBackBy]", "Dr Kim")
    await supervisor.select_option(f"{item} select[name=channel]", "PHONE")
    await supervisor.click(f"{item} button[type=submit]")
    await supervisor.wait_for_selector(f"{item} >> text=acknowledged")
    assert "read back by Dr Kim" in (await supervisor.text_content(item) or "")
    await supervisor.wait_for_selector("#critical-alert[hidden]", state="attached")

    await reader.click("#communications button:has-text('Refresh')")
    await reader.wait_for_selector("#communications [data-acknowledged=yes]")
    await console.shoot(reader, "read")
    await reader.set_viewport_size({"width": 1080, "height": 1920})  # a portrait monitor
    await console.shoot(reader, "read-portrait")
    assert reader.errors == [] and supervisor.errors == []


async def test_an_expired_sign_in_returns_to_sign_in_with_a_clear_word(console: Console) -> None:
    context = await console.browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(f"{console.base}/console/")
    await console.shoot(page, "sign-in")
    short = mint(
        role=Role.SUPERVISOR,
        subject="sup.ortiz",
        settings=Settings(),
        lifetime=timedelta(seconds=8),
    )
    await page.fill("#token", short)
    await page.click("text=Sign in with token")
    await page.wait_for_selector("#nav a")
    await page.wait_for_selector("text=Your sign-in has expired")
    assert await page.locator("#nav a").count() == 0
    expired = mint(
        role=Role.SUPERVISOR,
        subject="sup.ortiz",
        settings=Settings(),
        lifetime=timedelta(seconds=-60),
    )
    await page.fill("#token", expired)
    await page.click("text=Sign in with token")
    await page.wait_for_selector("#token-status >> text=This token expired")


async def test_a_radiologist_is_offered_only_their_worklist_and_the_api_refuses_the_rest(
    console: Console,
) -> None:
    code, _ = await busiest_reader(console)
    page = await console.page("radiologist", code)
    assert [await a.text_content() for a in await page.locator("#nav a[data-view]").all()] == [
        "My worklist"
    ]
    await page.goto(f"{console.base}/console/#board")
    await page.wait_for_selector("#worklist-table")  # no board: back to their own view
    # Hiding the board is a courtesy; the API refuses the call from this page's token anyway.
    answer = await page.evaluate(
        """async () => {
            const token = sessionStorage.getItem('radflow.console.token');
            const response = await fetch('/graphql', {method: 'POST',
              headers: {'Content-Type': 'application/json', Authorization: `Bearer ${token}`},
              body: JSON.stringify({query: 'mutation { rebalanceNow { stale } }'})});
            return (await response.json()).errors[0].extensions.code;
        }"""
    )
    assert answer == "FORBIDDEN"
    # What the matrix does allow a radiologist: going on a break from their own page.
    await page.goto(f"{console.base}/console/#worklist")
    await page.select_option("#my-status", "ON_BREAK")
    # The page announces it, but the worklist's live updates that follow (their studies move
    # away) take the announcer's place a moment later; the department's record is what stays.
    status_of = """async (code) => {
        const token = sessionStorage.getItem('radflow.console.token');
        const response = await fetch('/graphql', {method: 'POST',
          headers: {'Content-Type': 'application/json', Authorization: `Bearer ${token}`},
          body: JSON.stringify({query: '{ radiologists { code status } }'})});
        const found = (await response.json()).data.radiologists.find(r => r.code === code);
        return found.status;
    }"""
    async with asyncio.timeout(60):  # a hang guard: the machine may be slow
        while await page.evaluate(status_of, code) != "ON_BREAK":  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    assert await page.locator("#my-status").input_value() == "ON_BREAK"
    readers = (await console.query("{ radiologists { code status } }"))["radiologists"]
    assert {r["code"]: r["status"] for r in readers}[code] == "ON_BREAK"


async def test_since_last_look_names_new_moved_and_gone_studies(console: Console) -> None:
    """The worklist's comparison with the reader's last look, run in the page's own module."""
    code, _ = await busiest_reader(console)
    page = await console.page("radiologist", code)
    seen = {
        "at": "2026-03-02T07:00:00Z",
        "items": {
            "a": {"position": 0, "accession": "A", "procedure": "CT head"},
            "b": {"position": 1, "accession": "B", "procedure": "CT chest"},
            "c": {"position": 2, "accession": "C", "procedure": "XR wrist"},
        },
    }
    now = [
        {"position": 0, "exam": {"id": "c"}},
        {"position": 1, "exam": {"id": "new"}},
        {"position": 2, "exam": {"id": "a"}},
    ]
    marks, gone = await page.evaluate(
        """async ([seen, items]) => {
            const { compare } = await import('./worklist.js');
            const { marks, gone } = compare(seen, items);
            return [Object.fromEntries(marks), gone.map((g) => g.accession)];
        }""",
        [seen, now],
    )
    assert marks == {
        "c": {"kind": "moved", "text": "up 2"},
        "new": {"kind": "new", "text": "new"},
        "a": {"kind": "moved", "text": "down 2"},
    }
    assert gone == ["B"]
