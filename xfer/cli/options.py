"""Option types shared by several verbs (one definition, the same help everywhere)."""

from __future__ import annotations

from typing import Annotated

import typer

DispersionOption = Annotated[
    str | None, typer.Option("--dispersion", help="d3: add DFT-D3(BJ) (with --d3-functional)")
]
D3FunctionalOption = Annotated[
    str | None, typer.Option("--d3-functional", help="functional of the labels, e.g. pbe")
]
