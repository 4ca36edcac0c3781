"""`validate(snapshot, plan)`: every hard rule checked from the snapshot alone, solver-blind."""

from __future__ import annotations

from collections import Counter, defaultdict

from balancer.eligibility import EligibilityIndex, refusal
from balancer.maximum import placeable
from balancer.model import (
    Assignment,
    Plan,
    Radiologist,
    Snapshot,
    Study,
    Violation,
    ViolationCode,
)
from domain.enums import Priority


def validate(snapshot: Snapshot, plan: Plan) -> list[Violation]:
    """All the ways `plan` breaks a hard rule for `snapshot`; an empty list means valid."""
    out: list[Violation] = []
    studies = {s.id: s for s in snapshot.studies}
    readers = {r.id: r for r in snapshot.radiologists}
    out += _coverage(studies, plan)
    groups: Counter[tuple[int, str]] = Counter()
    fixed_groups: Counter[tuple[int, str]] = Counter()
    stats: Counter[tuple[int, str]] = Counter()  # unopened STATs held, where the cap bends
    for a in plan.assignments.values():
        s = studies.get(a.study_id)
        if s is None:
            continue
        if s.cap_group is not None:
            target = fixed_groups if s.opened_by is not None else groups
            target[(a.radiologist_id, s.cap_group)] += 1
            if (
                s.opened_by is None
                and s.priority is Priority.STAT
                and s.cap_group in snapshot.cap_bends
            ):
                stats[(a.radiologist_id, s.cap_group)] += 1
        out += _placement(snapshot, s, a, readers)
    for (rid, g), held in groups.items():
        cap = snapshot.caps.get(g)
        # Where the cap bends for STAT, only STATs may be over it.
        bent = min(stats[(rid, g)], held) if g in snapshot.cap_bends else 0
        if cap is not None and held + fixed_groups[(rid, g)] > cap + bent:
            out.append(
                Violation(
                    ViolationCode.CAP_EXCEEDED,
                    f"radiologist {rid} holds {held + fixed_groups[(rid, g)]} {g}, cap {cap}",
                    radiologist_id=rid,
                )
            )
    for s in (studies[a.study_id] for a in plan.assignments.values() if a.study_id in studies):
        out += _pin(snapshot, s, plan, groups, fixed_groups)
    out += _order(studies, plan)
    out += _unassignable(snapshot, studies, plan, groups, fixed_groups)
    out += _not_maximum(snapshot, studies, plan)
    return out


def _coverage(studies: dict[int, Study], plan: Plan) -> list[Violation]:
    out = []
    for sid in plan.assignments.keys() | plan.unassignable.keys():
        if sid not in studies:
            out.append(
                Violation(ViolationCode.UNKNOWN_STUDY, f"study {sid} is not open", study_id=sid)
            )
    for sid in studies:
        here, gone = sid in plan.assignments, sid in plan.unassignable
        if not here and not gone:
            out.append(
                Violation(
                    ViolationCode.DROPPED,
                    f"study {sid} is neither assigned nor reported unassignable",
                    study_id=sid,
                )
            )
        elif here and gone:
            out.append(
                Violation(
                    ViolationCode.DOUBLE_BOOKED,
                    f"study {sid} is both assigned and unassignable",
                    study_id=sid,
                )
            )
    for sid, a in plan.assignments.items():
        if a.study_id != sid:
            out.append(
                Violation(
                    ViolationCode.DOUBLE_BOOKED,
                    f"assignment keyed {sid} is for study {a.study_id}",
                    study_id=sid,
                )
            )
    return out


def _placement(
    snapshot: Snapshot, s: Study, a: Assignment, readers: dict[int, Radiologist]
) -> list[Violation]:
    rid = a.radiologist_id
    if s.opened_by is not None:
        if rid != s.opened_by:
            return [
                Violation(
                    ViolationCode.OPENED_MOVED,
                    f"study {s.id} is opened by {s.opened_by} but planned for {rid}",
                    s.id,
                    rid,
                )
            ]
        return []
    reader = readers.get(rid)
    if reader is None:
        return [
            Violation(ViolationCode.UNKNOWN_RADIOLOGIST, f"radiologist {rid} is unknown", s.id, rid)
        ]
    why = refusal(s, reader, snapshot.now)
    if why is not None:
        return [Violation(ViolationCode.INELIGIBLE, f"study {s.id}: {why}", s.id, rid)]
    return []


def _pin(
    snapshot: Snapshot,
    s: Study,
    plan: Plan,
    groups: Counter[tuple[int, str]],
    fixed: Counter[tuple[int, str]],
) -> list[Violation]:
    pin = s.pinned_to
    if pin is None or s.opened_by is not None:
        return []
    a = plan.assignments[s.id]
    if a.radiologist_id == pin:
        return []
    reader = next((r for r in snapshot.radiologists if r.id == pin), None)
    if reader is None or refusal(s, reader, snapshot.now) is not None:
        return []  # the pin lapsed: its reader may not take the study now
    cap = snapshot.caps.get(s.cap_group) if s.cap_group is not None else None
    if cap is not None and s.cap_group is not None:
        key = (pin, s.cap_group)
        if groups[key] + fixed[key] >= cap:
            return []  # the pinned reader has no room left in the cap group
    return [
        Violation(
            ViolationCode.PIN_BROKEN,
            f"study {s.id} is pinned to {pin} but planned for {a.radiologist_id}",
            s.id,
            a.radiologist_id,
        )
    ]


def _order(studies: dict[int, Study], plan: Plan) -> list[Violation]:
    # The order among unopened studies is a policy of the planner's params, not a hard rule;
    # what every plan must get right is one position per item and opened work first.
    out: list[Violation] = []
    lists: dict[int, list[Assignment]] = defaultdict(list)
    for a in plan.assignments.values():
        lists[a.radiologist_id].append(a)
    for rid, items in lists.items():
        items.sort(key=lambda a: a.position)
        if [a.position for a in items] != list(range(len(items))):
            out.append(
                Violation(
                    ViolationCode.BAD_POSITION,
                    f"worklist of {rid} has positions {[a.position for a in items][:10]}...",
                    radiologist_id=rid,
                )
            )
            continue
        seen_unopened = False
        for a in items:
            s = studies.get(a.study_id)
            if s is None:
                continue
            if s.opened_by is None:
                seen_unopened = True
            elif seen_unopened:
                out.append(
                    Violation(
                        ViolationCode.BAD_ORDER,
                        f"opened study {s.id} is behind unopened work on {rid}'s worklist",
                        s.id,
                        rid,
                    )
                )
    return out


def _unassignable(
    snapshot: Snapshot,
    studies: dict[int, Study],
    plan: Plan,
    groups: Counter[tuple[int, str]],
    fixed: Counter[tuple[int, str]],
) -> list[Violation]:
    out = []
    for sid in plan.unassignable:
        s = studies.get(sid)
        if s is None or sid in plan.assignments:
            continue  # reported as unknown or double-booked already
        if s.opened_by is not None:
            out.append(
                Violation(
                    ViolationCode.WRONGLY_UNASSIGNABLE,
                    f"study {sid} is opened by {s.opened_by}",
                    sid,
                )
            )
            continue
        cap = snapshot.caps.get(s.cap_group) if s.cap_group is not None else None
        if s.priority is Priority.STAT and s.cap_group in snapshot.cap_bends:
            cap = None  # the cap bends for it: any reader who may read it has room
        for r in snapshot.radiologists:
            if refusal(s, r, snapshot.now) is not None:
                continue
            if cap is not None and s.cap_group is not None:
                key = (r.id, s.cap_group)
                if groups[key] + fixed[key] >= cap:
                    continue
            out.append(
                Violation(
                    ViolationCode.WRONGLY_UNASSIGNABLE,
                    f"study {sid} is reported unassignable but radiologist {r.id} may read it",
                    sid,
                    r.id,
                )
            )
            break
    return out


def _not_maximum(snapshot: Snapshot, studies: dict[int, Study], plan: Plan) -> list[Violation]:
    # No single reader may have room (above), and no re-arrangement may place more: checked by
    # a max-flow only for a cap group with a study left out that someone may read.
    index = EligibilityIndex(snapshot.radiologists, snapshot.now)
    left = (studies[sid] for sid in plan.unassignable if sid in studies)
    groups = {
        s.cap_group
        for s in left
        if s.cap_group in snapshot.caps
        and s.opened_by is None
        and s.id not in plan.assignments
        and index.readers(s)
    }
    out = []
    for g in sorted(str(g) for g in groups):
        members = [s for s in studies.values() if s.cap_group == g and s.opened_by is None]
        placed = [s for s in members if s.id in plan.assignments]
        pins = {
            s.id: s.pinned_to
            for s in placed
            if s.pinned_to is not None and plan.assignments[s.id].radiologist_id == s.pinned_to
        }
        most = placeable(snapshot, g, pins)
        if len(placed) < most:
            out.append(
                Violation(
                    ViolationCode.NOT_MAXIMUM,
                    f"{len(placed)} {g} studies placed where {most} fit within the cap",
                )
            )
    return out
