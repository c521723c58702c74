"""The fake amoCRM behaves like the reference says the real API does (over real HTTP)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from . import fixtures
from .server import FakeAmo

fake_amo = fixtures.fake_amo

API = "/api/v4"


@pytest.fixture
def fake(fake_amo: FakeAmo) -> FakeAmo:
    """The fake without its rate limit (tests of the limit use ``fake_amo``)."""
    fake_amo.limits.enabled = False
    return fake_amo


@pytest.fixture
def api(fake: FakeAmo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, headers=fake.headers, timeout=10) as client:
        yield client


def _field(fake: FakeAmo, etype: str, name: str) -> dict[str, Any]:
    return fake.state.field_by_name(etype, name)


def _enum(definition: dict[str, Any], value: str) -> int:
    return next(e["id"] for e in definition["enums"] if e["value"] == value)


# ------------------------------------------------------------------ lists


def test_paging_follows_next_until_the_last_page_then_204(fake: FakeAmo, api: httpx.Client) -> None:
    ids = fake.seed_leads(120)
    seen: list[int] = []
    url: str | None = f"{API}/leads?limit=50"
    pages = 0
    while url:
        response = api.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/hal+json"
        body = response.json()
        pages += 1
        assert body["_page"] == pages
        seen.extend(lead["id"] for lead in body["_embedded"]["leads"])
        url = body["_links"].get("next", {}).get("href")
    assert pages == 3
    assert sorted(seen) == sorted(ids)
    past_end = api.get(f"{API}/leads", params={"limit": 50, "page": 4})
    assert past_end.status_code == 204
    assert past_end.content == b""
    assert "content-type" not in past_end.headers


def test_empty_results_are_204_not_an_empty_list(api: httpx.Client) -> None:
    assert api.get(f"{API}/leads").status_code == 204
    assert api.get(f"{API}/contacts", params={"query": "nobody"}).status_code == 204


def test_limit_is_capped_at_250_and_larger_values_fall_back_to_50(fake: FakeAmo, api: httpx.Client) -> None:
    fake.seed_leads(300)
    assert len(api.get(f"{API}/leads", params={"limit": 250}).json()["_embedded"]["leads"]) == 250
    assert len(api.get(f"{API}/leads", params={"limit": 400}).json()["_embedded"]["leads"]) == 50
    assert len(api.get(f"{API}/leads").json()["_embedded"]["leads"]) == 50


def test_filters_order_and_id_encodings(fake: FakeAmo, api: httpx.Client) -> None:
    fake.clock.set(1_700_000_000)
    first = fake.seed_leads(3)
    fake.clock.advance(100)
    second = fake.seed_leads(2)
    fake.clock.advance(100)
    fake.update_entity("leads", first[0], {"price": 5})
    window = {"filter[updated_at][from]": 1_700_000_100, "filter[updated_at][to]": 1_700_000_200}
    body = api.get(f"{API}/leads", params={**window, "order[updated_at]": "asc"}).json()
    got = [lead["id"] for lead in body["_embedded"]["leads"]]
    assert got == [*second, first[0]]
    for params in (
        [("filter[id]", str(second[0])), ("filter[id]", str(second[1]))],
        [("filter[id][]", str(second[0])), ("filter[id][]", str(second[1]))],
        [("filter[id][0]", str(second[0])), ("filter[id][1]", str(second[1]))],
    ):
        ids = [lead["id"] for lead in api.get(f"{API}/leads", params=params).json()["_embedded"]["leads"]]
        assert ids == second
    desc = api.get(f"{API}/leads", params={"order[updated_at]": "desc"}).json()["_embedded"]["leads"]
    assert desc[0]["id"] == first[0]


def test_ignored_filter_mode_returns_everything_and_reports_it(fake: FakeAmo, api: httpx.Client) -> None:
    fake.clock.set(1_700_000_000)
    fake.seed_leads(2)
    fake.clock.advance(1000)
    fake.seed_leads(1)
    params = {"filter[updated_at][from]": 1_700_000_500}
    assert len(api.get(f"{API}/leads", params=params).json()["_embedded"]["leads"]) == 1
    account = api.get(f"{API}/account", params={"with": "is_api_filter_enabled"}).json()
    assert account["is_api_filter_enabled"] is True
    fake.faults.ignore_filters = True
    assert len(api.get(f"{API}/leads", params=params).json()["_embedded"]["leads"]) == 3
    account = api.get(f"{API}/account", params={"with": "is_api_filter_enabled"}).json()
    assert account["is_api_filter_enabled"] is False


def test_query_searches_names_and_custom_field_values(fake: FakeAmo, api: httpx.Client) -> None:
    contact = fake.create_entity(
        "contacts",
        {"name": "Пётр Сидоров", "custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": "petr@example.com"}]}]},
    )
    fake.create_entity("contacts", {"name": "Someone Else"})
    for needle in ("сидоров", "petr@example"):
        found = api.get(f"{API}/contacts", params={"query": needle}).json()["_embedded"]["contacts"]
        assert [c["id"] for c in found] == [contact["id"]]


# ----------------------------------------------------------------- writes


def test_batch_create_echoes_request_ids_and_patch_echoes_updated_at(fake: FakeAmo, api: httpx.Client) -> None:
    response = api.post(f"{API}/leads", json=[{"name": "A", "request_id": "local-a"}, {"name": "B"}, {"request_id": "c"}])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/hal+json"
    echoed = response.json()["_embedded"]["leads"]
    assert [e["request_id"] for e in echoed] == ["local-a", "1", "c"]
    assert all(isinstance(e["id"], int) for e in echoed)
    fake.clock.advance(30)
    patched = api.patch(f"{API}/leads", json=[{"id": echoed[0]["id"], "price": 10, "request_id": "p1"}]).json()
    assert patched["_embedded"]["leads"][0] == {
        "id": echoed[0]["id"],
        "updated_at": fake.clock.now(),
        "request_id": "p1",
        "_links": {"self": {"href": f"{fake.base_url}/api/v4/leads/{echoed[0]['id']}"}},
    }
    unnamed = api.get(f"{API}/leads/{echoed[2]['id']}").json()
    assert unnamed["name"] == f"Сделка #{echoed[2]['id']}"


def test_batch_limits_and_bodies(api: httpx.Client) -> None:
    too_many = api.post(f"{API}/leads", json=[{"name": str(i)} for i in range(251)])
    assert too_many.status_code == 422
    assert too_many.headers["content-type"] == "application/problem+json"
    assert too_many.json()["status"] == 422
    assert api.post(f"{API}/leads", json={"name": "not an array"}).status_code == 400
    assert api.post(f"{API}/leads", json=[]).status_code == 400
    assert api.post(f"{API}/leads", json=[{"name": str(i)} for i in range(250)]).status_code == 200


def test_validation_errors_are_keyed_by_request_id_and_reject_the_batch(fake: FakeAmo, api: httpx.Client) -> None:
    response = api.post(
        f"{API}/leads",
        json=[
            {"name": "fine", "request_id": "ok"},
            {"name": "bad", "status_id": 999, "request_id": "bad-status"},
            {"name": "typo", "prise": 1, "request_id": "bad-key"},
        ],
    )
    assert response.status_code == 400
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert (body["title"], body["status"], body["type"]) == ("Bad Request", 400, "https://httpstatus.es/400")
    by_id = {e["request_id"]: e["errors"] for e in body["validation-errors"]}
    assert set(by_id) == {"bad-status", "bad-key"}
    assert by_id["bad-status"][0]["code"] == "NotSupportedChoice"
    assert by_id["bad-key"][0] == {"code": "FieldNotExpected", "path": "prise", "detail": "This field was not expected."}
    assert api.get(f"{API}/leads").status_code == 204


def test_patch_merges_fields_and_custom_fields_and_null_clears(fake: FakeAmo, api: httpx.Client) -> None:
    segment = _field(fake, "leads", "Сегмент")
    city = _field(fake, "leads", "Город")
    lead = fake.create_entity(
        "leads",
        {
            "name": "Deal",
            "price": 1000,
            "custom_fields_values": [
                {"field_id": segment["id"], "values": [{"enum_id": _enum(segment, "A")}]},
                {"field_id": city["id"], "values": [{"value": "Москва"}]},
            ],
        },
    )
    fake.clock.advance(60)
    api.patch(f"{API}/leads", json=[{"id": lead["id"], "name": "Deal 2"}]).raise_for_status()
    got = api.get(f"{API}/leads/{lead['id']}").json()
    assert (got["name"], got["price"], got["updated_at"]) == ("Deal 2", 1000, fake.clock.now())
    assert {cf["field_id"] for cf in got["custom_fields_values"]} == {segment["id"], city["id"]}

    change = [{"field_id": segment["id"], "values": [{"value": "B"}]}]
    api.patch(f"{API}/leads/{lead['id']}", json={"custom_fields_values": change}).raise_for_status()
    got = api.get(f"{API}/leads/{lead['id']}").json()
    values = {cf["field_id"]: cf["values"] for cf in got["custom_fields_values"]}
    assert values[segment["id"]] == [{"value": "B", "enum_id": _enum(segment, "B"), "enum_code": None}]
    assert values[city["id"]] == [{"value": "Москва"}]

    clear = [{"field_id": city["id"], "values": None}]
    api.patch(f"{API}/leads", json=[{"id": lead["id"], "custom_fields_values": clear}]).raise_for_status()
    got = api.get(f"{API}/leads/{lead['id']}").json()
    assert [cf["field_id"] for cf in got["custom_fields_values"]] == [segment["id"]]
    assert got["price"] == 1000

    bad = api.patch(
        f"{API}/leads",
        json=[{"id": lead["id"], "custom_fields_values": [{"field_id": segment["id"], "values": [{"value": "Z"}]}]}],
    )
    assert bad.status_code == 400
    assert bad.json()["validation-errors"][0]["errors"][0]["code"] == "NotSupportedChoice"


def test_multitext_phone_and_email_by_field_code(fake: FakeAmo, api: httpx.Client) -> None:
    body = [
        {
            "name": "Ivan",
            "custom_fields_values": [
                {"field_code": "PHONE", "values": [{"value": "+79123456789", "enum_code": "MOB"}]},
                {"field_code": "EMAIL", "values": [{"value": "ivan@example.com", "enum_code": "WORK"}]},
            ],
        }
    ]
    contact_id = api.post(f"{API}/contacts", json=body).json()["_embedded"]["contacts"][0]["id"]
    got = api.get(f"{API}/contacts/{contact_id}").json()
    phone = next(cf for cf in got["custom_fields_values"] if cf["field_code"] == "PHONE")
    assert phone["field_type"] == "multitext"
    assert phone["values"][0]["value"] == "+79123456789"
    assert phone["values"][0]["enum_code"] == "MOB"
    wrong = [{"name": "X", "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "1", "enum": "WORK"}]}]}]
    error = api.post(f"{API}/contacts", json=wrong).json()["validation-errors"][0]["errors"][0]
    assert error == {
        "code": "FieldNotExpected",
        "path": "custom_fields_values.0.values.0.enum",
        "detail": "This field was not expected.",
    }


def test_tags_replace_add_and_delete(fake: FakeAmo, api: httpx.Client) -> None:
    lead = fake.create_entity("leads", {"name": "T", "_embedded": {"tags": [{"name": "vip"}, {"name": "api"}]}})

    def tags() -> list[str]:
        return sorted(t["name"] for t in api.get(f"{API}/leads/{lead['id']}").json()["_embedded"]["tags"])

    assert tags() == ["api", "vip"]
    api.patch(f"{API}/leads", json=[{"id": lead["id"], "tags_to_add": [{"name": "hot"}], "tags_to_delete": [{"name": "api"}]}])
    assert tags() == ["hot", "vip"]
    api.patch(f"{API}/leads", json=[{"id": lead["id"], "_embedded": {"tags": [{"name": "cold"}]}}])
    assert tags() == ["cold"]
    api.patch(f"{API}/leads", json=[{"id": lead["id"], "price": 1}])
    assert tags() == ["cold"]
    api.patch(f"{API}/leads", json=[{"id": lead["id"], "_embedded": {"tags": None}}])
    assert tags() == []
    listed = {t["name"] for t in api.get(f"{API}/leads/tags").json()["_embedded"]["tags"]}
    assert listed == {"vip", "api", "hot", "cold"}


def test_links_on_create_with_contacts_and_link_endpoints(fake: FakeAmo, api: httpx.Client) -> None:
    first = fake.create_entity("contacts", {"name": "First"})
    second = fake.create_entity("contacts", {"name": "Second"})
    company = fake.create_entity("companies", {"name": "ACME"})
    lead_id = api.post(
        f"{API}/leads",
        json=[
            {"name": "L", "_embedded": {"contacts": [{"id": first["id"], "is_main": True}], "companies": [{"id": company["id"]}]}}
        ],
    ).json()["_embedded"]["leads"][0]["id"]
    plain = api.get(f"{API}/leads/{lead_id}").json()["_embedded"]
    assert "contacts" not in plain
    assert [c["id"] for c in plain["companies"]] == [company["id"]]
    embedded = api.get(f"{API}/leads/{lead_id}", params={"with": "contacts"}).json()["_embedded"]
    assert [(c["id"], c["is_main"]) for c in embedded["contacts"]] == [(first["id"], True)]

    refused = api.patch(f"{API}/leads", json=[{"id": lead_id, "_embedded": {"contacts": [{"id": second["id"]}]}}])
    assert refused.status_code == 400
    assert refused.json()["validation-errors"][0]["errors"][0]["code"] == "FieldNotExpected"

    link = [{"to_entity_id": second["id"], "to_entity_type": "contacts", "metadata": {"main_contact": True}}]
    assert api.post(f"{API}/leads/{lead_id}/link", json=link).status_code == 200
    embedded = api.get(f"{API}/leads/{lead_id}", params={"with": "contacts"}).json()["_embedded"]
    assert [(c["id"], c["is_main"]) for c in embedded["contacts"]] == [(first["id"], False), (second["id"], True)]
    contact = api.get(f"{API}/contacts/{second['id']}", params={"with": "leads"}).json()
    assert [lead["id"] for lead in contact["_embedded"]["leads"]] == [lead_id]
    unlink = [{"to_entity_id": first["id"], "to_entity_type": "contacts"}]
    assert api.post(f"{API}/leads/{lead_id}/unlink", json=unlink).status_code == 204
    links = api.get(f"{API}/leads/{lead_id}/links").json()["_embedded"]["links"]
    assert {(link["to_entity_type"], link["to_entity_id"]) for link in links} == {
        ("contacts", second["id"]),
        ("companies", company["id"]),
    }


def test_statuses_142_and_143_exist_in_every_pipeline_and_close_the_lead(fake: FakeAmo, api: httpx.Client) -> None:
    pipelines = api.get(f"{API}/leads/pipelines").json()["_embedded"]["pipelines"]
    assert len(pipelines) == 3
    for pipeline in pipelines:
        statuses = pipeline["_embedded"]["statuses"]
        assert {142, 143} <= {s["id"] for s in statuses}
        assert [s["type"] for s in statuses].count(1) == 1
    other = pipelines[2]
    fake.clock.set(1_700_000_000)
    lead = fake.create_entity("leads", {"name": "Won", "pipeline_id": other["id"], "status_id": 142})
    assert (lead["pipeline_id"], lead["status_id"], lead["closed_at"]) == (other["id"], 142, 1_700_000_000)
    regular = other["_embedded"]["statuses"][1]["id"]
    reopened = fake.update_entity("leads", lead["id"], {"status_id": regular})
    assert reopened["closed_at"] is None
    unsorted = other["_embedded"]["statuses"][0]["id"]
    refused = api.patch(f"{API}/leads", json=[{"id": lead["id"], "status_id": unsorted}])
    assert refused.status_code == 400
    foreign = pipelines[0]["_embedded"]["statuses"][1]["id"]
    assert api.patch(f"{API}/leads", json=[{"id": lead["id"], "status_id": foreign}]).status_code == 400


def test_no_delete_for_entities(fake: FakeAmo, api: httpx.Client) -> None:
    lead = fake.create_entity("leads", {"name": "Stay"})
    for path in (f"{API}/leads/{lead['id']}", f"{API}/leads", f"{API}/contacts", f"{API}/tasks"):
        response = api.delete(path)
        assert response.status_code == 405
        assert response.headers["content-type"] == "application/problem+json"
    assert api.get(f"{API}/leads/{lead['id']}").status_code == 200


def test_deleted_entities_show_only_in_events_and_only_deleted(fake: FakeAmo, api: httpx.Client) -> None:
    keep, gone = fake.seed_leads(2)
    contact = fake.create_entity("contacts", {"name": "Gone too"})
    fake.clock.advance(10)
    fake.delete_entity("leads", gone)
    fake.delete_entity("contacts", contact["id"])
    listed = [lead["id"] for lead in api.get(f"{API}/leads").json()["_embedded"]["leads"]]
    assert listed == [keep]
    assert api.get(f"{API}/leads/{gone}").status_code == 204
    fake.missing_entity_status = 404
    assert api.get(f"{API}/leads/{gone}").status_code == 404
    deleted = api.get(f"{API}/leads", params={"with": "only_deleted"}).json()["_embedded"]["leads"]
    assert [(d["id"], d["is_deleted"], d["name"], d["status_id"]) for d in deleted] == [(gone, True, None, None)]
    assert deleted[0]["updated_at"] == fake.clock.now()
    events = api.get(f"{API}/events", params={"filter[type]": "lead_deleted,contact_deleted"}).json()["_embedded"]["events"]
    assert {(e["type"], e["entity_type"], e["entity_id"]) for e in events} == {
        ("lead_deleted", "lead", gone),
        ("contact_deleted", "contact", contact["id"]),
    }
    assert all(isinstance(e["id"], str) for e in events)
    since = api.get(f"{API}/events", params={"filter[created_at][from]": fake.clock.now(), "filter[entity][]": "lead"})
    assert [e["type"] for e in since.json()["_embedded"]["events"]] == ["lead_deleted"]


def test_tasks_and_notes(fake: FakeAmo, api: httpx.Client) -> None:
    lead = fake.create_entity("leads", {"name": "With work"})
    task = {"text": "Call", "complete_till": 1_800_000_000, "task_type_id": 1, "entity_id": lead["id"], "entity_type": "leads"}
    task_id = api.post(f"{API}/tasks", json=[{**task, "request_id": "t1"}]).json()["_embedded"]["tasks"][0]["id"]
    assert api.get(f"{API}/leads/{lead['id']}").json()["closest_task_at"] == 1_800_000_000
    assert api.post(f"{API}/tasks", json=[{"text": "no deadline"}]).status_code == 400
    done = [{"id": task_id, "is_completed": True, "result": {"text": "Done"}}]
    api.patch(f"{API}/tasks", json=done).raise_for_status()
    got = api.get(f"{API}/tasks/{task_id}").json()
    assert (got["is_completed"], got["result"]) == (True, {"text": "Done"})
    open_tasks = api.get(f"{API}/tasks", params={"filter[is_completed]": 0})
    assert open_tasks.status_code == 204
    note = [{"entity_id": lead["id"], "note_type": "common", "params": {"text": "hello"}, "request_id": "n1"}]
    echoed = api.post(f"{API}/leads/notes", json=note).json()["_embedded"]["notes"][0]
    assert echoed["request_id"] == "n1"
    notes = api.get(f"{API}/leads/{lead['id']}/notes").json()["_embedded"]["notes"]
    assert [(n["note_type"], n["params"]) for n in notes] == [("common", {"text": "hello"})]


def test_unsorted_accept_and_decline(fake: FakeAmo, api: httpx.Client) -> None:
    accept_uid = fake.add_unsorted("From the site", contact_name="Visitor")
    decline_uid = fake.add_unsorted("Spam")
    items = api.get(f"{API}/leads/unsorted").json()["_embedded"]["unsorted"]
    assert {i["uid"] for i in items} == {accept_uid, decline_uid}
    lead_id = next(i for i in items if i["uid"] == accept_uid)["_embedded"]["leads"][0]["id"]
    main = fake.state.main_pipeline_id
    assert api.get(f"{API}/leads/{lead_id}").json()["status_id"] == fake.state.unsorted_status(main)
    accepted = api.post(f"{API}/leads/unsorted/{accept_uid}/accept", json={}).json()
    assert accepted["_embedded"]["leads"][0]["id"] == lead_id
    assert api.get(f"{API}/leads/{lead_id}").json()["status_id"] == fake.state.first_regular_status(main)
    declined = api.request("DELETE", f"{API}/leads/unsorted/{decline_uid}/decline", json={})
    assert declined.status_code == 200
    declined_lead = declined.json()["_embedded"]["leads"][0]["id"]
    assert api.get(f"{API}/leads/{declined_lead}").status_code == 204
    assert api.get(f"{API}/leads/unsorted").status_code == 204
    assert [e["entity_id"] for e in fake.events("lead_deleted")] == [declined_lead]


def test_custom_field_definitions_users_account(api: httpx.Client) -> None:
    fields = api.get(f"{API}/leads/custom_fields").json()
    selects = [f for f in fields["_embedded"]["custom_fields"] if f["type"] == "select"]
    assert selects and all(f["enums"] for f in selects)
    users = api.get(f"{API}/users").json()
    assert users["_total_items"] == 3
    account = api.get(f"{API}/account", params={"with": "task_types"}).json()
    assert {t["id"] for t in account["_embedded"]["task_types"]} >= {1, 2}


# ------------------------------------------------------------------ OAuth


def _token(fake: FakeAmo, **fields: str) -> httpx.Response:
    payload = {
        "client_id": fake.oauth.client_id,
        "client_secret": fake.oauth.client_secret,
        "redirect_uri": fake.oauth.redirect_uri,
    }
    return httpx.post(f"{fake.base_url}/oauth2/access_token", json={**payload, **fields})


def test_oauth_code_exchange_and_single_use_rotating_refresh(fake: FakeAmo) -> None:
    code = fake.issue_auth_code()
    first = _token(fake, grant_type="authorization_code", code=code)
    assert first.status_code == 200
    pair = first.json()
    assert (pair["token_type"], pair["expires_in"]) == ("Bearer", 86400)
    assert _token(fake, grant_type="authorization_code", code=code).status_code == 400

    second = _token(fake, grant_type="refresh_token", refresh_token=pair["refresh_token"]).json()
    assert second["refresh_token"] != pair["refresh_token"]
    assert second["access_token"] != pair["access_token"]
    reused = _token(fake, grant_type="refresh_token", refresh_token=pair["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["hint"] == "Token has been revoked"
    assert fake.refresh_grants == 1

    headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert httpx.get(f"{fake.base_url}{API}/account", headers=headers).status_code == 200
    fake.expire_access_tokens()
    expired = httpx.get(f"{fake.base_url}{API}/account", headers=headers)
    assert expired.status_code == 401
    assert expired.headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{fake.base_url}{API}/account", headers=fake.headers).status_code == 200
    assert httpx.get(f"{fake.base_url}{API}/account").status_code == 401
    assert _token(fake, grant_type="refresh_token", refresh_token=second["refresh_token"], client_secret="x").status_code == 401


def test_access_tokens_expire_on_the_fake_clock(fake: FakeAmo) -> None:
    pair = fake.issue_tokens()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    fake.clock.advance(86399)
    assert httpx.get(f"{fake.base_url}{API}/account", headers=headers).status_code == 200
    fake.clock.advance(1)
    assert httpx.get(f"{fake.base_url}{API}/account", headers=headers).status_code == 401


# ------------------------------------------------------- rate limit, faults


def _burst(fake: FakeAmo, count: int) -> list[httpx.Response]:
    with httpx.Client(base_url=fake.base_url, headers=fake.headers) as client:
        return [client.get(f"{API}/account") for _ in range(count)]


def test_more_than_7_requests_per_second_get_429(fake_amo: FakeAmo) -> None:
    statuses = [r.status_code for r in _burst(fake_amo, 10)]
    assert statuses == [200] * 7 + [429] * 3
    last = _burst(fake_amo, 1)[0]
    assert last.headers["content-type"] == "application/problem+json"
    assert last.json()["retry_after"] == 1
    fake_amo.limits.html_429 = True
    html = _burst(fake_amo, 1)[0]
    assert (html.status_code, html.headers["content-type"]) == (429, "text/html; charset=utf-8")
    time.sleep(1.05)
    assert _burst(fake_amo, 1)[0].status_code == 200


def test_repeated_violations_lock_the_account_out(fake_amo: FakeAmo) -> None:
    fake_amo.limits.lockout_after = 3
    statuses = [r.status_code for r in _burst(fake_amo, 12)]
    assert statuses[:7] == [200] * 7
    assert statuses[7:10] == [429] * 3
    assert statuses[10:] == [403, 403]
    time.sleep(1.05)
    locked = _burst(fake_amo, 1)[0]
    assert locked.status_code == 403
    assert "nginx" in locked.text
    assert locked.headers["content-type"].startswith("text/html")
    fake_amo.faults.unlock()
    assert _burst(fake_amo, 1)[0].status_code == 200


def test_injected_faults(fake: FakeAmo, api: httpx.Client) -> None:
    fake.faults.rate_limit_next(1, html=True, retry_after_header=2)
    response = api.get(f"{API}/leads")
    assert (response.status_code, response.headers["retry-after"]) == (429, "2")
    assert "<html>" in response.text
    fake.faults.fail_next(402)
    assert api.get(f"{API}/leads").json()["title"] == "Payment Required"
    fake.faults.server_error_next(1)
    error = api.get(f"{API}/leads").json()
    assert error["status"] == 500 and error["trace_id"]
    fake.faults.payment_required = True
    assert api.get(f"{API}/account").status_code == 402
    fake.faults.payment_required = False
    fake.faults.unauthorized_next()
    assert api.get(f"{API}/account").status_code == 401
    assert api.get(f"{API}/account").status_code == 200


def test_large_batch_504_writes_nothing(fake: FakeAmo, api: httpx.Client) -> None:
    fake.faults.max_write_batch = 10
    assert api.post(f"{API}/leads", json=[{"name": str(i)} for i in range(11)]).status_code == 504
    assert api.get(f"{API}/leads").status_code == 204
    assert api.post(f"{API}/leads", json=[{"name": str(i)} for i in range(10)]).status_code == 200


def test_drop_after_write_applies_it_and_closes_the_connection(fake: FakeAmo, api: httpx.Client) -> None:
    fake.faults.drop_next_write()
    with pytest.raises(httpx.RemoteProtocolError):
        api.post(f"{API}/leads", json=[{"name": "ghost"}])
    leads = api.get(f"{API}/leads").json()["_embedded"]["leads"]
    assert [lead["name"] for lead in leads] == ["ghost"]
    assert [r.status for r in fake.requests if r.method == "POST"] == [-1]
    fake.faults.drop_next_write(mode="504")
    assert api.post(f"{API}/leads", json=[{"name": "ghost 2"}]).status_code == 504
    assert len(api.get(f"{API}/leads").json()["_embedded"]["leads"]) == 2


def test_latency_and_request_log(fake: FakeAmo, api: httpx.Client) -> None:
    fake.faults.latency = 0.2
    started = time.monotonic()
    api.get(f"{API}/leads", params={"limit": 5})
    assert time.monotonic() - started >= 0.2
    record = fake.requests[-1]
    assert (record.method, record.path, record.query, record.status) == ("GET", "/api/v4/leads", {"limit": ["5"]}, 204)
