"""The amoCRM HTTP client against the fake amoCRM, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import multiprocessing
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest

from tests.fake_amocrm import FakeAmo, RecordedRequest, fixtures
from tests.fake_amocrm.keyrings import FileKeyring, MemoryKeyring
from tui_crm.secrets import EncryptedFileStore
from tui_crm.sync.amocrm import (
    AmoAuthError,
    AmoClient,
    AmoForbidden,
    AmoLockedOut,
    AmoPaymentRequired,
    AmoRateLimited,
    AmoServerError,
    AmoTokenStoreError,
    AmoUnavailable,
    AmoValidationError,
    MemoryTokenStore,
    OAuthApp,
    RateLimiter,
    SecretTokenStore,
    TokenPair,
    exchange_code,
)

fake_amo = fixtures.fake_amo


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def _app(fake: FakeAmo) -> OAuthApp:
    return OAuthApp(fake.oauth.client_id, fake.oauth.client_secret, fake.oauth.redirect_uri)


def _client(fake: FakeAmo, store: Any = None, **kwargs: Any) -> AmoClient:
    store = store or MemoryTokenStore(TokenPair.long_lived_token(fake.token))
    kwargs.setdefault("backoff_base", 0.05)
    return AmoClient(fake.base_url, store, **kwargs)


def _oauth_client(fake: FakeAmo, **kwargs: Any) -> tuple[AmoClient, MemoryTokenStore]:
    store = MemoryTokenStore(TokenPair.from_response(fake.issue_tokens()))
    return _client(fake, store, oauth=_app(fake), **kwargs), store


def _api(fake: FakeAmo) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path.startswith("/api/v4/")]


def _busiest_second(requests: list[RecordedRequest]) -> int:
    """The most requests that arrived within any 1-second window."""
    times = sorted(r.time for r in requests)
    return max((sum(1 for t in times if start <= t < start + 1.0) for start in times), default=0)


# ------------------------------------------------------------------ reads


def test_paging_over_600_leads_returns_each_exactly_once(fake_amo: FakeAmo) -> None:
    ids = fake_amo.seed_leads(600)
    with _client(fake_amo) as client:
        pages = list(client.get_all("leads", {"order[id]": "asc"}))
    assert [len(page) for page in pages] == [250, 250, 100]
    got = [lead["id"] for page in pages for lead in page]
    assert len(got) == 600
    assert sorted(got) == sorted(ids)
    assert [r.query["limit"] for r in _api(fake_amo)] == [["250"]] * 3


def test_get_all_stops_on_204_and_get_returns_none(fake_amo: FakeAmo) -> None:
    with _client(fake_amo) as client:
        assert list(client.get_all("/api/v4/leads")) == []
        assert len(_api(fake_amo)) == 1
        assert client.get("leads") is None
        assert client.get_entity("leads", 12345) is None
        fake_amo.missing_entity_status = 404
        assert client.get_entity("leads", 12345) is None
        fake_amo.seed_leads(250)
        fake_amo.clear_requests()
        assert [len(p) for p in client.get_all("leads")] == [250]
        assert len(_api(fake_amo)) == 1


def test_429_with_html_body_is_retried_with_backoff(fake_amo: FakeAmo) -> None:
    fake_amo.seed_leads(3)
    fake_amo.faults.rate_limit_next(2, html=True, retry_after=None)
    with _client(fake_amo) as client:
        pages = list(client.get_all("leads"))
    assert [len(p) for p in pages] == [3]
    assert [r.status for r in _api(fake_amo)] == [429, 429, 200]


def test_429_with_json_body_waits_retry_after(fake_amo: FakeAmo) -> None:
    fake_amo.faults.rate_limit_next(1, retry_after=1)
    with _client(fake_amo) as client:
        assert client.account()["id"] == fake_amo.state.account_id
    first, second = _api(fake_amo)
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 0.95


def test_429_retry_after_header_is_respected(fake_amo: FakeAmo) -> None:
    fake_amo.faults.rate_limit_next(1, html=True, retry_after=None, retry_after_header=1)
    with _client(fake_amo) as client:
        client.account()
    first, second = _api(fake_amo)
    assert second.time - first.time >= 0.95


def test_persistent_429_gives_up_and_long_waits_are_left_to_the_caller(fake_amo: FakeAmo) -> None:
    fake_amo.faults.rate_limit_next(10, html=True, retry_after=None)
    with _client(fake_amo, max_retries=2) as client, pytest.raises(AmoRateLimited):
        client.account()
    assert len(_api(fake_amo)) == 3
    fake_amo.faults.clear()
    fake_amo.clear_requests()
    fake_amo.faults.rate_limit_next(1, retry_after=300)
    with _client(fake_amo) as client, pytest.raises(AmoRateLimited) as caught:
        client.account()
    assert caught.value.retry_after == 300
    assert len(_api(fake_amo)) == 1


def test_requests_never_exceed_7_per_second_at_the_fake(fake_amo: FakeAmo) -> None:
    errors: list[BaseException] = []
    with _client(fake_amo) as client:

        def work() -> None:
            try:
                for _ in range(8):
                    client.get("account")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    requests = _api(fake_amo)
    assert len(requests) == 24
    assert all(r.status == 200 for r in requests)
    assert _busiest_second(requests) <= 7
    assert fake_amo.max_requests_per_window(1.0) <= 7


def test_rate_limiter_sliding_window_on_a_fake_clock() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(7, clock=lambda: now[0], sleep=sleep, margin=0.0)
    stamps = []
    for _ in range(21):
        limiter.acquire()
        stamps.append(now[0])
    assert stamps == [0.0] * 7 + [1.0] * 7 + [2.0] * 7
    limiter.penalize(5.0)
    limiter.acquire()
    assert now[0] == pytest.approx(7.0)


# ----------------------------------------------------------------- errors


def test_403_lockout_raises_at_once_after_one_request(fake_amo: FakeAmo) -> None:
    fake_amo.faults.lock_out()
    with _client(fake_amo) as client, pytest.raises(AmoLockedOut) as caught:
        list(client.get_all("leads"))
    assert len(_api(fake_amo)) == 1
    assert "support" in str(caught.value)
    assert caught.value.status == 403


def test_403_with_json_is_forbidden_not_lockout(fake_amo: FakeAmo) -> None:
    fake_amo.faults.fail_next(403, detail="Insufficient rights to call this method")
    with _client(fake_amo) as client, pytest.raises(AmoForbidden) as caught:
        client.users()
    assert not isinstance(caught.value, AmoLockedOut)
    assert "Insufficient rights" in str(caught.value)


def test_402_and_5xx(fake_amo: FakeAmo) -> None:
    with _client(fake_amo) as client:
        fake_amo.faults.fail_next(402)
        with pytest.raises(AmoPaymentRequired):
            client.account()
        fake_amo.clear_requests()
        fake_amo.faults.server_error_next(1)
        assert client.account()["id"]
        assert [r.status for r in _api(fake_amo)] == [500, 200]
        fake_amo.clear_requests()
        fake_amo.faults.server_error_next(1, method="POST")
        with pytest.raises(AmoServerError) as caught:
            client.post_batch("leads", [{"name": "x"}])
        assert len(_api(fake_amo)) == 1
        assert caught.value.maybe_applied
        assert caught.value.request_id
        fake_amo.faults.max_write_batch = 10
        with pytest.raises(AmoServerError) as caught:
            client.post_batch("leads", [{"name": str(i)} for i in range(20)], chunk_size=20)
        assert caught.value.status == 504
        assert "fewer records" in str(caught.value)


def test_unreachable_server_is_unavailable() -> None:
    fake = FakeAmo.start()
    base_url, token = fake.base_url, fake.token
    fake.stop()
    store = MemoryTokenStore(TokenPair.long_lived_token(token))
    with AmoClient(base_url, store, backoff_base=0.01) as client, pytest.raises(AmoUnavailable) as caught:
        client.account()
    assert not caught.value.maybe_applied


def test_validation_errors_are_reported_per_request_id(fake_amo: FakeAmo) -> None:
    with _client(fake_amo) as client, pytest.raises(AmoValidationError) as caught:
        client.post_batch("leads", [{"name": "ok"}, {"name": "bad", "status_id": 1}])
    assert caught.value.errors_for("1")[0]["path"] == "status_id"
    assert caught.value.errors_for("0") == []


# ----------------------------------------------------------------- tokens


def test_401_refreshes_once_then_retries(fake_amo: FakeAmo) -> None:
    client, store = _oauth_client(fake_amo)
    before = store.load()
    fake_amo.expire_access_tokens()
    with client:
        assert client.account()["id"]
    assert fake_amo.refresh_grants == 1
    assert [(r.path, r.status) for r in fake_amo.requests] == [
        ("/api/v4/account", 401),
        ("/oauth2/access_token", 200),
        ("/api/v4/account", 200),
    ]
    after = store.load()
    assert after is not None and before is not None
    assert after.refresh_token != before.refresh_token


def test_second_401_raises_auth_error(fake_amo: FakeAmo) -> None:
    client, _ = _oauth_client(fake_amo)
    fake_amo.faults.unauthorized_next(2)
    with client, pytest.raises(AmoAuthError):
        client.account()
    assert fake_amo.refresh_grants == 1
    assert len(fake_amo.requests) == 3


def test_long_lived_token_is_never_refreshed(fake_amo: FakeAmo) -> None:
    fake_amo.expire_access_tokens(include_long_lived=True)
    with _client(fake_amo, oauth=_app(fake_amo)) as client, pytest.raises(AmoAuthError) as caught:
        client.account()
    assert "long-lived" in str(caught.value)
    assert len(fake_amo.requests) == 1


def test_expired_token_is_refreshed_before_the_request(fake_amo: FakeAmo) -> None:
    issued = TokenPair.from_response(fake_amo.issue_tokens())
    store = MemoryTokenStore(TokenPair(issued.access_token, issued.refresh_token, int(time.time()) - 5))
    with _client(fake_amo, store, oauth=_app(fake_amo)) as client:
        client.account()
    assert [r.path for r in fake_amo.requests] == ["/oauth2/access_token", "/api/v4/account"]


def test_threads_hitting_401_together_refresh_once(fake_amo: FakeAmo, tmp_path: Path) -> None:
    client, _ = _oauth_client(fake_amo, lock_dir=tmp_path)
    fake_amo.expire_access_tokens()
    start = threading.Barrier(5)
    failures: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            client.account()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    with client:
        threads = [threading.Thread(target=work) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    assert fake_amo.refresh_grants == 1


def _refresh_in_child(
    base_url: str, secrets_path: str, lock_dir: str, app: tuple[str, str, str], start: Any, results: Any
) -> None:
    store = SecretTokenStore("acme", EncryptedFileStore(secrets_path, "child-pass-phrase"))
    client = AmoClient(base_url, store, oauth=OAuthApp(*app), lock_dir=lock_dir)
    start.wait(timeout=60)
    try:
        results.put(("ok", client.account()["id"]))
    except Exception as exc:  # noqa: BLE001 - sent to the parent
        results.put(("error", repr(exc)))
    finally:
        client.close()


def test_two_processes_refreshing_at_once_refresh_once(fake_amo: FakeAmo, tmp_path: Path) -> None:
    secrets_path = tmp_path / "secrets.enc"
    shared = SecretTokenStore("acme", EncryptedFileStore(secrets_path, "child-pass-phrase"))
    original = TokenPair.from_response(fake_amo.issue_tokens())
    shared.save(original)
    fake_amo.expire_access_tokens()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    results = ctx.Queue()
    app = (fake_amo.oauth.client_id, fake_amo.oauth.client_secret, fake_amo.oauth.redirect_uri)
    args = (fake_amo.base_url, str(secrets_path), str(tmp_path / "locks"), app, start, results)
    processes = [ctx.Process(target=_refresh_in_child, args=args) for _ in range(2)]
    for process in processes:
        process.start()
    outcomes: list[tuple[str, Any]] = []
    deadline = time.monotonic() + 60
    while len(outcomes) < len(processes) and time.monotonic() < deadline:
        try:
            outcomes.append(results.get(timeout=0.2))
        except queue.Empty:
            if not any(p.is_alive() for p in processes) and results.empty():
                break
    for process in processes:
        process.join(timeout=30)
    stored = shared.load()
    assert outcomes == [("ok", fake_amo.state.account_id)] * 2
    assert fake_amo.refresh_grants == 1
    assert [r.status for r in fake_amo.requests if r.path == "/oauth2/access_token"] == [200]
    assert stored is not None and stored.refresh_token != original.refresh_token


def test_exchange_code_and_the_keyring_secret_store(fake_amo: FakeAmo, memory_keyring: MemoryKeyring) -> None:
    app = _app(fake_amo)
    code = fake_amo.issue_auth_code()
    pair = exchange_code(fake_amo.base_url, app, code)
    with pytest.raises(AmoAuthError):
        exchange_code(fake_amo.base_url, app, code)
    store = SecretTokenStore("acme.amocrm.ru")
    store.save(pair)
    secret = memory_keyring.get_password("tui-crm", "amocrm:acme.amocrm.ru")
    assert secret is not None and json.loads(secret)["refresh_token"] == pair.refresh_token
    assert store.load() == pair
    assert store.lock_name == "amocrm-acme.amocrm.ru"
    for text in (repr(pair), str(pair), repr(app), repr(store)):
        assert pair.access_token not in text
        assert str(pair.refresh_token) not in text
        assert app.client_secret not in text
    store.clear()
    assert store.load() is None
    store.clear()


def test_a_plaintext_keyring_backend_is_refused_whatever_its_name(memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    from tui_crm.secrets import KeyringSecretStore

    insecure = type("SecureVault", (FileKeyring,), {"__module__": "corp.vault"})(tmp_path / "vault.json")
    keyring.set_keyring(insecure)
    with pytest.raises(AmoTokenStoreError, match="readable"):
        SecretTokenStore("acme", KeyringSecretStore()).save(TokenPair.long_lived_token("secret"))
    assert "secret" not in (tmp_path / "vault.json").read_text(encoding="utf-8")  # the canary is gone, no token


# ----------------------------------------------------------------- writes


def test_batches_are_split_at_50_and_echo_request_ids(fake_amo: FakeAmo) -> None:
    chunks: list[tuple[int, int]] = []
    with _client(fake_amo) as client:
        created = client.post_batch(
            "leads",
            [{"name": f"Lead {i}"} for i in range(120)],
            on_chunk=lambda sent, echoed: chunks.append((len(sent), len(echoed))),
        )
        assert [e["request_id"] for e in created] == [str(i) for i in range(120)]
        assert chunks == [(50, 50), (50, 50), (20, 20)]
        posts = [r for r in fake_amo.requests if r.method == "POST"]
        assert [len(r.body) for r in posts] == [50, 50, 20]
        updates = [{"id": e["id"], "price": 7, "request_id": f"u-{e['id']}"} for e in created[:60]]
        patched = client.patch_batch("leads", updates)
    assert [e["request_id"] for e in patched] == [u["request_id"] for u in updates]
    assert all("updated_at" in e for e in patched)
    assert [len(r.body) for r in fake_amo.requests if r.method == "PATCH"] == [50, 10]


def test_a_dropped_chunk_reports_what_was_done_and_what_is_uncertain(fake_amo: FakeAmo) -> None:
    with _client(fake_amo) as client, pytest.raises(AmoUnavailable) as caught:
        client.post_batch("leads", [{"name": str(i)} for i in range(120)], on_chunk=lambda *_: fake_amo.faults.drop_next_write())
    error = caught.value
    assert error.maybe_applied
    assert error.batch is not None
    assert (len(error.batch.done), len(error.batch.failed), len(error.batch.not_sent)) == (50, 50, 20)
    assert len(fake_amo.state.entities["leads"]) == 100
    assert len([r for r in fake_amo.requests if r.method == "POST"]) == 2


def test_base_url_rules(fake_amo: FakeAmo) -> None:
    store = MemoryTokenStore(TokenPair.long_lived_token(fake_amo.token))
    with pytest.raises(ValueError):
        AmoClient("http://example.amocrm.ru", store)
    client = AmoClient(f"{fake_amo.base_url}/api/v4/", store)
    assert client.base_url == fake_amo.base_url
    with pytest.raises(ValueError):
        client.get("https://elsewhere.example/api/v4/leads")
    client.close()


def test_adapter_imports_neither_textual_nor_storage() -> None:
    code = (
        "import sys, tui_crm.sync.amocrm\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'tui_crm.storage', 'tui_crm.services'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_a_request_in_flight_holds_its_place_in_the_window() -> None:
    """Slow responses (a loaded machine, a slow network) must not let the next
    burst overlap them at the server: a slot counts until its response is in."""
    limiter = RateLimiter(2, period=0.2, margin=0.0)
    order: list[str] = []
    release = threading.Event()

    def slow_request(name: str) -> None:
        with limiter.slot():
            order.append(f"{name} sent")
            release.wait(timeout=10)
            order.append(f"{name} answered")

    first = [threading.Thread(target=slow_request, args=(n,)) for n in ("a", "b")]
    for thread in first:
        thread.start()
    while order.count("a sent") + order.count("b sent") < 2:
        threading.Event().wait(0.01)
    late = threading.Thread(target=slow_request, args=("c",))
    late.start()
    threading.Event().wait(0.5)  # more than the 0.2 s window: only the open slots hold c back
    assert "c sent" not in order
    release.set()
    for thread in (*first, late):
        thread.join(timeout=10)
    assert order.index("c sent") > max(order.index("a answered"), order.index("b answered"))
