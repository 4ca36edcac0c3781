"""A verified token is remembered until it expires, and not a moment longer."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, tzinfo

import jwt
import pytest

from api import auth
from api.auth import AuthenticationFailed, mint, verify
from application.settings import Settings
from domain.enums import Role


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    token = mint(
        role=Role.RADIOLOGIST, subject="rad.chen", settings=settings, lifetime=timedelta(minutes=5)
    )
    assert verify(token, settings).id == "rad.chen"
    assert any(key[0] == token for key in auth._VERIFIED)  # remembered
    later = time.time() + 301

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Later:
            return cls.fromtimestamp(later, tz)

    monkeypatch.setattr(auth.time, "time", lambda: later)  # the memory's clock
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)  # and PyJWT's
    with pytest.raises(AuthenticationFailed, match="expired"):
        verify(token, settings)


def test_a_remembered_token_is_checked_again_under_other_settings() -> None:
    token = mint(role=Role.ADMIN, subject="admin.kim", settings=Settings())
    assert verify(token, Settings()).role is Role.ADMIN
    elsewhere = Settings(RADFLOW_JWT_AUDIENCE="another-api")  # type: ignore[call-arg]
    with pytest.raises(AuthenticationFailed, match="Audience"):
        verify(token, elsewhere)
