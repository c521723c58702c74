"""``crm intake``: web-form requests into Лид or Unsorted, and where intake sends things."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tui_crm.cli.commands_add import JsonOpt
from tui_crm.cli.output import clean, emit_json, say

intake = typer.Typer(help="Web forms and corporate mail into Лид / Unsorted.", no_args_is_help=True)


@intake.command("form")
def intake_form(
    source: Annotated[str, typer.Argument(help="A JSON file with the form's fields, or - for stdin.")],
    to: Annotated[str | None, typer.Option("--to", help="lead or unsorted (default: the configured one, lead).")] = None,
    pipeline: Annotated[str | None, typer.Option("--pipeline")] = None,
    json_: JsonOpt = False,
) -> None:
    """A form submission (name, phone, email, company, message, site, page_url, files[], utm{})."""
    from tui_crm.cli.state import state
    from tui_crm.domain.errors import ValidationError
    from tui_crm.services.intake import parse_form_json, submit_form

    if source == "-":
        text, base = sys.stdin.read(), Path.cwd()
    else:
        path = Path(source)
        if not path.is_file():
            raise ValidationError("form", f"no file {source}; give a JSON file or - for stdin")
        text, base = path.read_text(encoding="utf-8"), path.parent
    result = submit_form(state.crm(), parse_form_json(text), target=to, pipeline=pipeline, base_dir=base)
    if json_:
        emit_json(result)
        return
    where = f"{clean(result.pipeline)} / {clean(result.stage)}"
    extra = f", site {result.site}, territory {clean(result.territory)}" if result.site else ""
    if result.kind == "lead":
        say(f"Lead {result.id[:8]} «{clean(result.name)}» in {where}{extra}")
    else:
        say(f"Filed {result.id[:8]} in {where}{extra}")


@intake.command("config")
def intake_config(
    form_target: Annotated[str | None, typer.Option("--form-target", help="Where form requests land: lead or unsorted.")] = None,
    form_pipeline: Annotated[str | None, typer.Option("--form-pipeline")] = None,
    mail_pipeline: Annotated[
        str | None, typer.Option("--mail-pipeline", help="Unsorted of this pipeline gets strangers' mail.")
    ] = None,
    form_sender: Annotated[
        list[str] | None, typer.Option("--form-sender", help="Mail from this address is a web form (repeatable).")
    ] = None,
    remove_form_sender: Annotated[list[str] | None, typer.Option("--remove-form-sender")] = None,
    json_: JsonOpt = False,
) -> None:
    """Show or change the intake rules."""
    from tui_crm.cli.state import state
    from tui_crm.services.intake import get_config, set_config

    crm = state.crm()
    if any(v is not None for v in (form_target, form_pipeline, mail_pipeline, form_sender, remove_form_sender)):
        config = set_config(
            crm, form_target=form_target, form_pipeline=form_pipeline, mail_pipeline=mail_pipeline,
            add_sender=form_sender, remove_sender=remove_form_sender,
        )
    else:
        config = get_config(crm)
    if json_:
        emit_json(config)
        return
    say(f"Form requests land in: {config.form_target} ({clean(config.form_pipeline or 'default pipeline')})")
    say(f"Corporate mail from strangers: Unsorted of {clean(config.mail_pipeline or 'the default pipeline')}")
    say("Form senders: " + (", ".join(clean(s) for s in config.form_senders) or "none"))


def register(app: typer.Typer) -> None:
    app.add_typer(intake, name="intake")
