"""Who may read a study right now: credential, site privilege, shift, status and rule limits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from balancer.model import Radiologist, Snapshot, Study
from domain.enums import RadiologistStatus, Subspecialty


def on_shift(radiologist: Radiologist, now: datetime) -> bool:
    """True when `now` falls inside the reader's shift."""
    start, end = radiologist.shift_start, radiologist.shift_end
    return start is not None and end is not None and start <= now < end


def refusal(study: Study, radiologist: Radiologist, now: datetime) -> str | None:
    """Why `radiologist` may not read `study` now, or None when they may."""
    rid = radiologist.id
    if study.subspecialty not in radiologist.subspecialties:
        return f"radiologist {rid} holds no {study.subspecialty} credential"
    if study.site_id not in radiologist.site_privileges:
        return f"radiologist {rid} has no privilege for site {study.site_id}"
    if not on_shift(radiologist, now):
        return f"radiologist {rid} is not on shift"
    if radiologist.status is not RadiologistStatus.AVAILABLE:
        return f"radiologist {rid} is {radiologist.status}"
    if study.allowed_radiologists is not None and rid not in study.allowed_radiologists:
        return f"a rule limits study {study.id} to other radiologists"
    if rid in study.excluded_radiologists:
        return f"a rule excludes radiologist {rid} from study {study.id}"
    return None


def is_eligible(study: Study, radiologist: Radiologist, now: datetime) -> bool:
    """True when `radiologist` may read `study` now."""
    return refusal(study, radiologist, now) is None


def check_pin(snapshot: Snapshot, study_id: int, radiologist_id: int) -> str | None:
    """Why a supervisor may not pin the study to the reader, or None when the pin is allowed."""
    study = next((s for s in snapshot.studies if s.id == study_id), None)
    if study is None:
        return f"study {study_id} is not waiting to be read"
    reader = next((r for r in snapshot.radiologists if r.id == radiologist_id), None)
    if reader is None:
        return f"radiologist {radiologist_id} is unknown"
    if study.opened_by is not None and study.opened_by != radiologist_id:
        return f"study {study_id} is already opened by radiologist {study.opened_by}"
    why = refusal(study, reader, snapshot.now)
    if why is not None:
        return why
    cap = snapshot.caps.get(study.cap_group) if study.cap_group is not None else None
    if cap is not None:
        held = sum(
            1
            for s in snapshot.studies
            if s.id != study_id
            and s.cap_group == study.cap_group
            and radiologist_id in (s.opened_by, s.pinned_to)
        )
        if held >= cap:
            return (
                f"radiologist {radiologist_id} already holds {held} of at most {cap} "
                f"{study.cap_group}"
            )
    return None


def unassignable_reason(study: Study, radiologists: Iterable[Radiologist], now: datetime) -> str:
    """Why no one may take the study: the first filter that empties the pool."""
    pool = list(radiologists)
    steps: list[tuple[str, list[Radiologist]]] = []
    pool = [r for r in pool if study.subspecialty in r.subspecialties]
    steps.append((f"no radiologist holds the {study.subspecialty} credential", pool))
    pool = [r for r in pool if study.site_id in r.site_privileges]
    steps.append(
        (f"no {study.subspecialty} radiologist has privileges for site {study.site_id}", pool)
    )
    pool = [r for r in pool if on_shift(r, now)]
    steps.append(
        (f"no {study.subspecialty} radiologist for site {study.site_id} is on shift", pool)
    )
    pool = [r for r in pool if r.status is RadiologistStatus.AVAILABLE]
    steps.append(
        (f"every {study.subspecialty} radiologist on shift for site {study.site_id} is away", pool)
    )
    pool = [
        r
        for r in pool
        if (study.allowed_radiologists is None or r.id in study.allowed_radiologists)
        and r.id not in study.excluded_radiologists
    ]
    steps.append(("rules exclude every radiologist who could read it", pool))
    for message, remaining in steps:
        if not remaining:
            return message
    return "every eligible radiologist is at the cap for " + str(study.cap_group)


class EligibilityIndex:
    """Eligible reader ids per study, computed once per (subspecialty, site) and then filtered."""

    def __init__(self, radiologists: Iterable[Radiologist], now: datetime) -> None:
        self._active = [
            r for r in radiologists if on_shift(r, now) and r.status is RadiologistStatus.AVAILABLE
        ]
        self._active_ids = frozenset(r.id for r in self._active)
        self._by_key: dict[tuple[Subspecialty, int], tuple[int, ...]] = {}

    def is_active(self, radiologist_id: int) -> bool:
        """True when the reader is on shift and available, so may take work now."""
        return radiologist_id in self._active_ids

    def readers(self, study: Study) -> tuple[int, ...]:
        """Ids of the readers who may read `study` now, in roster order."""
        key = (study.subspecialty, study.site_id)
        base = self._by_key.get(key)
        if base is None:
            base = tuple(
                r.id
                for r in self._active
                if study.subspecialty in r.subspecialties and study.site_id in r.site_privileges
            )
            self._by_key[key] = base
        if study.allowed_radiologists is None and not study.excluded_radiologists:
            return base
        allowed = study.allowed_radiologists
        excluded = study.excluded_radiologists
        return tuple(
            rid for rid in base if (allowed is None or rid in allowed) and rid not in excluded
        )
