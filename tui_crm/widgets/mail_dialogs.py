"""Writing an e-mail from a card: To, Cc (several), subject and text; the signature is added when sent."""

from __future__ import annotations

from tui_crm.services.context import Crm
from tui_crm.services.mail_send import OutgoingMail, send_mail
from tui_crm.services.mail_views import MessageView, SendResult
from tui_crm.widgets.form_dialog import FormDialog, FormField


def compose_dialog(
    crm: Crm, entity_type: str, entity_id: str, to: str = "", reply_to: MessageView | None = None
) -> FormDialog[SendResult]:
    """Send (or queue when offline) a message put on this record; a reply keeps the thread."""

    def submit(values: dict[str, object]) -> SendResult:
        def split(key: str) -> list[str]:
            return [p.strip() for p in str(values[key]).replace(";", ",").split(",") if p.strip()]

        return send_mail(
            crm,
            OutgoingMail(
                to=split("to"),
                cc=split("cc"),
                subject=str(values["subject"]) or None,
                body=str(values["body"]),
                entity_type=entity_type,
                entity_ref=entity_id,
                reply_to=reply_to.id if reply_to else None,
            ),
        )

    subject = ""
    if reply_to is not None:
        to = to or reply_to.from_addr
        subject = reply_to.subject if reply_to.subject.lower().startswith("re:") else f"Re: {reply_to.subject}"
    return FormDialog(
        "Reply" if reply_to else "Write an e-mail",
        [
            FormField("to", "To", value=to, required=True, placeholder="name@company.com, another@company.com"),
            FormField("cc", "Cc", placeholder="several, separated by commas"),
            FormField("subject", "Subject", value=subject),
            FormField("body", "Text", required=True, placeholder="Your signature is added when it is sent"),
        ],
        submit,
        intro="Sent from your mailbox with your signature; queued in the outbox when offline.",
        save_label="Send",
    )
