"""The demo department's default rule set: realistic policy to seed and to test against."""

from __future__ import annotations

from domain.catalog_data import TURNAROUND_MINUTES
from domain.enums import Priority, Subspecialty
from rules.model import (
    CapPerRadiologist,
    EscalatePriority,
    HoldWaitingBound,
    RequireSubspecialty,
    Rule,
    RuleSet,
    SetPriority,
    SetTurnaround,
    SetWeights,
)

# A rule that changes a study's priority gives it the department's target for the new one.
DEFAULT_TURNAROUND = TURNAROUND_MINUTES

# The price of a STAT held over the one-STAT cap, in the balancer's minutes-equivalent: about
# six minutes of a waiting STAT's urgency. A department caps open STATs to spread them, not to
# leave one on nobody's worklist: every eligible reader holding a STAT, the next is better
# second on the worklist of the reader who starts it soonest (docs/balancer.md).
STAT_OVER_CAP_PRICE = 60.0

DEFAULT_RULE_SET = RuleSet(
    rules=(
        Rule(
            "Stroke protocol",
            'modality == "CT" and body_part == "HEAD" and patient_class == "ED"',
            (
                SetPriority(Priority.STAT),
                SetTurnaround(30),
                RequireSubspecialty(Subspecialty.NEURO),
            ),
            order=10,
            description="ED head CT is a suspected stroke until read: STAT to neuro in 30 min.",
        ),
        Rule(
            "AI suspected bleed",
            'ai_flag == "intracranial_hemorrhage" and ai_score >= 0.8',
            (
                SetPriority(Priority.STAT),
                SetTurnaround(30),
                RequireSubspecialty(Subspecialty.NEURO),
            ),
            order=10,
            description="An AI-flagged bleed becomes STAT, routed to neuro.",
        ),
        Rule(
            "AI suspected PE",
            'ai_flag == "pulmonary_embolism" and ai_score >= 0.85',
            (SetPriority(Priority.STAT), RequireSubspecialty(Subspecialty.CHEST)),
            order=15,
        ),
        Rule(
            "Mammography to breast readers",
            'modality == "MG"',
            (RequireSubspecialty(Subspecialty.BREAST),),
            order=20,
        ),
        Rule(
            "Pediatric patients",
            "patient_age < 16",
            (RequireSubspecialty(Subspecialty.PEDIATRIC, only_if_on_shift=True),),
            order=30,
            description="Children to pediatric readers where one is on shift.",
        ),
        Rule(
            "Neuro MR",
            'modality == "MR" and body_part in ["HEAD", "BRAIN", "SPINE"]',
            (RequireSubspecialty(Subspecialty.NEURO),),
            order=40,
        ),
        Rule(
            "MSK MR",
            'modality == "MR" and body_part in ["KNEE", "SHOULDER", "HIP", "ANKLE"]',
            (RequireSubspecialty(Subspecialty.MSK),),
            order=40,
        ),
        Rule(
            "Escalate near breach",
            'priority != "STAT"',
            (EscalatePriority(due_within_minutes=30),),
            order=50,
            description="Anything about to breach its target moves up one level.",
        ),
        Rule(
            "Escalate old routine work",
            'priority == "ROUTINE"',
            (EscalatePriority(to=Priority.URGENT, waiting_over_minutes=24 * 60),),
            order=50,
            description="Age limit: routine work waiting over 24 h becomes urgent.",
        ),
        Rule(
            "One open STAT per radiologist",
            'priority == "STAT"',
            (CapPerRadiologist(1, stat_over_price=STAT_OVER_CAP_PRICE),),
            order=60,
            description=(
                "Sees the effective priority, so escalated and AI-flagged STATs count too. "
                "Bends for STAT: when every eligible radiologist already holds one, the next "
                "STAT goes second on the worklist of whoever starts it soonest rather than to "
                "nobody."
            ),
        ),
        Rule(
            "Night weights",
            "hour_of_day >= 22 or hour_of_day < 7",
            (SetWeights(lateness=3.0, balance=0.5),),
            order=90,
            description="At night speed matters more than spreading the work.",
        ),
        Rule(
            "Nobody waits behind younger work",
            "true",
            (HoldWaitingBound(30.0),),
            order=95,
            description=(
                "A study past its age limit is not overtaken by more than 30 minutes by "
                "younger work of its tier or a lower one on a reader who may read it."
            ),
        ),
    )
)
