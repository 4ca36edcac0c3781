"""The projected exam page answers exactly as the field-by-field path does."""

from __future__ import annotations

import pytest

from domain.enums import CriticalLevel, ExamStatus, Priority
from tests.conftest import Api
from tests.factories import drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

# Every field the projection maps, with aliases, a fragment, repeats and __typename.
EVERYTHING = """
fragment Who on Patient { mrn givenName familyName birthDate sex phone email id }
query Page($first: Int!, $after: String, $filter: ExamFilter) {
  exams(first: $first, after: $after, filter: $filter) {
    __typename totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor __typename }
    edges { __typename cursor node%s {
      __typename id accessionNumber status priority patientClass orderSource
      placerOrderNumber orderedAt statusChangedAt readyAt dueAt version
      indication { text icd10Code }
      patient { ...Who } sameAgain: patient { mrn }
      procedure { id code name modality bodyPart subspecialty wrvu readMinutes scanMinutes }
      site { id code name timezone } referrer { id code name email phone }
      report { status impression criticalLevel createdAt updatedAt preliminaryAt finalAt }
      number: accessionNumber
    } }
  }
}"""
# The same query with a directive: projections decline those, so the standard path answers.
PROJECTED, STANDARD = EVERYTHING % "", EVERYTHING % " @include(if: true)"


@pytest.fixture
async def busy(api: Api) -> Api:
    await reference(api.db)
    for n in range(14):
        exam = await order(api.db, priority=Priority.STAT if n % 3 == 0 else Priority.ROUTINE)
        target = [ExamStatus.ORDERED, ExamStatus.READY_FOR_READ, ExamStatus.FINAL][n % 3]
        await drive(api.db, exam, target, critical=CriticalLevel.URGENT)
        api.db.clock.advance(minutes=7)  # type: ignore[attr-defined]
    return api


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 5},
        {"first": 50},
        {"first": 4, "filter": {"status": ["FINAL", "READY_FOR_READ"], "priority": ["STAT"]}},
        {
            "first": 3,
            "filter": {"modality": ["US"], "siteCode": "NORTH", "patientMrn": "MRN000001"},
        },
    ],
    ids=["small", "all", "filtered", "by-site"],
)
async def test_projection_and_standard_path_agree(busy: Api, variables: dict[str, object]) -> None:
    projected = await busy.data(PROJECTED, variables)
    standard = await busy.data(STANDARD, variables)
    assert projected == standard
    after = projected["exams"]["pageInfo"]["endCursor"]  # type: ignore[index]
    if after:
        page_two = {**variables, "after": after}
        assert await busy.data(PROJECTED, page_two) == await busy.data(STANDARD, page_two)


async def test_a_selection_it_cannot_project_falls_back(busy: Api) -> None:
    data = await busy.data("""{ exams(first: 3) { edges { node {
        accessionNumber history { toStatus } appointment { status } } } } }""")
    edges = data["exams"]["edges"]  # type: ignore[index]
    assert len(edges) == 3 and all(e["node"]["history"] for e in edges)
