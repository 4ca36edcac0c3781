"""The console offers each role exactly the views the API's role matrix lets it use, and every
GraphQL document in its modules is valid against the schema."""

from __future__ import annotations

import json
import re

import pytest
from graphql import parse, validate

from api.console import STATIC
from api.permissions import MATRIX
from api.schema import build_schema
from application.settings import Settings
from domain.enums import Role

VIEWS = json.loads((STATIC / "views.json").read_text())["views"]
MODULES = sorted(p for p in STATIC.glob("*.js"))
CONSTANT = re.compile(r"""const (\w+) = ([`'])(.*?)\2;""", re.S)
TEMPLATE = re.compile(r"`((?:query|mutation|subscription)\b.*?)`", re.S)
OPERATION = re.compile(r"^\s*(query|mutation|subscription)\b")
ACTION_FIELDS_JS = re.compile(r"const ACTION_FIELDS = '([^']*)';")


@pytest.mark.parametrize("view", VIEWS, ids=[v["id"] for v in VIEWS])
def test_a_view_is_offered_to_exactly_the_roles_allowed_every_field_it_uses(
    view: dict[str, object],
) -> None:
    uses = view["uses"]
    assert isinstance(uses, list)
    unknown = [field for field in uses if field not in MATRIX]
    assert unknown == []
    allowed = frozenset.intersection(*(MATRIX[field] for field in uses))
    assert {Role(role) for role in view["roles"]} == set(allowed)  # type: ignore[attr-defined]


def documents(source: str) -> list[str]:
    """The GraphQL documents of a module, with `${CONSTANT}` pieces filled in."""
    constants = {name: body for name, _, body in CONSTANT.findall(source)}

    def expand(text: str, depth: int = 0) -> str:
        assert depth < 5, "interpolation too deep"
        return re.sub(r"\$\{(\w+)\}", lambda m: expand(constants[m.group(1)], depth + 1), text)

    found = [expand(body) for body in constants.values() if OPERATION.match(body)]
    found += [expand(body) for body in TEMPLATE.findall(source) if body not in constants.values()]
    return found


def test_every_graphql_document_of_the_console_is_valid() -> None:
    schema = build_schema(Settings())._schema
    checked = 0
    for module in MODULES:
        for document in documents(module.read_text()):
            errors = validate(schema, parse(document))
            assert errors == [], f"{module.name}: {errors[0].message}\n{document}"
            checked += 1
    assert checked >= 25, checked


def test_the_console_loads_nothing_from_another_origin() -> None:
    for path in [*MODULES, STATIC / "index.html", STATIC / "style.css"]:
        text = path.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path.name
        assert not re.search(r"""from ['"]https?:""", text), path.name


def test_every_module_the_page_imports_exists() -> None:
    for module in MODULES:
        for target in re.findall(r"""from '(\./[^']+)'""", module.read_text()):
            assert (module.parent / target).is_file(), f"{module.name} imports {target}"


def test_the_rules_editor_knows_every_action_kind_and_reads_every_action_field() -> None:
    # A saved rule whose kind the editor does not list cannot be shown or saved again there,
    # and a field it does not ask for is lost on the next save.
    from api.rules.actions import ACTION_FIELDS
    from rules.actions import KINDS

    source = (STATIC / "rules.js").read_text()
    table = re.search(r"export const ACTION_KINDS = \{(.*?)\n\};", source, re.S)
    assert table is not None
    listed = set(re.findall(r"^\s+([A-Z_]+):", table.group(1), re.M))
    assert listed == {k.kind.upper() for k in KINDS}
    asked = set(re.findall(r"\['(\w+)', ", table.group(1)))
    fields = ACTION_FIELDS_JS.search(source)
    assert fields is not None
    read = set(fields.group(1).split())
    camel = {re.sub(r"_(\w)", lambda m: m.group(1).upper(), f.name) for f in ACTION_FIELDS}
    assert camel <= asked and camel | {"kind"} == read
