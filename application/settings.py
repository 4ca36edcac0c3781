"""One typed settings object, read from the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.enums import CriticalLevel, NotificationChannel

DEFAULT_SQLITE_PATH = Path("var") / "radflow.db"


class Settings(BaseSettings):
    """radflow's configuration; every field maps to an environment variable."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="SQLAlchemy URL: sqlite:///path (embedded default) or "
        "postgresql+asyncpg://user@host/db (production).",
    )
    redis_url: str | None = Field(default=None, description="Redis URL; unset = in-process broker.")
    host: str = Field(default="127.0.0.1", alias="RADFLOW_HOST")
    port: int = Field(default=8000, alias="RADFLOW_PORT")
    production: bool = Field(
        default=False,
        alias="RADFLOW_PRODUCTION",
        description="Production mode: no GraphiQL, no introspection, masked errors.",
    )
    # Hardening (api/limits.py, api/hardening.py): what one request may ask for and how often.
    max_query_depth: int = Field(default=12, gt=0, alias="RADFLOW_MAX_QUERY_DEPTH")
    max_query_aliases: int = Field(
        default=30,
        ge=0,
        alias="RADFLOW_MAX_QUERY_ALIASES",
        description="Aliases in one document, counted with fragments expanded at each spread.",
    )
    max_query_tokens: int = Field(
        default=2_000,
        gt=0,
        alias="RADFLOW_MAX_QUERY_TOKENS",
        description="Lexical tokens in one document; parsing stops past this.",
    )
    max_root_fields: int = Field(
        default=20,
        gt=0,
        alias="RADFLOW_MAX_ROOT_FIELDS",
        description="Top-level fields in one operation, fragments expanded.",
    )
    max_operations: int = Field(
        default=5,
        gt=0,
        alias="RADFLOW_MAX_OPERATIONS",
        description="Operations defined in one document (one of them runs per request).",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        gt=0,
        alias="RADFLOW_MAX_BODY_BYTES",
        description="Largest request body accepted at /graphql (413 past it).",
    )
    rate_limit: str = Field(
        default="1200/minute",
        alias="RADFLOW_RATE_LIMIT",
        description="Requests per caller (token subject, else client address) at /graphql, "
        "as `N/second|minute|hour`; empty turns the limit off.",
    )
    jwt_secret: str | None = Field(
        default=None,
        alias="RADFLOW_JWT_SECRET",
        description="HS256 secret for bearer tokens; development falls back to a fixed one.",
    )
    jwt_public_keys: str | None = Field(
        default=None,
        alias="RADFLOW_JWT_PUBLIC_KEYS",
        description="Path of a PEM file with the RS256 public key(s) tokens are signed for.",
    )
    jwt_issuer: str = Field(default="radflow", alias="RADFLOW_JWT_ISSUER")
    jwt_audience: str = Field(default="radflow-api", alias="RADFLOW_JWT_AUDIENCE")
    balancer_enabled: bool = Field(
        default=True,
        alias="RADFLOW_BALANCER",
        description="Run the worklist balancer in this process (re-plan on events and ticks).",
    )
    balancer_tick_seconds: float = Field(default=30.0, gt=0, alias="RADFLOW_BALANCER_TICK")
    balancer_search_seconds: float = Field(
        default=1.0,
        ge=0,
        alias="RADFLOW_BALANCER_SEARCH",
        description="Seconds of CP-SAT neighbourhood search per cycle the balancer's leader "
        "runs between events while it keeps winning (balancer.lns); 0 = no search.",
    )
    release_grace_minutes: float = Field(
        default=10.0,
        ge=0,
        alias="RADFLOW_RELEASE_GRACE",
        description="Minutes an opened STAT or URGENT study waits for its absent reader (off "
        "shift, on a break, past the shift's end) before the balancer's leader gives it back "
        "to the balancer; 0 = never by itself (supervisors release with releaseRead).",
    )

    @property
    def release_grace(self) -> timedelta | None:
        """`release_grace_minutes` as a duration, or None when releases are manual only."""
        minutes = self.release_grace_minutes
        return timedelta(minutes=minutes) if minutes > 0 else None

    # Live updates (api/live): outbox relay, broker names, subscription limits.
    live_prefix: str = Field(
        default="radflow",
        alias="RADFLOW_LIVE_PREFIX",
        description="Prefix of the Redis stream (and keys) this deployment publishes events to.",
    )
    outbox_retention_hours: float = Field(
        default=72.0,
        gt=0,
        alias="RADFLOW_OUTBOX_RETENTION_HOURS",
        description="Published outbox rows older than this are pruned (by the clock, once "
        "every HL7 destination, FHIR subscription and the live relay has passed them); resume "
        "reaches back this far.",
    )
    outbox_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        alias="RADFLOW_OUTBOX_POLL",
        description="How often the relay looks for rows committed by other processes.",
    )
    live_stream_maxlen: int = Field(
        default=100_000,
        gt=0,
        alias="RADFLOW_LIVE_STREAM_MAXLEN",
        description="Approximate length the Redis stream is trimmed to (the outbox keeps "
        "the history).",
    )
    outbox_max_lag_seconds: float = Field(
        default=30.0,
        gt=0,
        alias="RADFLOW_OUTBOX_MAX_LAG",
        description="/readyz marks the outbox degraded (still ready) while the oldest "
        "unpublished event is older than this.",
    )
    ws_max_subscriptions: int = Field(
        default=20,
        gt=0,
        alias="RADFLOW_WS_MAX_SUBSCRIPTIONS",
        description="Subscriptions one WebSocket may hold.",
    )
    ws_init_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        alias="RADFLOW_WS_INIT_TIMEOUT",
        description="Seconds a WebSocket has to send connection_init (else closed 4408).",
    )
    ws_allow_anonymous: bool = Field(
        default=True,
        alias="RADFLOW_WS_ALLOW_ANONYMOUS",
        description="Accept WebSocket connections that present no token.",
    )
    # Metrics (domain/metrics).
    late_cancellation_hours: float = Field(
        default=24.0,
        gt=0,
        alias="RADFLOW_LATE_CANCELLATION_HOURS",
        description="A cancellation less than this long before the appointment is late (the "
        "late cancellation rate counts these).",
    )
    # Operations (api/observability.py), balancer leadership (application/planning/leadership.py).
    metrics_enabled: bool = Field(
        default=True,
        alias="RADFLOW_METRICS",
        description="Serve Prometheus metrics at /metrics and count and time each GraphQL "
        "operation.",
    )
    replica_id: str | None = Field(
        default=None,
        alias="RADFLOW_REPLICA_ID",
        description="This replica's name in the leadership record, balancer runs and logs; "
        "default host:pid.",
    )
    leader_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        alias="RADFLOW_LEADER_POLL",
        description="How often a follower tries to take the balancer over (PostgreSQL); the "
        "leader renews its lease at least this often.",
    )
    leader_lease_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        alias="RADFLOW_LEADER_LEASE",
        description="How long the balancer leader's lease lasts without renewal (PostgreSQL); "
        "also bounds each plan commit. A stalled leader loses the balancer within about the "
        "lease plus one poll.",
    )
    # The hospital's interfaces (interfaces/, docs/interop.md).
    hl7_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        alias="RADFLOW_HL7_PORT",
        description="Listen for HL7 v2 over MLLP on this port (with `radflow serve`, or alone "
        "with `radflow hl7`); unset = no listener.",
    )
    hl7_host: str = Field(default="127.0.0.1", alias="RADFLOW_HL7_HOST")
    hl7_actor: str = Field(
        default="hl7.interface",
        alias="RADFLOW_HL7_ACTOR",
        description="Who the HL7 interface acts as (role integration), in histories and audit.",
    )
    hl7_site: str | None = Field(
        default=None,
        alias="RADFLOW_HL7_SITE",
        description="The site an order is for when MSH-6 (receiving facility) names none.",
    )
    hl7_destinations: str | None = Field(
        default=None,
        alias="RADFLOW_HL7_DESTINATIONS",
        description="Where the department's HL7 v2 messages go (ORM status, ORU results): "
        "NAME=host:port, comma-separated; sent by the balancer's leader.",
    )
    hl7_charge_destinations: str | None = Field(
        default=None,
        alias="RADFLOW_HL7_CHARGE_DESTINATIONS",
        description="Which of RADFLOW_HL7_DESTINATIONS (names, comma-separated) are also sent "
        "a DFT^P03 charge (the procedure's CPT code and charge) when an exam is performed.",
    )
    fhir_subscription_endpoints: str | None = Field(
        default=None,
        alias="RADFLOW_FHIR_SUBSCRIPTION_ENDPOINTS",
        description="The endpoints FHIR Subscriptions may post to: base URLs, comma-separated "
        "(same scheme and host, the port if given, under the path); unset = none, so no "
        "subscriber can aim the server at an address inside the network.",
    )
    hl7_max_bytes: int = Field(
        default=1_048_576,
        gt=0,
        alias="RADFLOW_HL7_MAX_BYTES",
        description="The largest MLLP frame accepted; a larger one closes its connection.",
    )
    hl7_idle_seconds: float = Field(
        default=300.0,
        gt=0,
        alias="RADFLOW_HL7_IDLE_SECONDS",
        description="How long the MLLP listener waits for a sender's next whole frame (a silent "
        "sender, or one that stops or trickles mid-frame) before it closes that connection.",
    )
    dicom_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        alias="RADFLOW_DICOM_PORT",
        description="Serve DICOM Modality Worklist (C-FIND) and MPPS on this port (with "
        "`radflow serve`, or alone with `radflow dicom`); unset = no DICOM service.",
    )
    dicom_host: str = Field(default="127.0.0.1", alias="RADFLOW_DICOM_HOST")
    dicom_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        alias="RADFLOW_DICOM_WORKERS",
        description="Processes `radflow dicom` serves the DICOM port with (the kernel shares "
        "the port's associations among them, SO_REUSEPORT): one Python process answers C-FINDs "
        "on one core at a time; about two per core. Needs a fixed RADFLOW_DICOM_PORT.",
    )
    dicom_ae_title: str = Field(
        default="RADFLOW",
        min_length=1,
        max_length=16,
        alias="RADFLOW_DICOM_AE_TITLE",
        description="radflow's own AE title: the called AE title scanners address.",
    )
    dicom_uid_root: str = Field(
        default="2.25.209446305390880542318346389779496016817",
        pattern=r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$",
        max_length=52,  # room for ".<exam id>" within a UID's 64 characters
        alias="RADFLOW_DICOM_UID_ROOT",
        description="The UID root of the Study Instance UIDs radflow assigns (root.exam id); "
        "set the department's own registered root in production.",
    )
    dicom_max_matches: int = Field(
        default=1000,
        gt=0,
        alias="RADFLOW_DICOM_MAX_MATCHES",
        description="Most worklist entries one C-FIND answers (a narrower query gets the rest).",
    )
    dicom_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        alias="RADFLOW_DICOM_TIMEOUT",
        description="How long one DICOM request may wait for the database before it fails.",
    )
    # The PACS (Orthanc) whose stable studies radflow follows (interfaces/dicom/pacs.py).
    orthanc_url: str | None = Field(
        default=None,
        alias="RADFLOW_ORTHANC_URL",
        description="Orthanc's REST API (e.g. http://orthanc:8042); unset = no PACS follower.",
    )
    orthanc_username: str | None = Field(default=None, alias="RADFLOW_ORTHANC_USERNAME")
    orthanc_password: str | None = Field(default=None, alias="RADFLOW_ORTHANC_PASSWORD")
    orthanc_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        alias="RADFLOW_ORTHANC_POLL",
        description="Seconds between reads of Orthanc's changes feed when it has nothing new.",
    )
    dicomweb_url: str | None = Field(
        default=None,
        alias="RADFLOW_DICOMWEB_URL",
        description="The DICOMweb root a study is retrieved from (default: Orthanc's "
        "/dicom-web); a study's URL is <root>/studies/<Study Instance UID>.",
    )
    viewer_url_template: str | None = Field(
        default=None,
        alias="RADFLOW_VIEWER_URL",
        description="A viewer link for each study, with {study_instance_uid}, {accession} "
        "and {pacs_id} filled in (e.g. https://ohif.example/viewer?StudyInstanceUIDs="
        "{study_instance_uid}).",
    )
    # The clock (application/clock.py) and notification delivery (docs/notifications.md).
    clock_enabled: bool = Field(
        default=True,
        alias="RADFLOW_CLOCK",
        description="Run timed work (escalations, delivery, no-shows, follow-ups due) in this "
        "replica; each run happens on one replica whatever their number.",
    )
    clock_poll_seconds: float = Field(
        default=1.0, gt=0, alias="RADFLOW_CLOCK_POLL", description="How often the clock looks."
    )
    clock_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        alias="RADFLOW_CLOCK_LEASE",
        description="How long a claim on due work (or on a notification being sent) holds: "
        "work whose replica died is taken up again after this.",
    )
    expiry_every_seconds: float = Field(
        default=3600.0,
        gt=0,
        alias="RADFLOW_EXPIRY_EVERY",
        description="How often every stored study's expiry is worked out again from the "
        "retention policy (deletion is never timed: only purgeExpiredStudies deletes).",
    )
    escalation_every_seconds: float = Field(
        default=2.0,
        gt=0,
        alias="RADFLOW_ESCALATION_EVERY",
        description="How often unacknowledged critical results past their window escalate.",
    )
    critical_window_minutes: int = Field(
        default=60,
        gt=0,
        alias="RADFLOW_CRITICAL_WINDOW_MINUTES",
        description="Minutes a CRITICAL result has to be acknowledged (and a CRITICAL finding "
        "signed final to be communicated) before it escalates (ACR: minutes).",
    )
    urgent_window_minutes: int = Field(
        default=360,
        gt=0,
        alias="RADFLOW_URGENT_WINDOW_MINUTES",
        description="The same window for an URGENT result (ACR: hours).",
    )
    unexpected_window_minutes: int = Field(
        default=4320,
        gt=0,
        alias="RADFLOW_UNEXPECTED_WINDOW_MINUTES",
        description="The acknowledgement window of an UNEXPECTED significant result (ACR: "
        "days); it is measured, not escalated.",
    )
    survey_secret: str | None = Field(
        default=None,
        alias="RADFLOW_SURVEY_SECRET",
        description="The key survey links are signed with (HMAC, by itsdangerous); unset = "
        "the bearer tokens' secret.",
    )
    survey_link_days: float = Field(
        default=14.0,
        gt=0,
        alias="RADFLOW_SURVEY_LINK_DAYS",
        description="How long a survey invitation's link stays valid after it was sent.",
    )
    survey_url: str | None = Field(
        default=None,
        alias="RADFLOW_SURVEY_URL",
        description="The public address of this API's survey page, links end in /<token> "
        "(e.g. https://radiology.example/survey); unset = RADFLOW_NOTIFY_LINK_BASE + /survey.",
    )
    survey_invite_after_hours: float = Field(
        default=24.0,
        ge=0,
        alias="RADFLOW_SURVEY_INVITE_AFTER_HOURS",
        description="How long after the result is communicated the patient is invited to "
        "the satisfaction survey.",
    )
    no_show_grace_minutes: float | None = Field(
        default=None,
        ge=0,
        alias="RADFLOW_NO_SHOW_GRACE_MINUTES",
        description="Mark a booked appointment nobody arrived for a no-show this long after "
        "its slot ends; unset = off (no-shows are recorded by hand).",
    )
    follow_up_every_seconds: float = Field(
        default=600.0,
        gt=0,
        alias="RADFLOW_FOLLOW_UP_EVERY",
        description="How often follow-ups that fell due are notified to their referrer (and "
        "overdue ones escalated).",
    )
    retention_every_seconds: float = Field(
        default=3600.0,
        gt=0,
        alias="RADFLOW_RETENTION_EVERY",
        description="How often the clock prunes old operational rows (outbox, notifications, "
        "scheduled work, inbound messages).",
    )
    notification_retention_days: float = Field(
        default=90.0,
        gt=0,
        alias="RADFLOW_NOTIFICATION_RETENTION_DAYS",
        description="Notifications sent or cancelled longer ago than this are deleted (FAILED "
        "ones, the dead letters, stay until retried).",
    )
    scheduled_work_retention_days: float = Field(
        default=7.0,
        gt=0,
        alias="RADFLOW_SCHEDULED_WORK_RETENTION_DAYS",
        description="Scheduled work no replica has run for this long (a kind no longer "
        "configured) is deleted.",
    )
    hl7_idempotency_days: float = Field(
        default=7.0,
        gt=0,
        alias="RADFLOW_HL7_IDEMPOTENCY_DAYS",
        description="A re-sent HL7 message (same sender and MSH-10) within this long gets its "
        "recorded acknowledgement back; the records of older ones are deleted.",
    )
    follow_up_escalate_days: float = Field(
        default=14.0,
        gt=0,
        alias="RADFLOW_FOLLOW_UP_ESCALATE_DAYS",
        description="An open follow-up past its due date with no exam ordered for it is "
        "escalated this long after its referrer was told it fell due, and again each time "
        "this long passes: the referrer, the covering physician, then the supervisor.",
    )
    follow_up_track_seconds: float = Field(
        default=30.0,
        gt=0,
        alias="RADFLOW_FOLLOW_UP_TRACK_EVERY",
        description="How often open follow-ups are matched with newly ordered exams and "
        "completed when the matched exam is reported.",
    )
    notify_every_seconds: float = Field(
        default=2.0,
        gt=0,
        alias="RADFLOW_NOTIFY_EVERY",
        description="How often due notifications are sent (reminders at their send time).",
    )
    notify_max_attempts: int = Field(
        default=5,
        gt=0,
        alias="RADFLOW_NOTIFY_MAX_ATTEMPTS",
        description="Tries of one notification before it is FAILED (the dead-letter list).",
    )
    notify_backoff_seconds: float = Field(
        default=30.0,
        ge=0,
        alias="RADFLOW_NOTIFY_BACKOFF",
        description="The wait after a first failed try; it doubles with each try.",
    )
    notify_max_backoff_seconds: float = Field(
        default=3600.0, ge=0, alias="RADFLOW_NOTIFY_MAX_BACKOFF"
    )
    notify_phi_channels: str = Field(
        default="",
        alias="RADFLOW_NOTIFY_PHI_CHANNELS",
        description="Channels allowed to carry details (accession, times), comma-separated "
        "(EMAIL, SMS); others get a minimal text and a link.",
    )
    notify_link_base: str | None = Field(
        default=None,
        alias="RADFLOW_NOTIFY_LINK_BASE",
        description="The portal address a message links to (/messages/<delivery id>).",
    )
    smtp_host: str | None = Field(
        default=None, alias="RADFLOW_SMTP_HOST", description="SMTP relay; unset = no e-mail."
    )
    smtp_port: int = Field(default=25, gt=0, le=65535, alias="RADFLOW_SMTP_PORT")
    smtp_from: str = Field(default="radiology@localhost", alias="RADFLOW_SMTP_FROM")
    smtp_username: str | None = Field(default=None, alias="RADFLOW_SMTP_USERNAME")
    smtp_password: str | None = Field(default=None, alias="RADFLOW_SMTP_PASSWORD")
    smtp_starttls: bool = Field(default=False, alias="RADFLOW_SMTP_STARTTLS")
    webhook_url: str | None = Field(
        default=None,
        alias="RADFLOW_WEBHOOK_URL",
        description="Where the webhook channel POSTs (ids only, HMAC-SHA256 signed); unset = "
        "no webhook.",
    )
    webhook_secret: str | None = Field(default=None, alias="RADFLOW_WEBHOOK_SECRET")
    webhook_channels: str = Field(
        default="PORTAL,PHONE",
        alias="RADFLOW_WEBHOOK_CHANNELS",
        description="The notification channels the webhook serves, comma-separated.",
    )
    sms_gateway_url: str | None = Field(
        default=None,
        alias="RADFLOW_SMS_GATEWAY_URL",
        description="An SMS gateway's HTTP endpoint; unset = no SMS.",
    )
    sms_gateway_token: str | None = Field(default=None, alias="RADFLOW_SMS_GATEWAY_TOKEN")
    sms_sender: str = Field(default="radflow", alias="RADFLOW_SMS_SENDER")

    @property
    def result_windows(self) -> dict[CriticalLevel, timedelta]:
        """Each finding category's acknowledgement window."""
        return {
            CriticalLevel.CRITICAL: timedelta(minutes=self.critical_window_minutes),
            CriticalLevel.URGENT: timedelta(minutes=self.urgent_window_minutes),
            CriticalLevel.UNEXPECTED: timedelta(minutes=self.unexpected_window_minutes),
        }

    @property
    def survey_link_base(self) -> str | None:
        """Where a survey link points, before its token."""
        if self.survey_url:
            return self.survey_url.rstrip("/")
        if self.notify_link_base:
            return self.notify_link_base.rstrip("/") + "/survey"
        return None

    @property
    def webhook_channel_set(self) -> frozenset[NotificationChannel]:
        return _channels(self.webhook_channels, "RADFLOW_WEBHOOK_CHANNELS")

    @property
    def phi_channel_set(self) -> frozenset[NotificationChannel]:
        return _channels(self.notify_phi_channels, "RADFLOW_NOTIFY_PHI_CHANNELS")

    @property
    def fhir_subscription_endpoint_list(self) -> tuple[str, ...]:
        text = self.fhir_subscription_endpoints or ""
        return tuple(base.strip() for base in text.split(",") if base.strip())


def _channels(names: str, variable: str) -> frozenset[NotificationChannel]:
    try:
        return frozenset(
            NotificationChannel(n.strip().upper()) for n in names.split(",") if n.strip()
        )
    except ValueError as exc:
        known = ", ".join(c.value for c in NotificationChannel)
        raise ValueError(f"{variable}: {exc} (known channels: {known})") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
