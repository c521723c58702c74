"""Hub addresses and the hub's value form, without a server."""

from __future__ import annotations

import pytest

from tui_crm.domain.errors import ValidationError
from tui_crm.services.hub import hub_label
from tui_crm.sync.adapter import Ref
from tui_crm.sync.hub.adapter import decode, encode
from tui_crm.sync.hub.connection import parse_url


def test_a_password_in_the_url_is_split_off_and_the_name_keys_host_port_and_database() -> None:
    address = parse_url("postgresql://anna:s%40cret@db.example.com/team?sslmode=require")
    assert address.password == "s@cret"
    assert address.url == "postgresql://anna@db.example.com:5432/team?sslmode=require"
    assert "s@cret" not in address.url and "cret" not in address.name
    assert address.name == "hub:db.example.com:5432/team"
    assert hub_label(address.name) == "hub db.example.com/team"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://anna@db/team", "not a PostgreSQL address"),
        ("postgresql://db.example.com/team", "needs a user and a database"),
        ("postgresql://anna@db.example.com", "needs a user and a database"),
        ("postgresql://anna@db.example.com:port/team", "port that is not a number"),
    ],
)
def test_a_bad_address_is_one_line_naming_the_problem(url: str, says: str) -> None:
    with pytest.raises(ValidationError) as bad:
        parse_url(url)
    assert says in str(bad.value) and "\n" not in str(bad.value)


def test_references_travel_as_hub_ids_and_come_back_as_refs() -> None:
    fields = {
        "name": "Сделка",
        "stage_id": Ref("stage", "sales:lead"),
        "responsible_id": Ref("user", "anna"),
        "contacts": [Ref("contact", "c" * 32)],
        "company_id": None,
    }
    stored = encode("deal", fields)
    assert stored == {"name": "Сделка", "stage_id": "sales:lead", "responsible_id": "anna", "contacts": ["c" * 32],
                      "company_id": None}  # fmt: skip
    assert decode("deal", stored) == {**fields, "deleted": False}
    note = encode("note", {"entity": Ref("deal", "d" * 32), "text": "x"})
    assert note["entity"] == "deal:" + "d" * 32
    assert decode("note", note)["entity"] == Ref("deal", "d" * 32)


def test_a_bad_login_is_refused_before_any_connection() -> None:
    from tui_crm.services.hub import add_member

    with pytest.raises(ValidationError) as bad:  # port 1: nothing listens, so a connection attempt would fail otherwise
        add_member("postgresql://owner@127.0.0.1:1/team", "Bad Name", "Someone")
    assert "not a usable login" in str(bad.value)
