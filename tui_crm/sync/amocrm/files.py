"""Files of leads, contacts and companies: amoCRM's file links and its Drive.

amoCRM keeps a record's files in two places (amocrm-api-php
``EntityFiles``/``Files``; the fake follows the same shapes):

* ``GET /api/v4/{entity}/{id}/files`` lists the record's files as
  ``_embedded.files[{file_uuid}]``; ``PUT`` of ``[{file_uuid}]`` links more;
* the Drive, on a host of its own (``GET /api/v4/account?with=drive_url``,
  e.g. ``https://drive-b.amocrm.ru``), holds the files themselves:
  ``GET /v1.0/files/{uuid}`` (name, size, ``metadata.mime_type``,
  ``_links.download.href``), and an upload is ``POST /v1.0/sessions``
  (``file_name``, ``file_size``, ``content_type``) followed by the bytes in
  parts of at most ``max_part_size`` POSTed to ``upload_url`` / ``next_url``;
  the last part answers with the new file.

The token goes to the Drive host only when it is a host of the same
service as the account (``AmoClient.allow_origin``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tui_crm.sync.amocrm.client import AmoClient, embedded_items
from tui_crm.sync.amocrm.errors import AmoError

PATHS = {"deal": "leads", "contact": "contacts", "company": "companies"}


@dataclass
class RemoteFile:
    uuid: str
    name: str
    size: int
    mime: str | None
    download: str | None


class DriveFiles:
    """File links of records and the account's Drive (see the module docstring)."""

    def __init__(self, client: AmoClient) -> None:
        self.client = client
        self.url: str | None = None

    def use_drive(self, drive_url: Any) -> None:
        """The Drive address from ``/account?with=drive_url`` (files stay unsynced without a usable one)."""
        self.url = None
        if isinstance(drive_url, str) and drive_url and self.client.allow_origin(drive_url):
            self.url = drive_url.rstrip("/")

    @property
    def available(self) -> bool:
        return self.url is not None

    def links(self, entity: str, remote_id: str) -> list[str]:
        """The uuids of the files linked to a record."""
        body = self.client.get(f"{PATHS[entity]}/{int(remote_id)}/files")
        return [str(item["file_uuid"]) for item in embedded_items(body, "files") if item.get("file_uuid")]

    def info(self, file_uuid: str) -> RemoteFile:
        body = self.client.get(f"{self.url}/v1.0/files/{file_uuid}") or {}
        links = body.get("_links") or {}
        return RemoteFile(
            uuid=str(body.get("uuid") or file_uuid),
            name=str(body.get("name") or file_uuid),
            size=int(body.get("size") or 0),
            mime=(body.get("metadata") or {}).get("mime_type"),
            download=(links.get("download") or {}).get("href"),
        )

    def download(self, file: RemoteFile) -> bytes:
        if not file.download:
            raise AmoError(f"amoCRM gave no download link for the file {file.name}")
        return self.client.request("GET", file.download).content

    def upload(self, name: str, content: bytes, mime: str | None) -> str:
        """Put a file into the Drive in parts; returns its uuid."""
        kind = mime or "application/octet-stream"
        session = self.client.post(
            f"{self.url}/v1.0/sessions", {"file_name": name, "file_size": len(content), "content_type": kind}
        )
        url = str(session["upload_url"])
        part = max(1, int(session.get("max_part_size") or len(content) or 1))
        answer: Any = None
        for start in range(0, max(len(content), 1), part):
            response = self.client.request("POST", url, content=content[start : start + part], content_type=kind)
            answer = response.json() if response.content else {}
            if answer.get("next_url"):
                url = str(answer["next_url"])
        if not isinstance(answer, dict) or not answer.get("uuid"):
            raise AmoError(f"amoCRM's Drive did not confirm the upload of {name}")
        return str(answer["uuid"])

    def link(self, entity: str, remote_id: str, uuids: list[str]) -> None:
        self.client.request("PUT", f"{PATHS[entity]}/{int(remote_id)}/files", json=[{"file_uuid": u} for u in uuids])
