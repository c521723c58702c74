"""``crm mail``, ``crm intake``, ``crm unsorted add --site ...`` and ``crm users signature`` as a script runs them."""

from __future__ import annotations

import json
import sqlite3

from tests.mail.conftest import make_mail
from tests.mail.hostile import MESSAGES


def test_a_mailbox_is_added_with_the_password_in_the_secret_store_only(mail_cli, dovecot, imap_account, cli_env, tmp_path):
    refused = mail_cli("mail", "add", "work", "--imap", "mail.example.com", "--login", "a@example.com",
                       "--password-stdin", "--security", "none", input="pw\n")
    assert refused.returncode == 5 and "loopback hosts only" in refused.stderr and "Traceback" not in refused.stderr
    assert json.loads(mail_cli("mail", "list", "--json").stdout) == []

    added = mail_cli("mail", "add", "work", "--imap", f"127.0.0.1:{dovecot.port}", "--login", imap_account[0],
                     "--password-stdin", "--security", "none", input=f"{imap_account[1]}\n")

    assert added.returncode == 0, added.stderr
    [box] = json.loads(mail_cli("mail", "list", "--json").stdout)
    assert (box["name"], box["address"], box["corporate"], box["owner"]) == ("work", imap_account[0], False, "Анна")
    assert mail_cli.secret(f"mail:{box['id']}") == imap_account[1]  # in the encrypted file ...
    password = imap_account[1].encode()
    plaintext = [f for f in tmp_path.rglob("*") if f.is_file() and password in f.read_bytes()]
    assert plaintext == []  # ... and in no file as it is (the secret file, the store, its WAL, config)
    conn = sqlite3.connect(cli_env["CRM_DB"])
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert imap_account[1] not in dump
    tested = mail_cli("mail", "test", "work")
    assert tested.returncode == 0 and "Sent «Sent»" in tested.stdout
    duplicate = mail_cli("mail", "add", "work", "--imap", "127.0.0.1", "--login", "x@y.test", "--password-stdin",
                         "--security", "none", input="pw\n")
    assert duplicate.returncode == 5 and "exists" in duplicate.stderr


def test_fetch_show_and_send_from_the_command_line(mail_cli, dovecot, imap_account, load, smtp, tmp_path):
    assert mail_cli("add", "lead", "Ёлка", "--email", "olga@client.test", "--contact", "Ольга").returncode == 0
    mail_cli("mail", "add", "work", "--imap", f"127.0.0.1:{dovecot.port}", "--smtp", f"127.0.0.1:{smtp.port}",
             "--login", imap_account[0], "--password-stdin", "--security", "none", input=f"{imap_account[1]}\n")
    load(imap_account, "INBOX", make_mail(subject="Бриф", sender="olga@client.test"), MESSAGES["ansi"].replace(
        b"olga@client.test", b"olga@client.test"))

    fetched = mail_cli("mail", "fetch")

    assert fetched.returncode == 0, fetched.stderr
    assert "work: 2 new" in fetched.stdout
    shown = mail_cli("contacts", "show", "Ольга")
    assert "Бриф" in shown.stdout and "\x1b" not in shown.stdout and "[bold]markup[/bold]" in shown.stdout
    data = json.loads(mail_cli("deals", "show", "Ёлка", "--json").stdout)
    subjects = [m["subject"] for m in data["messages"]]
    assert "Бриф" in subjects
    message_id = next(m["id"] for m in data["messages"] if m["subject"] == "Бриф")
    opened = mail_cli("mail", "show", message_id[:8])
    assert opened.returncode == 0 and "Subject: Бриф" in opened.stdout

    (tmp_path / "sig.txt").write_text("Анна Петрова\nOmega-R\n", encoding="utf-8")
    assert mail_cli("users", "signature", "Анна", "--file", str(tmp_path / "sig.txt")).returncode == 0
    (tmp_path / "body.txt").write_text("Добрый день!\n", encoding="utf-8")
    (tmp_path / "kp.pdf").write_bytes(b"%PDF-1.4 test")
    sent = mail_cli("mail", "send", "--deal", "Ёлка", "--to", "olga@client.test", "--cc", "a@client.test",
                    "--cc", "b@client.test", "--subject", "КП", "--body-file", str(tmp_path / "body.txt"),
                    "--attach", str(tmp_path / "kp.pdf"), "--reply-to-message", message_id)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("Sent ")
    [(_, rcpts, raw)] = smtp.messages
    assert sorted(rcpts) == ["a@client.test", "b@client.test", "olga@client.test"]
    assert b"Omega-R" in raw and b"kp.pdf" in raw and b"In-Reply-To:" in raw
    data = json.loads(mail_cli("deals", "show", "Ёлка", "--json").stdout)
    assert [m["subject"] for m in data["messages"]].count("КП") == 1
    assert mail_cli("mail", "outbox", "--json").stdout.strip() == "[]"


def test_intake_form_and_unsorted_add_with_site_url_territory_and_file(mail_cli, tmp_path):
    form = {"name": "Мария", "phone": "+7 916 123-45-67", "message": "Нужен сайт", "site": "RU",
            "page_url": "https://omega-r.ru/contacts", "utm": {"source": "yandex"}, "gclid": "abc"}
    made = mail_cli("intake", "form", "-", "--json", input=json.dumps(form, ensure_ascii=False))
    assert made.returncode == 0, made.stderr
    result = json.loads(made.stdout)
    assert (result["kind"], result["stage"], result["site"], result["territory"]) == ("lead", "Лид", "RU", "РФ")
    bad = mail_cli("intake", "form", "-", input="{broken")
    assert bad.returncode == 5 and "not JSON" in bad.stderr

    (tmp_path / "brief.pdf").write_bytes(b"%PDF brief")
    filed = mail_cli("unsorted", "add", "Заявка с сайта", "--name", "John", "--site", "COM", "--url",
                     "https://omega-r.com/contact", "--file", str(tmp_path / "brief.pdf"), "--json")
    assert filed.returncode == 0, filed.stderr
    entry = json.loads(filed.stdout)
    assert (entry["site"], entry["territory"], entry["url"]) == ("COM", "Запад", "https://omega-r.com/contact")
    accepted = json.loads(mail_cli("unsorted", "accept", entry["id"][:8], "--json").stdout)
    assert accepted["files"] == ["brief.pdf"] and accepted["source_site"] == "COM"
    missing = mail_cli("unsorted", "add", "x", "--file", str(tmp_path / "nope.pdf"))
    assert missing.returncode == 5 and "no file" in missing.stderr


def test_an_unreachable_server_is_one_clear_line_and_the_other_mailboxes_still_fetch(mail_cli, dovecot, imap_account, load):
    from tests.mail.servers import free_port

    mail_cli("mail", "add", "down", "--imap", f"127.0.0.1:{free_port()}", "--login", "x@example.test",
             "--password-stdin", "--security", "none", input="pw\n")
    mail_cli("mail", "add", "up", "--imap", f"127.0.0.1:{dovecot.port}", "--login", imap_account[0],
             "--password-stdin", "--security", "none", input=f"{imap_account[1]}\n")
    load(imap_account, "INBOX", make_mail(subject="hi"))

    one = mail_cli("mail", "fetch", "down")
    both = mail_cli("mail", "fetch", "-q")

    assert one.returncode == 9 and one.stderr.startswith("error: Cannot connect to IMAP 127.0.0.1:")
    assert "Traceback" not in one.stderr and len(one.stderr.strip().splitlines()) == 1
    assert both.returncode == 9 and "up: 1 new" in both.stdout and "down: 0 new; FAILED: Cannot connect" in both.stdout
    [down] = [m for m in json.loads(mail_cli("mail", "list", "--json").stdout) if m["name"] == "down"]
    assert down["last_error"].startswith("Cannot connect")


def test_removing_a_mailbox_forgets_its_password_and_keeps_its_mail_on_the_cards(mail_cli, dovecot, imap_account, load):
    mail_cli("add", "lead", "Ёлка", "--email", "olga@client.test", "--contact", "Ольга")
    mail_cli("mail", "add", "work", "--imap", f"127.0.0.1:{dovecot.port}", "--login", imap_account[0],
             "--password-stdin", "--security", "none", input=f"{imap_account[1]}\n")
    load(imap_account, "INBOX", make_mail(subject="Бриф", sender="olga@client.test"))
    mail_cli("mail", "fetch", "-q")
    [box] = json.loads(mail_cli("mail", "list", "--json").stdout)
    assert mail_cli.secret(f"mail:{box['id']}") == imap_account[1]

    removed = mail_cli("mail", "remove", "work")

    assert removed.returncode == 0 and "removed" in removed.stdout
    assert mail_cli.secret(f"mail:{box['id']}") is None
    assert json.loads(mail_cli("mail", "list", "--json").stdout) == []
    assert [m["subject"] for m in json.loads(mail_cli("contacts", "show", "Ольга", "--json").stdout)["messages"]] == ["Бриф"]
    again = mail_cli("mail", "add", "work", "--imap", f"127.0.0.1:{dovecot.port}", "--login", imap_account[0],
                     "--password-stdin", "--security", "none", input=f"{imap_account[1]}\n")
    assert again.returncode == 0, again.stderr
