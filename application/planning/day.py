"""Replay a department's day under four policies and compare (`radflow simulate`).

Thin entry point over balancer.simulation (so `radflow simulate` and rule previews can reuse
the engine): a progress bar, PNG plots in --out, a table, and as the LAST line the JSON
{"policies": {"fifo": {...}, "cherry_pick": {...}, "least_loaded": {...}, "radflow": {...}},
 "learned_paces": {"one_pace": {...}, "learned": {...}}}.

The learned-pace day is the same day with readers whose true speed differs by procedure group
(`scenario.with_group_speeds`), read by radflow told one pace per reader and by radflow
learning each reader's pace per group from the reads they sign (`balancer.paces`).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Never

from tqdm import tqdm

from balancer import Params
from balancer.simulation import plots
from balancer.simulation.engine import Run, simulate
from balancer.simulation.metrics import PRIORITIES, longest_waits, story, summarise
from balancer.simulation.policies import POLICIES
from balancer.simulation.scenario import Scenario, build, with_group_speeds

# The live leader searches between events; in the simulated day, between its minutes: this many
# neighbourhood rounds after every thirtieth re-plan (balancer.lns, deterministic; policies.py).
SEARCH_ROUNDS = 1


def table(results: dict[str, dict[str, object]]) -> str:
    """A fixed-width table of the headline figures."""
    head = f"{'policy':<13}" + "".join(
        f"{p.value + ' ' + col:>17}" for p in PRIORITIES for col in ("breach", "p90/max")
    )
    head += f"{'wRVU max/mean':>15}{'churn':>9}{'inelig':>8}"
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        br, p90, mx = r["breach_rate"], r["tat_p90_min"], r["tat_max_min"]
        assert isinstance(br, dict) and isinstance(p90, dict) and isinstance(mx, dict)
        row = f"{name:<13}"
        for p in PRIORITIES:
            row += f"{br[p.value]:>17.2%}{f'{p90[p.value]:.0f}/{mx[p.value]:.0f} min':>17}"
        row += f"{r['wrvu_max_over_mean']:>15}{r['churn']:>9}{r['ineligible']:>8}"
        lines.append(row)
    return "\n".join(lines)


def main() -> None:
    """Run the comparison and print the figures, the JSON last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--radiologists", type=int, default=60)
    parser.add_argument("--capacity-ratio", type=float, default=1.1)
    parser.add_argument("--out", type=Path, default=Path("sim-out"))
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument(
        "--search-rounds",
        type=int,
        default=SEARCH_ROUNDS,
        help="rounds of the live loop's neighbourhood search after every thirtieth of radflow's "
        "re-plans (0: the fast path alone)",
    )
    parser.add_argument(
        "--learned-paces",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also replay the day with readers faster or slower by procedure group",
    )
    parser.add_argument(
        "--waiting-bound",
        type=float,
        default=None,
        metavar="MINUTES",
        help="replay radflow holding the waiting bound across readers at this margin, as a "
        "rule that holds it (the default rule set's, at 30) has the live balancer do",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print how radflow's longest wait of each priority waited: the readers and "
        "worklist positions its re-plans gave it, and what was read instead",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    scn = build(
        args.seed,
        studies=args.studies,
        readers=args.radiologists,
        capacity_ratio=args.capacity_ratio,
    )
    # Generous limits: every search ends because it found nothing better, never on the clock,
    # so a seed always gives the same day.
    params = Params(time_limit_s=30.0, cold_time_limit_s=60.0)
    if args.waiting_bound is not None:
        params = replace(
            params, hold_overtake_bound=True, overtake_margin_minutes=args.waiting_bound
        )
    runs: list[Run] = []
    results: dict[str, dict[str, object]] = {}
    for name in args.policies.split(","):
        run = _replay(scn, name, name, params, args.search_rounds, history=args.explain)
        runs.append(run)
        results[name] = summarise(scn, run)
    paced: dict[str, dict[str, object]] = {}
    if args.learned_paces:
        grouped = with_group_speeds(scn)
        for label, name in (("one_pace", "radflow"), ("learned", "radflow_learned")):
            run = _replay(grouped, name, label, params, args.search_rounds)
            paced[label] = {**summarise(grouped, run), "read_minutes": _reading_time(run)}
    args.out.mkdir(parents=True, exist_ok=True)
    plots.turnaround(scn, runs, args.out / "turnaround.png")
    plots.load(scn, runs, args.out / "load.png")
    print(
        f"{len(scn.studies)} studies, {len(scn.roster)} radiologists, capacity "
        f"{args.capacity_ratio} x demand (read times x{scn.read_scale:.2f}); "
        f"plots in {args.out}/; {time.perf_counter() - started:.0f} s"
    )
    print(table(results))
    radflow = results.get("radflow", {})
    if "search_share" in radflow:
        print(
            f"radflow's live search ({args.search_rounds} round(s) after every thirtieth re-plan) "
            f"won {radflow['search_share']:.4%} of the objective of the re-plans it followed "
            f"over the fast path ({radflow['search_rounds_kept']} rounds kept)"
        )
    for run in runs:
        if any(run.idle_with_work):
            hours = ", ".join(
                f"{scn.at(h * 60).strftime('%H')} h {n}"
                for h, n in enumerate(run.idle_with_work)
                if n
            )
            print(f"{run.policy}: idle readers while work they may read waits (min): {hours}")
    for run in runs:
        if run.history:
            print(f"\n{run.policy}'s longest wait of each priority:")
            for k in longest_waits(scn, run).values():
                print("\n".join(story(scn, run, k)))
    figures: dict[str, object] = {"policies": results}
    if paced:
        print("\nreaders faster or slower by procedure group (+-40 %): radflow")
        print(table(paced))
        figures["learned_paces"] = {
            label: {key: r[key] for key in PACED_KEYS} for label, r in paced.items()
        }
    print(json.dumps(figures))


# The learned-pace day's figures in the JSON (the table shows the rest).
PACED_KEYS = ("breach_rate", "tat_p90_min", "tat_max_min", "read_minutes", "churn", "ineligible")


def _reading_time(run: Run) -> float:
    """The day's total reading time (opened -> signed minutes of every read started)."""
    spans = (f - s for s, f in zip(run.start, run.finish, strict=True) if s == s)
    return round(sum(spans), 1)


def _replay(
    scn: Scenario,
    name: str,
    label: str,
    params: Params,
    search_rounds: int,
    *,
    history: bool = False,
) -> Run:
    """One policy's day, with a progress bar advanced by the simulated clock (`history`: keep
    where radflow's re-plans put each study)."""
    # a bar over no iterable (tqdm[Never])
    with tqdm(total=scn.day_minutes, desc=f"{label:<13}", unit="min", leave=True) as bar:
        seen = [0]

        def tick(t: int, bar: tqdm[Never] = bar, seen: list[int] = seen) -> None:
            if t < scn.day_minutes and t > seen[0]:
                bar.update(t - seen[0])
                seen[0] = t

        run = simulate(
            scn,
            name,
            params=params,
            progress=tick,
            search_rounds=search_rounds,
            history=history,
        )
        bar.update(scn.day_minutes - seen[0])
    return run


if __name__ == "__main__":
    main()
