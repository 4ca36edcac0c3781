"""The `radflow` command: serve, migrate, seed, clock, hl7, dicom, export-schema."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer

from application.settings import Settings, get_settings

app = typer.Typer(help="radflow: the radiology department backend.", no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Apply every alembic migration to DATABASE_URL."""
    from alembic.config import Config

    from alembic import command

    # A checkout (or the Docker image's workdir) has alembic/ beside the packages.
    root = Path(__file__).resolve().parent.parent
    if not (root / "alembic.ini").exists():
        root = Path.cwd()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    config.attributes["database_url"] = get_settings().database_url
    command.upgrade(config, "head")
    typer.echo("database is at the latest migration")


@app.command()
def seed() -> None:
    """Seed the demo department (and its default rules) if the database is empty."""
    from application.demo import seed_demo

    url = get_settings().database_url
    made = asyncio.run(seed_demo(url))
    typer.echo(
        f"seeded the demo department with {made} exams"
        if made
        else "database already has data; not seeding"
    )
    version = asyncio.run(_default_rules(url))
    if version is not None:
        typer.echo(f"activated the default rule set as version {version}")


async def _default_rules(url: str) -> int | None:
    from application.planning.rule_effects import install_defaults
    from domain.db import Database
    from domain.enums import Role
    from domain.lifecycle import Actor

    db = Database(url)
    try:
        return await db.run(lambda uow: install_defaults(uow, Actor("seed", Role.ADMIN)))
    finally:
        await db.dispose()


@app.command()
def serve(reload: bool = False) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    settings = get_settings()
    typer.echo(f"radflow on http://{settings.host}:{settings.port}/graphql")
    from api.live.transport import UVICORN_WS_OPTIONS

    uvicorn.run(
        "api.app:served_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        reload=reload,
        log_level="info",
        **UVICORN_WS_OPTIONS,
    )


@app.command()
def hl7() -> None:
    """Listen for HL7 v2 over MLLP alone, without the API (RADFLOW_HL7_PORT, default 2575)."""
    from domain.db import Database
    from interfaces.hl7.listener import listener_for

    settings = get_settings()
    if settings.hl7_port is None:
        settings = settings.model_copy(update={"hl7_port": 2575})

    async def listen() -> None:
        db = Database(settings.database_url)
        try:
            async with listener_for(db, settings) as server:
                port = server.sockets[0].getsockname()[1]
                typer.echo(f"radflow HL7 v2 (MLLP) on {settings.hl7_host}:{port}")
                await server.serve_forever()
        finally:
            await db.dispose()

    asyncio.run(listen())


@app.command()
def clock() -> None:
    """Run the clock alone, without the API: escalations, notification delivery, follow-ups,
    no-shows and retention, claimed once across every replica and worker (RADFLOW_CLOCK_*)."""
    from application.operations import clock_for
    from domain.db import Database
    from interfaces.notify.adapters import adapters_for

    settings = get_settings()

    async def run() -> None:
        db = Database(settings.database_url)
        ticking = clock_for(db, settings, adapters_for(settings))
        try:
            ticking.start()
            typer.echo(f"radflow clock {ticking.replica}: {', '.join(sorted(ticking.jobs))}")
            await asyncio.Event().wait()  # until interrupted
        finally:
            await ticking.stop()
            await db.dispose()

    asyncio.run(run())


@app.command()
def dicom() -> None:
    """Serve DICOM Modality Worklist and MPPS alone, without the API (RADFLOW_DICOM_PORT,
    default 11112), in RADFLOW_DICOM_WORKERS processes, and follow the PACS when
    RADFLOW_ORTHANC_URL is set (in the first process only)."""
    import multiprocessing
    import signal

    settings = get_settings()
    if settings.dicom_port is None:
        settings = settings.model_copy(update={"dicom_port": 11112})
    if settings.dicom_workers > 1 and settings.dicom_port == 0:
        raise typer.BadParameter(
            "RADFLOW_DICOM_WORKERS > 1 needs a fixed RADFLOW_DICOM_PORT: the processes share it"
        )
    spawn = multiprocessing.get_context("spawn")
    others = [
        spawn.Process(target=dicom_process, args=(settings, False), daemon=True)
        for _ in range(settings.dicom_workers - 1)
    ]
    for process in others:
        process.start()
    # Stopped as by Ctrl-C (a container's stop sends SIGTERM): the workers are ended with it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        dicom_process(settings, True)
    finally:
        for process in others:
            process.terminate()
            process.join(10)


def dicom_process(settings: Settings, first: bool) -> None:
    """One process of `radflow dicom`: the listener (on a port it may share with the others),
    and in the first the PACS follower and the banner, until interrupted."""
    from contextlib import AsyncExitStack

    from domain.db import Database
    from interfaces.dicom.pacs import following
    from interfaces.dicom.server import listener_for

    async def listen() -> None:
        db = Database(settings.database_url)
        try:
            async with AsyncExitStack() as stack:
                server = await stack.enter_async_context(listener_for(db, settings))
                if first and settings.orthanc_url is not None:
                    await stack.enter_async_context(following(db, settings))
                if first:
                    port = server.server_address[1]
                    typer.echo(
                        f"radflow DICOM {settings.dicom_ae_title} on {settings.dicom_host}:{port}"
                        f" ({settings.dicom_workers} process(es))"
                    )
                await asyncio.Event().wait()  # until interrupted
        finally:
            await db.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(listen())


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def simulate(ctx: typer.Context) -> None:
    """Replay a simulated day under four policies (FIFO, cherry-picking, least-loaded,
    radflow); options as `radflow simulate --help`."""
    import sys

    from application.planning import day as simulation

    sys.argv = ["radflow simulate", *ctx.args]
    simulation.main()


RoleOption = Annotated[
    str,
    typer.Option(
        help="referrer, scheduler, patient, technologist, "
        "radiologist, supervisor, integration or admin"
    ),
]
SubjectOption = Annotated[
    str | None,
    typer.Option(
        help="Who: a radiologist's or referrer's code, a patient's MRN, a user id (default: the "
        "demo department's user of the role)."
    ),
]
KeyOption = Annotated[
    Path | None,
    typer.Option(help="RS256 PEM private key (default: HS256 with RADFLOW_JWT_SECRET)."),
]


SitesOption = Annotated[
    str | None, typer.Option(help="Comma-separated site codes a technologist works at.")
]
PhiOption = Annotated[
    bool | None,
    typer.Option(
        help="Grant (or withhold) patients' names, birth dates and contact (integrations: off)."
    ),
]


@app.command()
def token(
    role: RoleOption,
    subject: SubjectOption = None,
    hours: float = 12.0,
    private_key: KeyOption = None,
    sites: SitesOption = None,
    phi: PhiOption = None,
) -> None:
    """Mint a bearer token for development (send it as `Authorization: Bearer ...`).

    Without --subject, the token is for the demo department's user of that role."""
    from datetime import timedelta

    from api.auth import ROLES, mint
    from application.demo import DEMO_USERS
    from domain.enums import Role

    if role not in ROLES:
        raise typer.BadParameter(f"unknown role {role!r}; one of {', '.join(sorted(ROLES))}")
    demo_subject, demo_sites = DEMO_USERS[Role(role)]
    site_list = [x for x in sites.split(",") if x] if sites is not None else list(demo_sites)
    typer.echo(
        mint(
            role=Role(role),
            subject=subject or demo_subject,
            settings=get_settings(),
            lifetime=timedelta(hours=hours),
            sites=site_list,
            phi=phi,
            private_key=private_key.read_text() if private_key else None,
        )
    )


@app.command("export-schema")
def export_schema(output: Path = Path("schema.graphql")) -> None:
    """Write the GraphQL schema (SDL) that frontend teams code against."""
    output.write_text(schema_sdl())
    typer.echo(f"wrote {output}")


def schema_sdl() -> str:
    """The schema as SDL, exactly as `export-schema` writes it."""
    from api.schema import build_schema

    return build_schema(get_settings()).as_str() + "\n"


if __name__ == "__main__":
    app()
