"""The best plan known for a bench instance, and a proven lower bound, found once and cached.

`bench.balancer` reports how far its plans are from the best plan any method here finds for the
same instance in a long run (`gap_to_best`), and from a proven lower bound (`gap_to_bound`).
The long run is minutes of work, so its result is kept in `bench/best_known/<key>.json`, keyed
by a digest of the instance (every study, reader and parameter): a changed generator or weight
is a new key. A cached plan is re-scored with today's objective before it is used; if its
score moved (the objective's code changed), it is searched again.

How the best is found: the neighbourhood search (`balancer.lns`) runs from several starts, each
for `seconds`: the fast cold plan, the fast path's own search given a long time limit, and the
answer of CP-SAT's whole model hinted with the cold plan. The best of every start and every
end is kept. The bound kept here is CP-SAT's best objective bound on the whole model
(`balancer.cpsat`), from the longest solve run here (the enforced finish-time constraints relax
to little, so it is weak); `bench.balancer` sets it against the relaxations of
`balancer.bounds`, which are far tighter and take milliseconds to seconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from balancer import Params, Plan, Snapshot, plan
from balancer.assignments import as_array
from balancer.cpsat import solve
from balancer.lns import Stop, search
from balancer.objective import evaluate
from balancer.problem import IntArray, Problem, compile_problem
from balancer.state import State

FOLDER = Path(__file__).with_name("best_known")
# Re-scoring a cached plan must give its stored total within this relative tolerance.
TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Best:
    """The best plan known for an instance, its lower bound, and how each was found."""

    key: str
    total: float
    assign: IntArray
    method: str
    bound: float
    bound_method: str
    seconds: float  # the whole long run
    per_start: float  # its search time per start


def instance_key(snapshot: Snapshot, params: Params) -> str:
    """A digest of everything the objective of the instance depends on, the same in every
    process (sets and mappings in sorted order: their own order follows string hashing, which
    Python varies per process)."""
    digest = hashlib.sha256()
    digest.update(repr(_canonical(snapshot)).encode())
    digest.update(repr(_canonical(params)).encode())
    return digest.hexdigest()[:16]


def _canonical(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(
            (f.name, _canonical(getattr(value, f.name))) for f in dataclasses.fields(value)
        )
    if isinstance(value, Mapping):
        return tuple(sorted((repr(_canonical(k)), _canonical(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(repr(_canonical(v)) for v in value))
    if isinstance(value, (tuple, list)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, Enum):
        return value.value
    return value


def searched(problem: Problem, start: IntArray, seconds: float, seed: int) -> IntArray:
    """`start` after `seconds` of neighbourhood search (two workers per solve)."""
    state = State(problem)
    for k in np.flatnonzero(start >= 0).tolist():
        state.add(k, int(start[k]), refresh=False)
    state.refresh_all()
    search(state, time.perf_counter() + seconds, Stop(), seed=seed, workers=2)
    return state.assign.copy()


def load(key: str, problem: Problem, per_start: float) -> Best | None:
    """The cached best for `key`, if there is one from a run at least `per_start` long per
    start and it still scores what it did."""
    path = FOLDER / f"{key}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if float(data["per_start"]) < per_start:
        return None  # a shorter run's: search longer
    ids = {s.id: k for k, s in enumerate(problem.studies)}
    assign = np.full(problem.n, -1, dtype=np.int64)
    for sid, rid in data["assign"]:
        assign[ids[sid]] = problem.reader_index[rid]
    total = evaluate(problem, assign)["total"]
    if abs(total - data["total"]) > TOLERANCE * max(1.0, abs(total)):
        return None  # the objective changed since: search again
    return Best(
        key=key,
        total=total,
        assign=assign,
        method=data["method"],
        bound=float(data["bound"]),
        bound_method=data["bound_method"],
        seconds=float(data["seconds"]),
        per_start=float(data["per_start"]),
    )


def store(best: Best, problem: Problem) -> None:
    """Keep `best` for the next bench runs."""
    FOLDER.mkdir(exist_ok=True)
    pairs = [
        [problem.studies[k].id, problem.reader_ids[int(r)]]
        for k, r in enumerate(best.assign.tolist())
        if r >= 0
    ]
    data = {**dataclasses.asdict(best), "assign": pairs}
    (FOLDER / f"{best.key}.json").write_text(json.dumps(data, separators=(",", ":")) + "\n")


def best_known(
    snapshot: Snapshot,
    params: Params,
    cold: Plan,
    seconds: float,
    *,
    refresh: bool = False,
    cpsat: bool = True,
) -> Best:
    """The cached best for the instance, or a long run's (then cached): see the module.
    Without `cpsat` (the network scale) CP-SAT is neither a start nor the bound."""
    problem = compile_problem(snapshot, params)
    key = instance_key(snapshot, params)
    cached = None if refresh else load(key, problem, seconds)
    if cached is not None:
        return cached
    started = time.perf_counter()
    cold_assign = as_array(problem, cold)
    exact = solve(problem, cold_assign, seconds) if cpsat else None
    long_plan = plan(snapshot, dataclasses.replace(params, cold_time_limit_s=seconds))
    starts = {
        "the cold plan": cold_assign,
        "the fast path's search": as_array(problem, long_plan),
    }
    if exact is not None and exact.assign is not None:
        starts["CP-SAT's whole model"] = exact.assign
    candidates: list[tuple[float, str, IntArray]] = []
    for i, (name, start) in enumerate(starts.items()):
        candidates.append((evaluate(problem, start)["total"], name, start))
        end = searched(problem, start, seconds, seed=i)
        candidates.append((evaluate(problem, end)["total"], f"{name} + LNS", end))
        print(
            f"  best known: {name} {candidates[-2][0]:,.1f} -> LNS {seconds:.0f} s "
            f"{candidates[-1][0]:,.1f}",
            flush=True,
        )
    total, name, assign = min(candidates, key=lambda c: c[0])
    best = Best(
        key=key,
        total=total,
        assign=assign,
        method=f"best of {len(candidates)}: {name}, {seconds:.0f} s per start",
        bound=exact.bound if exact is not None else 0.0,
        bound_method=(
            f"CP-SAT best objective bound, whole model, {seconds:.0f} s"
            if exact is not None
            else "none: CP-SAT's whole model not built at this scale"
        ),
        seconds=time.perf_counter() - started,
        per_start=seconds,
    )
    store(best, problem)
    return best
