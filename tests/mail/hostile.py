"""Hostile and broken messages, as raw bytes, for the fetch and display tests."""

from __future__ import annotations

import base64

DATE = "Date: Fri, 20 Nov 2026 10:00:00 +0300\r\n"


def _mail(headers: str, body: bytes, date: bool = True) -> bytes:
    head = "From: Olga <olga@client.test>\r\nTo: me@example.test\r\n" + (DATE if date else "") + headers
    return head.encode("latin-1") + b"\r\n" + body


def b64word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


ANSI_SUBJECT = "\x1b]0;pwned\x07\x1b[2J\x1b[31mRed [bold]markup[/bold] [link=file:///etc]x[/link]"
BIDI_SUBJECT = "invoice\u202egnp.exe\u200b\u2066"

MESSAGES: dict[str, bytes] = {
    "ansi": _mail(
        f"Subject: {b64word(ANSI_SUBJECT, 'utf-8')}\r\nMessage-ID: <ansi@h>\r\nContent-Type: text/plain; charset=utf-8\r\n",
        b"Body \x1b[5mblink\x1b[0m \x1b]8;;http://evil\x07link\x1b]8;;\x07 [red]not red[/red]\r\n",
    ),
    "bidi": _mail(
        f"Subject: {b64word(BIDI_SUBJECT, 'utf-8')}\r\nMessage-ID: <bidi@h>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n",
        "zero\u200bwidth \u202eright-to-left\r\n".encode(),
    ),
    "cp1251": _mail(
        "Subject: cp1251 declared\r\nMessage-ID: <cp1251@h>\r\nContent-Type: text/plain; charset=windows-1251\r\n",
        "Добрый день, нужна смета на сайт.\r\n".encode("cp1251"),
    ),
    "koi8": _mail(
        f"Subject: {b64word('Привет из КОИ-8', 'koi8-r')}\r\nMessage-ID: <koi8@h>\r\n"
        "Content-Type: text/plain; charset=koi8-r\r\n",
        "Письмо в кодировке кои-восемь.\r\n".encode("koi8-r"),
    ),
    "wrong-charset": _mail(
        "Subject: declared koi8-r, really cp1251\r\nMessage-ID: <wrong@h>\r\nContent-Type: text/plain; charset=koi8-r\r\n",
        "Коммерческое предложение во вложении.\r\n".encode("cp1251"),
    ),
    "no-charset": _mail(
        "Subject: no charset\r\nMessage-ID: <nocharset@h>\r\nContent-Type: text/plain\r\n",
        "Счёт на оплату, без кодировки.\r\n".encode("cp1251"),
    ),
    "unknown-charset": _mail(
        "Subject: =?x-unknown-42?B?0J/RgNC40LLQtdGC?=\r\nMessage-ID: <unknown@h>\r\n"
        "Content-Type: text/plain; charset=x-unknown-42\r\n",
        "Привет в неизвестной кодировке\r\n".encode(),
    ),
    "raw-8bit-subject": (
        b"From: Olga <olga@client.test>\r\nTo: me@example.test\r\n" + DATE.encode() + b"Subject: "
        + "Заявка на разработку".encode("cp1251") + b"\r\nMessage-ID: <raw8@h>\r\n\r\nbody\r\n"
    ),
    "html-only": _mail(
        "Subject: HTML only\r\nMessage-ID: <html@h>\r\nContent-Type: text/html; charset=utf-8\r\n",
        "<html><body><h1>Здравствуйте</h1><p>Смотрите <a href='https://ex.test/a'>ссылку</a></p>"
        "<script>alert(1)</script></body></html>\r\n".encode(),
    ),
    "no-date": _mail("Subject: no date\r\nMessage-ID: <nodate@h>\r\n", b"dateless\r\n", date=False),
    "dup-1": _mail("Subject: first with this id\r\nMessage-ID: <dup@h>\r\n", b"one\r\n"),
    "dup-2": _mail("Subject: second with the same id\r\nMessage-ID: <dup@h>\r\n", b"two\r\n"),
    "broken-mime": _mail(
        'Subject: broken mime\r\nMessage-ID: <broken@h>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n',
        b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64@@@\r\n"
        b"--XX\r\nContent-Type: application/pdf; name=\"=?utf-8?B?!!!?=\"\r\nContent-Disposition: attachment\r\n\r\n%PDF",
    ),
    "no-boundary": _mail(
        "Subject: multipart without boundary\r\nMessage-ID: <nobound@h>\r\nContent-Type: multipart/mixed\r\n",
        b"just text\r\n",
    ),
    "garbage-headers": b"\x00\x01\xff\xfe:::\r\nSubject: \xff\xfe\xfd\r\n\r\n\x00\x00body",
}


def big_attachment(size: int = 25 * 1024 * 1024) -> bytes:
    data = base64.encodebytes(b"\x89PNG" + bytes(range(256)) * (size // 256))
    return (
        b"From: Olga <olga@client.test>\r\nTo: me@example.test\r\n" + DATE.encode()
        + b"Subject: big file\r\nMessage-ID: <big@h>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe file is attached.\r\n"
        b"--B\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"plan.png\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + data.replace(b"\n", b"\r\n") + b"\r\n--B--\r\n"
    )
