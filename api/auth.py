"""Who is calling: bearer tokens (JWT), verified once per request.

Development signs and verifies HS256 with a secret (`RADFLOW_JWT_SECRET`, or a fixed
development secret when unset and not in production); production verifies RS256 against the
configured public keys. Issuer, audience and expiry are always checked. A token names its
person (`sub`: a radiologist's or referrer's code, a patient's MRN, a user id) and `role`;
a technologist's carries `sites` (the site codes they work at), and an integration's may
carry `phi: true` to see patients' identifying details.
No token means an anonymous caller, who may take no lifecycle step.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import jwt

from application.settings import Settings
from domain.enums import Role
from domain.lifecycle import Actor

DEVELOPMENT_SECRET = "radflow-development-secret-do-not-use-in-production"
ANONYMOUS = Actor("anonymous", Role.ANONYMOUS)
ROLES = {r.value for r in Role} - {Role.SYSTEM.value, Role.ANONYMOUS.value}


class AuthenticationFailed(Exception):
    """The token is missing a piece, forged, expired or meant for someone else."""


def _secret(settings: Settings) -> str | None:
    if settings.jwt_secret:
        return settings.jwt_secret
    return None if settings.production else DEVELOPMENT_SECRET


@lru_cache(maxsize=8)
def _public_keys(path: str) -> tuple[str, ...]:
    text = Path(path).read_text()
    marker = "-----END PUBLIC KEY-----"
    return tuple(part.strip() + "\n" + marker for part in text.split(marker) if part.strip())


_VERIFIED: dict[tuple[str, ...], tuple[Actor, float]] = {}
_VERIFIED_MAX = 4096


def verify(token: str, settings: Settings) -> Actor:
    """The actor a bearer token speaks for, or AuthenticationFailed with the reason.

    A token that verified is remembered until it expires (keyed by the token and the
    verification settings): checking a signature costs ~140 µs, more than many requests. A
    remembered token is still refused the moment its `exp` passes.
    """
    key = (
        token,
        _secret(settings) or "",
        settings.jwt_public_keys or "",
        settings.jwt_issuer,
        settings.jwt_audience,
    )
    known = _VERIFIED.get(key)
    if known is not None:
        if time.time() < known[1]:
            return known[0]
        del _VERIFIED[key]
    actor, expires = _verify(token, settings)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()  # a burst of distinct tokens: start over rather than grow
    _VERIFIED[key] = (actor, expires)
    return actor


def _verify(token: str, settings: Settings) -> tuple[Actor, float]:
    candidates: list[tuple[str, str]] = []
    secret = _secret(settings)
    if secret:
        candidates.append((secret, "HS256"))
    if settings.jwt_public_keys:
        candidates += [(key, "RS256") for key in _public_keys(settings.jwt_public_keys)]
    if not candidates:
        raise AuthenticationFailed("no token verification is configured")
    last: Exception | None = None
    for key, algorithm in candidates:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            break
        except jwt.InvalidTokenError as exc:
            last = exc
    else:
        raise AuthenticationFailed(f"invalid token: {last}")
    role, subject = claims.get("role"), claims.get("sub")
    if role not in ROLES or not isinstance(subject, str) or not 0 < len(subject) <= 64:
        raise AuthenticationFailed("the token names no valid role and subject")
    sites = claims.get("sites", [])
    if not isinstance(sites, list) or not all(isinstance(x, str) and x for x in sites):
        raise AuthenticationFailed("the token's `sites` must be a list of site codes")
    phi = claims.get("phi", role != Role.INTEGRATION.value)
    if not isinstance(phi, bool):
        raise AuthenticationFailed("the token's `phi` must be true or false")
    return Actor(subject, Role(role), sites=frozenset(sites), phi=phi), float(claims["exp"])


def expiry(authorization: str) -> datetime | None:
    """When an already verified bearer token expires (None for an unreadable one)."""
    _, _, token = authorization.partition(" ")
    try:
        exp = jwt.decode(token.strip(), options={"verify_signature": False}).get("exp")
    except jwt.InvalidTokenError:
        return None
    return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None


def authenticate(authorization: str | None, settings: Settings) -> Actor:
    """The caller of a request from its Authorization header (none: anonymous)."""
    if not authorization:
        return ANONYMOUS
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("use `Authorization: Bearer <token>`")
    return verify(token.strip(), settings)


def mint(
    *,
    role: Role,
    subject: str,
    settings: Settings,
    lifetime: timedelta = timedelta(hours=12),
    private_key: str | None = None,
    sites: list[str] | None = None,
    phi: bool | None = None,
) -> str:
    """A signed token (HS256 with the secret, or RS256 with a private key).

    `sites`: the site codes a technologist works at; `phi`: grant (or withhold) patients'
    identifying details (integrations are refused them unless granted).
    """
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": subject,
        "role": role.value,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + lifetime,
    }
    if sites:
        claims["sites"] = sites
    if phi is not None:
        claims["phi"] = phi
    if private_key is not None:
        return jwt.encode(claims, private_key, algorithm="RS256")
    secret = _secret(settings)
    if secret is None:
        raise AuthenticationFailed("set RADFLOW_JWT_SECRET (or pass a private key) to mint")
    return jwt.encode(claims, secret, algorithm="HS256")
