"""Stage gates: which required fields a deal is missing for a stage."""

from __future__ import annotations

from collections.abc import Mapping

from tui_crm.domain.errors import MissingField
from tui_crm.domain.fields import is_empty
from tui_crm.domain.pipelines import PipelineConfig


def missing_fields(config: PipelineConfig, pipeline_key: str, stage_key: str, values: Mapping[str, object]) -> list[MissingField]:
    """The fields ``values`` lacks to enter the stage, in the gate's order.

    ``values`` maps field keys (``budget_rub``, ``segment``,
    ``company.inn``...) to the deal's current values.
    """
    missing: list[MissingField] = []
    for key in config.pipeline(pipeline_key).required_fields(stage_key):
        if is_empty(values.get(key)):
            definition = config.deal_field(key)
            missing.append(
                MissingField(key=key, label=definition.label, type=definition.type.value, options=list(definition.options))
            )
    return missing
