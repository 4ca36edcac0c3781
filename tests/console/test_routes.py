"""The console's files are served with their security headers; the demo sign-in mints the
demo user's token in development and does not exist in production."""

from __future__ import annotations

import httpx
import pytest

from api.app import create_app
from api.auth import verify
from application.settings import Settings
from domain.db import Database
from domain.enums import Role


def client(db: Database, *, production: bool) -> httpx.AsyncClient:
    settings = Settings(
        database_url=str(db.url),
        RADFLOW_BALANCER=False,
        RADFLOW_PRODUCTION=production,
        RADFLOW_JWT_SECRET="console-test-secret" if production else None,
    )
    app = create_app(settings, db=db)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
def backend() -> str:
    return "sqlite"


async def test_the_page_and_its_modules_are_served_under_a_strict_policy(db: Database) -> None:
    async with client(db, production=False) as http:
        redirect = await http.get("/console")
        page = await http.get("/console/")
        module = await http.get("/console/vendor/graphql-ws/client.js")
    assert redirect.status_code == 307 and redirect.headers["location"].endswith("/console/")
    assert page.status_code == 200 and 'src="app.js"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert module.status_code == 200
    assert module.headers["content-type"].startswith(("text/javascript", "application/javascript"))


async def test_the_demo_sign_in_mints_the_demo_users_token(db: Database) -> None:
    async with client(db, production=False) as http:
        supervisor = await http.post("/console/demo-token", json={"role": "supervisor"})
        reader = await http.post(
            "/console/demo-token", json={"role": "radiologist", "subject": "RAD03"}
        )
    actor = verify(supervisor.json()["token"], Settings())
    assert (actor.id, actor.role) == ("sup.ortiz", Role.SUPERVISOR)
    assert verify(reader.json()["token"], Settings()).id == "RAD03"


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ('{"role": "system"}', {"content-type": "application/json"}, 400),
        ('{"role": "supervisor", "subject": ""}', {"content-type": "application/json"}, 200),
        ('{"role": "admin", "subject": 7}', {"content-type": "application/json"}, 400),
        ("role=admin", {"content-type": "application/x-www-form-urlencoded"}, 415),
        ("{not json", {"content-type": "application/json"}, 400),
    ],
)
async def test_the_demo_sign_in_refuses_what_it_cannot_mint(
    db: Database, body: str, headers: dict[str, str], status: int
) -> None:
    async with client(db, production=False) as http:
        response = await http.post("/console/demo-token", content=body, headers=headers)
    assert response.status_code == status, response.text


async def test_production_has_the_page_but_no_demo_sign_in(db: Database) -> None:
    async with client(db, production=True) as http:
        page = await http.get("/console/")
        demo = await http.post("/console/demo-token", json={"role": "admin"})
    assert page.status_code == 200
    assert demo.status_code in (404, 405)
