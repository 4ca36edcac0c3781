"""Argument annotations shared by several queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

# `from` is a Python keyword: the argument is `from_` in Python and `from` in the schema.
FromArgument = Annotated[datetime, strawberry.argument(name="from")]
