"""Bench the balancer: cold plan, 50 single-event re-plans, and the distances to the best plan
known and to a proven bound.

python -m bench.balancer [--quick] [--seed N] [--best-seconds S] [--open N --radiologists M]
                         [--hold-waiting-bound]

Prints progress and per-instance figures; the LAST line is the JSON for 5,000 studies x 100
radiologists (with `--open` and `--radiologists`, for that instance alone: 20,000 x 400 is the
network scale): {"open", "radiologists", "cold_ms", "replan_p95_ms", "churn", "gap", "ineligible",
"stat_placed", "stat_placeable", "aged_overtaken_30min", "big_event_ms", "big_event_churn"}.

`stat_placed` / `stat_placeable`: after the cold plan, a burst of STATs arrives (enough that
the snapshot's cap of 2 open STATs per reader binds); the STATs the re-plan places, and the
most any plan could place (a max-flow from the snapshot, `balancer.maximum`).
`gap` (kept from the first step): the cold plan against the best of itself, CP-SAT hinted with it
and the fast path given a long limit, each 60 s. `gap_to_best`: the cold plan against the best
plan any method here found for the instance in a long run (`bench.best_known`: the
neighbourhood search from several starts, cached in bench/best_known/ by instance);
`gap_to_best_searched`: the cold plan after 10 s of the live loop's neighbourhood search
(`balancer.lns`), against the same. `gap_to_bound`: the cold plan against the highest of the
proven lower bounds (CP-SAT's on the whole model, `bench.best_known`; the mean-busy-time and
completion-rank relaxations of `balancer.bounds`), the one used named in `bound_method`.
`replan_p95_cpu_ms`: the same re-plans' CPU time in this process (`time.process_time`), which
other work on a shared machine does not inflate as it does the wall-clock `replan_p95_ms`.
`big_event_ms` / `big_event_churn`: the worse of that burst's re-plan and of a reader with
200 studies on their worklist going off shift (time; share of other studies moved).
The cold plan, the large events and the single events are planned one after another by one
`balancer.planner.Planner`, as the leader's runner plans them: each re-plan compiles only the
studies that changed. Above `CPSAT_MAX_PAIRS` study x reader pairs (the network) CP-SAT's
whole model is not built (minutes and gigabytes in Python): `gap` is then against the fast
path's own long search alone and the best known plan is searched from the fast starts only.
`aged_overtaken_30min`: studies past their age limit that younger work ranked behind them
starts more than 30 min before on a reader who may read them (`balancer.waiting`), the worst
of the cold plan and the single-event re-plans (the burst's is printed, not in the key: a large
event leaves some for the next re-plans to repair). `waiting_bound_held`: whether the run held
that bound (`--hold-waiting-bound`, as a department's rule has the live balancer do; the
balancer's own default, and the bench's, leaves it off).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from collections.abc import Iterator
from datetime import timedelta

import numpy as np

from balancer import Params, Plan, Snapshot, ViolationCode, plan, validate
from balancer.assignments import as_array
from balancer.cpsat import solve
from balancer.maximum import placeable
from balancer.objective import evaluate
from balancer.planner import Planner
from balancer.problem import IntArray, compile_problem
from balancer.simulation.department import bench_snapshot as department
from balancer.simulation.department import make_study
from balancer.waiting import overtaken
from domain.enums import Priority, RadiologistStatus

EVENTS = ("arrive", "finish", "leave")
EVENT_WEIGHTS = (0.5, 0.4, 0.1)
# STATs in the burst that makes the STAT cap bind.
STAT_BURST = 200
# Studies on the worklist of the reader who leaves in the large-event figures.
BIG_LIST = 200
# Above this many study x reader pairs CP-SAT's whole model is not built (the network scale).
CPSAT_MAX_PAIRS = 1_000_000


@dataclasses.dataclass
class Figures:
    """What one instance measured."""

    open: int
    radiologists: int
    cold_ms: float
    replan_ms: list[float] = dataclasses.field(default_factory=list)
    replan_cpu_ms: list[float] = dataclasses.field(default_factory=list)
    churn: list[float] = dataclasses.field(default_factory=list)
    violations: int = 0
    ineligible: int = 0
    gap: float = 0.0
    gap_to_bound: float | None = None
    gap_to_best: float = 0.0
    gap_to_best_searched: float = 0.0
    bound_method: str = ""
    stat_placed: int = 0
    stat_placeable: int = 0
    aged_overtaken: int = 0
    big_event_ms: float = 0.0
    big_event_churn: float = 0.0
    bound_held: bool = False

    def summary(self) -> dict[str, object]:
        """The JSON figures."""
        return {
            "open": self.open,
            "radiologists": self.radiologists,
            "cold_ms": round(self.cold_ms, 1),
            "replan_p95_ms": round(float(np.percentile(self.replan_ms, 95)), 1),
            "replan_p95_cpu_ms": round(float(np.percentile(self.replan_cpu_ms, 95)), 1),
            "churn": round(float(np.mean(self.churn)), 5),
            "gap": round(self.gap, 5),
            "gap_to_best": round(self.gap_to_best, 5),
            "gap_to_best_searched": round(self.gap_to_best_searched, 5),
            "gap_to_bound": None if self.gap_to_bound is None else round(self.gap_to_bound, 5),
            "bound_method": self.bound_method,
            "ineligible": self.ineligible,
            "stat_placed": self.stat_placed,
            "stat_placeable": self.stat_placeable,
            "aged_overtaken_30min": self.aged_overtaken,
            "big_event_ms": round(self.big_event_ms, 1),
            "big_event_churn": round(self.big_event_churn, 5),
            "waiting_bound_held": self.bound_held,
        }


def carry_over(snapshot: Snapshot, result: Plan) -> Snapshot:
    """The plan's readers become the studies' current assignment."""
    studies = tuple(
        dataclasses.replace(
            s,
            assigned_to=(
                result.assignments[s.id].radiologist_id if s.id in result.assignments else None
            ),
        )
        for s in snapshot.studies
    )
    return dataclasses.replace(snapshot, studies=studies)


def next_event(
    rng: random.Random, snap: Snapshot, result: Plan, next_id: int
) -> tuple[str, Snapshot, set[int]]:
    """One event applied to the carried-over snapshot, a minute later; returns touched studies."""
    kind = rng.choices(EVENTS, weights=EVENT_WEIGHTS)[0]
    now = snap.now + timedelta(minutes=1)
    snap = dataclasses.replace(carry_over(snap, result), now=now)
    studies = list(snap.studies)
    if kind == "arrive":
        study, _ = make_study(rng, next_id, now)
        return kind, dataclasses.replace(snap, studies=(*studies, study)), {next_id}
    available = [r for r in snap.radiologists if r.status is RadiologistStatus.AVAILABLE]
    if kind == "finish":
        readers = [r.id for r in available if any(s.opened_by == r.id for s in studies)]
        rid = rng.choice(readers)
        done = next(s for s in studies if s.opened_by == rid)
        studies.remove(done)
        touched = {done.id}
        nxt = next((a for a in result.worklist(rid) if a.study_id != done.id), None)
        if nxt is not None:
            j = next(i for i, s in enumerate(studies) if s.id == nxt.study_id)
            if studies[j].opened_by is None:
                studies[j] = dataclasses.replace(studies[j], opened_by=rid, opened_at=now)
                touched.add(studies[j].id)
        return kind, dataclasses.replace(snap, studies=tuple(studies)), touched
    leaver = rng.choice(available)
    roster = tuple(
        dataclasses.replace(r, status=RadiologistStatus.OFF) if r.id == leaver.id else r
        for r in snap.radiologists
    )
    touched = {a.study_id for a in result.worklist(leaver.id)}
    return kind, dataclasses.replace(snap, radiologists=roster), touched


def stat_burst(rng: random.Random, snap: Snapshot, result: Plan, count: int) -> Snapshot:
    """The carried-over snapshot a minute later with `count` STATs just arrived."""
    now = snap.now + timedelta(minutes=1)
    burst = []
    for i in range(count):
        study, _ = make_study(rng, 2_000_000 + i, now)
        burst.append(
            dataclasses.replace(
                study, priority=Priority.STAT, cap_group="STAT", due_at=now + timedelta(minutes=30)
            )
        )
    snap = dataclasses.replace(carry_over(snap, result), now=now)
    return dataclasses.replace(snap, studies=(*snap.studies, *burst))


def long_list(snap: Snapshot, result: Plan, size: int) -> tuple[Snapshot, int]:
    """The carried-over snapshot with the available reader who may read the most holding `size`
    studies they may read (taken from the others' worklists, latest first); returns it and the
    reader."""
    from balancer.eligibility import is_eligible

    snap = carry_over(snap, result)
    available = [r for r in snap.radiologists if r.status is RadiologistStatus.AVAILABLE]
    studies = list(snap.studies)
    waiting = [
        s for s in studies if s.opened_by is None and s.pinned_to is None and not s.cap_group
    ]
    # The reader who may read the most of the waiting work (a long list must be possible).
    reader = max(available, key=lambda r: sum(1 for s in waiting if is_eligible(s, r, snap.now)))
    held = sum(1 for s in studies if s.assigned_to == reader.id and s.opened_by is None)
    for i in sorted(range(len(studies)), key=lambda i: -studies[i].ready_at.timestamp()):
        s = studies[i]
        if held >= size:
            break
        free = s.opened_by is None and s.pinned_to is None and s.cap_group is None
        if free and s.assigned_to != reader.id and is_eligible(s, reader, snap.now):
            studies[i] = dataclasses.replace(s, assigned_to=reader.id)
            held += 1
    return dataclasses.replace(snap, studies=tuple(studies)), reader.id


def leaver(snap: Snapshot, rid: int) -> Snapshot:
    """The snapshot a minute later with reader `rid` gone off shift."""
    roster = tuple(
        dataclasses.replace(r, status=RadiologistStatus.OFF) if r.id == rid else r
        for r in snap.radiologists
    )
    return dataclasses.replace(snap, radiologists=roster, now=snap.now + timedelta(minutes=1))


def stats_placed(snap: Snapshot, result: Plan) -> int:
    """Unopened studies of the STAT cap group the plan places."""
    return sum(
        1
        for s in snap.studies
        if s.cap_group == "STAT" and s.opened_by is None and s.id in result.assignments
    )


def churn_of(before: Plan, after: Plan, snap: Snapshot, touched: set[int]) -> float:
    """Share of untouched, still-assigned studies that the re-plan moved to another reader."""
    opened = {s.id for s in snap.studies if s.opened_by is not None}
    untouched = [
        sid
        for sid, a in before.assignments.items()
        if sid in after.assignments and sid not in touched and sid not in opened
    ]
    moved = sum(
        1
        for sid in untouched
        if after.assignments[sid].radiologist_id != before.assignments[sid].radiologist_id
    )
    return moved / len(untouched) if untouched else 0.0


def checked(snap: Snapshot, result: Plan, fig: Figures) -> Plan:
    """Validate a plan and count what it breaks."""
    violations = validate(snap, result)
    fig.violations += len(violations)
    fig.ineligible += sum(1 for v in violations if v.code is ViolationCode.INELIGIBLE)
    return result


def assignment(snap: Snapshot, result: Plan, params: Params) -> tuple[IntArray, float]:
    """The plan as the solver's array, and its objective."""
    problem = compile_problem(snap, params)
    assign = as_array(problem, result)
    return assign, evaluate(problem, assign)["total"]


def reference_gap(
    snap: Snapshot, result: Plan, params: Params, seconds: float
) -> tuple[float, float | None, str]:
    """Relative distance of the plan from the best known solution.

    Best known = the best of: the plan itself, CP-SAT given `seconds` with the plan as a
    complete hint, and the fast path's own search given `seconds` from a cold start. CP-SAT's
    bound is reported too (it is weak: see docs/balancer.md).
    """
    problem = compile_problem(snap, params)
    assign, ours = assignment(snap, result, params)
    long_plan = plan(snap, dataclasses.replace(params, cold_time_limit_s=seconds))
    _, long_total = assignment(snap, long_plan, params)
    own = f"own search {seconds:.0f} s: {long_total:,.0f}"
    if not with_cpsat(problem.n, problem.m):
        best = min(ours, long_total)
        gap = (ours - best) / best if best > 0 else 0.0
        return gap, None, f"ours {ours:,.0f}; CP-SAT not built at this scale; {own}"
    out = solve(problem, assign, seconds)
    cp = evaluate(problem, out.assign)["total"] if out.assign is not None else float("inf")
    best = min(ours, cp, long_total)
    gap = (ours - best) / best if best > 0 else 0.0
    to_bound = (ours - out.bound) / ours if out.bound > 0 and ours > 0 else None
    note = (
        f"ours {ours:,.0f}; CP-SAT {out.status} in {out.wall_s:.0f} s: {cp:,.0f} "
        f"(bound {out.bound:,.0f}); {own}"
    )
    return gap, to_bound, note


def with_cpsat(n: int, m: int) -> bool:
    """Whether CP-SAT's whole model is built for an instance of this size."""
    return n * m <= CPSAT_MAX_PAIRS


def distances(
    snap: Snapshot, cold: Plan, params: Params, fig: Figures, best_s: float, live_s: float
) -> None:
    """`gap_to_best` of the cold plan, and of the cold plan after `live_s` of the live loop's
    neighbourhood search (`gap_to_best_searched`), against the best plan known for the
    instance (`bench.best_known`, cached); `gap_to_bound` of the cold plan against the best
    proven bound (CP-SAT's, the better of the cached run's and this run's reference, and the
    relaxations of `balancer.bounds`)."""
    from balancer.bounds import busy_time_bound, completion_rank_bound, finishes
    from bench.best_known import best_known, searched, store

    problem = compile_problem(snap, params)
    best = best_known(snap, params, cold, best_s, cpsat=with_cpsat(problem.n, problem.m))
    start = as_array(problem, cold)
    ours = evaluate(problem, start)["total"]
    live = searched(problem, start, live_s, seed=0)
    live_total = evaluate(problem, live)["total"]
    if min(ours, live_total) < best.total:  # a better plan than the long run's: keep it
        better = live if live_total < ours else start
        best = dataclasses.replace(
            best,
            total=min(ours, live_total),
            assign=better,
            method=f"{best.method}; bettered by the bench's own plans",
        )
        store(best, problem)
    fig.gap_to_best = (ours - best.total) / best.total if best.total > 0 else 0.0
    fig.gap_to_best_searched = (live_total - best.total) / best.total if best.total > 0 else 0.0
    # This run's reference solve proved a bound too (`gap_to_bound` holds its gap so far).
    bound, method = best.bound, best.bound_method
    if fig.gap_to_bound is not None and ours * (1 - fig.gap_to_bound) > bound:
        bound, method = ours * (1 - fig.gap_to_bound), "CP-SAT best objective bound, whole model"
    relaxed = completion_rank_bound(problem, start)
    if relaxed > bound:
        bound, method = relaxed, "completion-rank relaxation (min-cost flow), sequence terms"
    # Linearised at the best known plan's finishes and at the cold plan's: the higher.
    busy = max(busy_time_bound(problem, start, finishes(problem, a)) for a in (best.assign, start))
    if busy > bound:
        bound, method = busy, "mean-busy-time relaxation (readers pooled, Smith's order)"
    fig.gap_to_bound = (ours - bound) / ours if ours > 0 and bound > 0 else None
    fig.bound_method = method
    print(
        f"  distances: cold plan {ours:,.1f}, after {live_s:.0f} s of LNS {live_total:,.1f}, "
        f"best known {best.total:,.1f} ({best.method}; cached run took {best.seconds:.0f} s), "
        f"bound {bound:,.1f} ({method}): gap_to_best {fig.gap_to_best:.5f}, searched "
        f"{fig.gap_to_best_searched:.5f}, gap_to_bound {fig.gap_to_bound}",
        flush=True,
    )


def run(
    n: int,
    m: int,
    seed: int,
    events: int,
    reference_s: float,
    best_s: float = 60.0,
    live_s: float = 10.0,
    params: Params | None = None,
) -> Figures:
    """Cold plan, `events` re-plans, and the gap of the cold plan to the reference, with the
    balancer's default parameters unless given others."""
    params = params or Params()
    snap = department(seed, n, m)
    planner = Planner()
    cold = checked(snap, planner.plan(snap, params), Figures(n, m, 0.0))
    fig = Figures(n, m, cold.duration_ms, bound_held=params.hold_overtake_bound)
    checked(snap, cold, fig)
    print(
        f"{n}x{m} cold: {cold.duration_ms:.0f} ms via {cold.formulation}, "
        f"objective {cold.objective['total']:,.0f}, {len(cold.unassignable)} unassignable",
        flush=True,
    )
    fig.aged_overtaken = len(overtaken(snap, cold, params))
    burst = stat_burst(random.Random(seed + 2), snap, cold, STAT_BURST)
    after_burst = checked(burst, planner.plan(burst, params), fig)
    fig.stat_placed = stats_placed(burst, after_burst)
    fig.stat_placeable = placeable(burst, "STAT")
    print(
        f"  {STAT_BURST}-STAT burst: {after_burst.duration_ms:.0f} ms, STATs placed "
        f"{fig.stat_placed} of {fig.stat_placeable} placeable; aged overtaken (cold, burst) "
        f"{len(overtaken(snap, cold, params))}, {len(overtaken(burst, after_burst, params))}",
        flush=True,
    )
    burst_churn = churn_of(cold, after_burst, burst, set())
    # The leave is re-planned from the loaded snapshot itself: a re-plan in between would move
    # part of the long list away before the reader leaves.
    loaded, rid = long_list(snap, cold, BIG_LIST)
    gone = leaver(loaded, rid)
    after_leave = checked(gone, planner.plan(gone, params), fig)
    theirs = {s.id for s in loaded.studies if s.assigned_to == rid and s.opened_by is None}
    others = [
        s
        for s in loaded.studies
        if s.assigned_to is not None
        and s.id not in theirs
        and s.opened_by is None
        and s.id in after_leave.assignments
    ]
    moved = sum(1 for s in others if after_leave.assignments[s.id].radiologist_id != s.assigned_to)
    leave_churn = moved / len(others) if others else 0.0
    fig.big_event_ms = max(after_burst.duration_ms, after_leave.duration_ms)
    fig.big_event_churn = max(burst_churn, leave_churn)
    print(
        f"  large events: {STAT_BURST}-STAT burst {after_burst.duration_ms:.0f} ms via "
        f"{after_burst.formulation}, churn {burst_churn:.5f}; leaver with {len(theirs)} studies "
        f"{after_leave.duration_ms:.0f} ms via {after_leave.formulation}, churn {leave_churn:.5f}",
        flush=True,
    )
    rng = random.Random(seed + 1)
    current, result = snap, cold
    for i in range(events):
        kind, current, touched = next_event(rng, current, result, 1_000_000 + i)
        cpu = time.process_time()
        after = planner.plan(current, params)
        fig.replan_cpu_ms.append((time.process_time() - cpu) * 1000.0)
        checked(current, after, fig)
        fig.replan_ms.append(after.duration_ms)
        fig.churn.append(churn_of(result, after, current, touched))
        fig.aged_overtaken = max(fig.aged_overtaken, len(overtaken(current, after, params)))
        result = after
        if (i + 1) % 10 == 0:
            print(
                f"  event {i + 1}/{events} ({kind}): {after.duration_ms:.0f} ms, "
                f"churn {fig.churn[-1]:.4f}",
                flush=True,
            )
    print(f"  aged overtaken, worst of the cold plan and the re-plans: {fig.aged_overtaken}")
    gap, to_bound, note = reference_gap(snap, cold, params, reference_s)
    fig.gap, fig.gap_to_bound = gap, to_bound
    print(f"  reference: {note}; gap {gap:.4%}", flush=True)
    distances(snap, cold, params, fig, best_s, live_s)
    if fig.violations:
        print(f"  !! {fig.violations} validation violations", flush=True)
    return fig


def compare(n: int, m: int, seed: int, seconds: float) -> None:
    """Formulations side by side on one instance (the table in docs/balancer.md)."""
    from balancer import construct, improve
    from balancer.state import State

    snap = department(seed, n, m)
    params = Params()
    problem = compile_problem(snap, params)

    def row(name: str, assign: IntArray | None, ms: float) -> None:
        total = evaluate(problem, assign)["total"] if assign is not None else float("nan")
        print(f"| {n}x{m} | {name} | {ms:,.0f} ms | {total:,.0f} |", flush=True)

    t = time.perf_counter()
    state = State(problem)
    construct.sweep(state, construct.keep_current(state))
    row("sweep (append in worklist order)", state.assign, (time.perf_counter() - t) * 1e3)
    t = time.perf_counter()
    state, _ = construct.cold_start(
        State(problem), construct.keep_current(State(problem)), 4, t + 60
    )
    row("4 delay-priced sweeps", state.assign, (time.perf_counter() - t) * 1e3)
    t = time.perf_counter()
    improve.search(state, t + 2.0)
    row("  + relocate/pull search (2 s)", state.assign, (time.perf_counter() - t) * 1e3)
    t = time.perf_counter()
    cold = solve(problem, np.full(problem.n, 0, dtype=np.int64), seconds, use_hint=False)
    row(
        f"CP-SAT exact model, no hint, {seconds:.0f} s ({cold.status})",
        cold.assign,
        (time.perf_counter() - t) * 1e3,
    )
    # Re-planning from scratch after one arrival, versus the incremental path.
    first = plan(snap, params)
    nxt = carry_over(snap, first)
    study, _ = make_study(random.Random(seed), 9_999_999, snap.now)
    nxt = dataclasses.replace(nxt, studies=(*nxt.studies, study))
    scratch = dataclasses.replace(
        nxt, studies=tuple(dataclasses.replace(s, assigned_to=None) for s in nxt.studies)
    )
    for name, result in (
        ("incremental", plan(nxt, params)),
        ("from scratch", plan(scratch, params)),
    ):
        moved = sum(
            1
            for sid, a in first.assignments.items()
            if sid in result.assignments
            and result.assignments[sid].radiologist_id != a.radiologist_id
        )
        print(
            f"| {n}x{m} | re-plan after one arrival, {name} | {result.duration_ms:,.0f} ms | "
            f"moved {moved / len(first.assignments):.2%} |",
            flush=True,
        )


def main(argv: Iterator[str] | None = None) -> None:
    """Run both instances and print the figures, the big one's JSON last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short CP-SAT reference (5 s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--compare", action="store_true", help="formulation table only")
    parser.add_argument(
        "--best-seconds",
        type=float,
        default=60.0,
        help="per start of the best-known search when the instance is not cached "
        "(bench/best_known/)",
    )
    parser.add_argument(
        "--open", type=int, help="open studies of one instance (with --radiologists)"
    )
    parser.add_argument("--radiologists", type=int, help="radiologists of that instance")
    parser.add_argument(
        "--hold-waiting-bound",
        action="store_true",
        help="hold the waiting bound across readers (30 min), as the default rule set has the "
        "live balancer do; the balancer's own default leaves it off",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    params = Params(hold_overtake_bound=args.hold_waiting_bound)
    if args.compare:
        for n, m in ((2000, 60), (5000, 100)):
            compare(n, m, args.seed, 5.0 if args.quick else 60.0)
        return
    reference_s = 5.0 if args.quick else 60.0
    best_s = 5.0 if args.quick else args.best_seconds
    live_s = 2.0 if args.quick else 10.0
    started = time.perf_counter()
    if args.open or args.radiologists:
        if not (args.open and args.radiologists):
            parser.error("--open and --radiologists go together")
        one = run(
            args.open,
            args.radiologists,
            args.seed,
            args.events,
            reference_s,
            best_s,
            live_s,
            params,
        )
        print(f"bench took {time.perf_counter() - started:.0f} s", flush=True)
        print(json.dumps(one.summary()))
        return
    small = run(2000, 60, args.seed, args.events, reference_s, best_s, live_s, params)
    print(json.dumps(small.summary()), flush=True)
    big = run(5000, 100, args.seed, args.events, reference_s, best_s, live_s, params)
    print(f"bench took {time.perf_counter() - started:.0f} s", flush=True)
    print(json.dumps(big.summary()))


if __name__ == "__main__":
    main()
