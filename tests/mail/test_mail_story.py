"""The issue's story, end to end against a real Dovecot and a real SMTP server.

A form e-mail and a stranger's e-mail arrive in the corporate mailbox → one
deal in Лид with its territory and source link, one Unsorted request →
accepted → a reply is sent from the deal's card with the signature → the
reply is in Sent and on the timeline, once.
"""

from __future__ import annotations

import email
import email.policy
import json

import pytest

from tests.mail.card_keys import reply_from_card
from tests.mail.conftest import make_mail
from tests.tui.screens_fixtures import SIZE, ScreensApp, settle

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _sent(dovecot, account):
    from imapclient import IMAPClient

    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as client:
        client.login(*account)
        client.select_folder("Sent")
        return [d[b"BODY[]"] for d in client.fetch(client.search(), ["BODY[]"]).values()]


async def test_form_mail_and_stranger_mail_to_a_lead_an_accepted_request_and_a_reply(
    mail_cli, cli_env, dovecot, imap_account, load, smtp, tmp_path
):
    ok = lambda result: result.returncode == 0 or pytest.fail(result.stderr)  # noqa: E731
    ok(mail_cli("mail", "add", "develop", "--imap", f"127.0.0.1:{dovecot.port}", "--smtp", f"127.0.0.1:{smtp.port}",
                "--login", imap_account[0], "--password-stdin", "--security", "none", "--corporate",
                input=f"{imap_account[1]}\n"))
    ok(mail_cli("intake", "config", "--form-sender", "forms@omega-r.ru"))
    (tmp_path / "sig.txt").write_text("Анна Петрова\nОмега-Р, отдел продаж\n", encoding="utf-8")
    ok(mail_cli("users", "signature", "Анна", "--file", str(tmp_path / "sig.txt")))
    form = ("Имя: Мария Соколова\nТелефон: +7 916 123-45-67\nEmail: maria@shop.test\nСайт: omega-r.ru\n"
            "Страница: https://omega-r.ru/mobile\nСообщение: Нужно мобильное приложение\n")
    load(imap_account, "INBOX",
         make_mail(subject="Заявка с сайта omega-r.ru", sender="Сайт <forms@omega-r.ru>", to=imap_account[0], body=form),
         make_mail(subject="Сотрудничество", sender="John Smith <john@acme.test>", to=imap_account[0],
                   body="Hello, we need a web portal.", message_id="<hello@acme.test>"))

    fetched = mail_cli("mail", "fetch")

    ok(fetched)
    assert "1 to Unsorted, 1 leads" in fetched.stdout
    [lead] = [d for d in json.loads(mail_cli("deals", "list", "--json").stdout)]
    shown = json.loads(mail_cli("deals", "show", lead["id"], "--json").stdout)
    assert shown["deal"]["stage"] == "Лид" and shown["deal"]["custom"]["territory"] == "РФ"
    assert shown["deal"]["source_url"] == "https://omega-r.ru/mobile" and shown["deal"]["source_site"] == "RU"
    [request] = json.loads(mail_cli("unsorted", "list", "--json").stdout)
    assert (request["sender_email"], request["subject"]) == ("john@acme.test", "Сотрудничество")

    accepted = json.loads(mail_cli("unsorted", "accept", request["id"], "--json").stdout)
    assert accepted["stage"] == "Лид"

    # the reply, from the deal's card (this process reads the secret file mail_cli set up)
    from tui_crm.config import load_settings
    from tui_crm.screens.card import CardScreen
    from tui_crm.services.context import open_crm

    crm = open_crm(load_settings())
    try:
        app = ScreensApp(crm, lambda: CardScreen("deal", accepted["id"]))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await reply_from_card(pilot, "Thank you, John! Let us talk on Monday.")
    finally:
        crm.close()

    [(_, rcpts, raw)] = smtp.messages
    assert rcpts == ["john@acme.test"]
    reply = email.message_from_bytes(raw, policy=email.policy.default)
    assert reply["In-Reply-To"] == "<hello@acme.test>" and reply["Subject"] == "Re: Сотрудничество"
    assert reply.get_content().rstrip().endswith("Let us talk on Monday.\n\n-- \nАнна Петрова\nОмега-Р, отдел продаж")
    ok(mail_cli("mail", "fetch"))  # Sent is read back: still once
    assert len(_sent(dovecot, imap_account)) == 1
    timeline = json.loads(mail_cli("deals", "show", accepted["id"], "--json").stdout)["messages"]
    assert [m["subject"] for m in timeline] == ["Re: Сотрудничество", "Сотрудничество"]
    assert [m["direction"] for m in timeline] == ["out", "in"]
