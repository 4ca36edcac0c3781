"""A cap that bends for STAT: every STAT someone may read is placed, over the cap only where
no arrangement within it fits, at the rule's price in the objective and with the reason."""

from __future__ import annotations

from datetime import timedelta

from balancer import Params, Snapshot, plan, validate
from balancer.model import ViolationCode
from domain.enums import Priority, Subspecialty
from tests.unit.balancer.conftest import NOW, MakeReader, MakeStudy


def _stats(make_study: MakeStudy, n: int, **kw: object) -> tuple:
    return tuple(
        make_study(
            i,
            priority=Priority.STAT,
            cap_group="STAT",
            ready_at=NOW - timedelta(minutes=i),
            due_at=NOW + timedelta(minutes=30),
            **kw,
        )
        for i in range(1, n + 1)
    )


def test_a_cap_that_holds_leaves_the_stat_out(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    snap = Snapshot(NOW, _stats(make_study, 3), (make_reader(1), make_reader(2)), {"STAT": 1})
    result = plan(snap, Params())
    assert len(result.unassignable) == 1
    assert "over_cap" not in result.objective
    assert validate(snap, result) == []


def test_a_cap_that_bends_places_every_stat_at_its_price(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    readers = (make_reader(1), make_reader(2))
    snap = Snapshot(NOW, _stats(make_study, 3), readers, {"STAT": 1}, {"STAT": 40.0})
    result = plan(snap, Params())
    assert result.unassignable == {}
    assert len(result.assignments) == 3
    assert result.objective["over_cap"] == 40.0
    parts = [result.objective[k] for k in result.objective if k not in ("total", "over_cap")]
    assert abs(result.objective["total"] - sum(parts) - 40.0) < 1e-6
    over = [a for a in result.assignments.values() if "over the cap for STAT" in a.reason]
    assert len(over) == 1
    assert "bends it for STAT at a price of 40" in over[0].reason
    # The one over the cap is behind the other STAT of its reader (the youngest of the two).
    mine = result.worklist(over[0].radiologist_id)
    assert [a.study_id for a in mine][-1] == over[0].study_id
    assert validate(snap, result) == []


def test_the_bend_is_only_for_stat(make_study: MakeStudy, make_reader: MakeReader) -> None:
    urgent = tuple(make_study(i, priority=Priority.URGENT, cap_group="STAT") for i in (8, 9))
    snap = Snapshot(
        NOW, _stats(make_study, 1) + urgent, (make_reader(1),), {"STAT": 1}, {"STAT": 40.0}
    )
    result = plan(snap, Params())
    # One URGENT within the cap, the STAT over it; the other URGENT waits for room.
    assert set(result.assignments) == {1, 8}
    assert set(result.unassignable) == {9}
    assert "over the cap" in result.assignments[1].reason
    assert "over the cap" not in result.assignments[8].reason
    assert result.objective["over_cap"] == 40.0
    assert validate(snap, result) == []


def test_within_the_caps_first_when_an_arrangement_fits(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    # Reader 1 may read both, reader 2 only the body STAT: a greedy placement of the neuro STAT
    # second would go over the cap on reader 1; the flow puts the body one on reader 2.
    both = frozenset({Subspecialty.BODY, Subspecialty.NEURO})
    readers = (make_reader(1, subspecialties=both), make_reader(2))
    body = _stats(make_study, 1)[0]
    neuro = make_study(
        2,
        priority=Priority.STAT,
        cap_group="STAT",
        subspecialty=Subspecialty.NEURO,
        due_at=NOW + timedelta(minutes=30),
    )
    snap = Snapshot(NOW, (body, neuro), readers, {"STAT": 1}, {"STAT": 1000.0})
    result = plan(snap, Params())
    assert result.assignments[2].radiologist_id == 1
    assert result.assignments[1].radiologist_id == 2
    assert result.objective["over_cap"] == 0.0


def test_validate_allows_stats_over_a_bending_cap_and_nothing_else(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    snap = Snapshot(NOW, _stats(make_study, 2), (make_reader(1),), {"STAT": 1}, {"STAT": 5.0})
    result = plan(snap, Params())
    assert validate(snap, result) == []
    held = Snapshot(NOW, snap.studies, snap.radiologists, {"STAT": 1})
    assert ViolationCode.CAP_EXCEEDED in {v.code for v in validate(held, result)}
    # Under a bending cap, a STAT someone may read is never rightly unassignable.
    half = plan(held, Params())
    assert ViolationCode.WRONGLY_UNASSIGNABLE in {v.code for v in validate(snap, half)}


def test_a_bent_stat_stays_put_on_the_next_plan(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    readers = (make_reader(1), make_reader(2))
    snap = Snapshot(NOW, _stats(make_study, 4), readers, {"STAT": 1}, {"STAT": 40.0})
    first = plan(snap, Params())
    held = tuple(
        s.__class__(
            **{
                **{f: getattr(s, f) for f in s.__slots__},
                "assigned_to": first.assignments[s.id].radiologist_id,
            }
        )
        for s in snap.studies
    )
    again = plan(Snapshot(NOW + timedelta(minutes=1), held, readers, snap.caps, snap.cap_bends))
    assert again.moved() == frozenset()
    assert validate(snap, again) == []
