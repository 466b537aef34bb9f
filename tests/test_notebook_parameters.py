"""Every assignment in a notebook's parameters cell is a parameter papermill can set (a comment papermill cannot
parse silently hides the parameter from `xner run -p`)."""

from __future__ import annotations

import re

import pytest

from xner.runs import STAGES, declared_parameters, notebook_source


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_parameter_of_the_parameters_cell_is_declared(stage):
    text = notebook_source(stage).read_text(encoding="utf-8")
    cell = text.split('# %% tags=["parameters"]', 1)[1].split("\n# %%", 1)[0]
    names = re.findall(r"^([A-Za-z_]\w*)\s*=", cell, re.M)
    assert names, f"{stage}: empty parameters cell"
    declared = declared_parameters(stage)
    assert [n for n in names if n not in declared] == []
