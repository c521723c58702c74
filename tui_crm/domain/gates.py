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
            missing.append(_missing(config, key))
    return missing


def _missing(config: PipelineConfig, key: str) -> MissingField:
    definition = config.deal_field(key)
    return MissingField(
        key=key,
        label=definition.label,
        type=definition.type.value,
        options=list(definition.options),
        other=config.other_option(key),
    )


def emptied_required(
    config: PipelineConfig,
    pipeline_key: str,
    stage_key: str,
    before: Mapping[str, object],
    after: Mapping[str, object],
) -> list[MissingField]:
    """The fields an edit emptied that the deal's current stage requires.

    "Required" is the stage's gate (its own fields and every earlier working
    stage's; a lost stage only its own), so a Won deal keeps its budget and a
    Lost one its loss reason. A field that was already empty (the gate
    changed after the deal passed it) is not the edit's doing.
    """
    return [
        _missing(config, key)
        for key in config.pipeline(pipeline_key).required_fields(stage_key)
        if not is_empty(before.get(key)) and is_empty(after.get(key))
    ]
