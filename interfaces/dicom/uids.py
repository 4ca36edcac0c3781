"""The Study Instance UID radflow assigns to an exam: `<root>.<exam id>`.

A function of the exam alone, so the worklist, the MPPS and the PACS follower agree on it on
every replica and after every restart, and a study arriving with it names its exam. The root
(`RADFLOW_DICOM_UID_ROOT`) is a UUID-derived OID (2.25.<128-bit integer>) unless the department
sets its own registered root.
"""

from __future__ import annotations


def study_instance_uid(root: str, exam_id: int) -> str:
    """The Study Instance UID of an exam."""
    return f"{root}.{exam_id}"


def exam_of(root: str, uid: str) -> int | None:
    """The exam a UID of radflow's names, or None for a UID radflow did not assign."""
    prefix = f"{root}."
    if not uid.startswith(prefix):
        return None
    tail = uid[len(prefix) :]
    if not tail.isdigit() or (len(tail) > 1 and tail.startswith("0")):
        return None
    return int(tail)
