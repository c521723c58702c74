"""The fake's file storage: amoCRM's Drive API and the files linked to records.

Follows the published shapes (amocrm-api-php ``EntitiesServices/Files.php``,
``EntityFiles.php``, ``Models/Files/FileModel.php``):

* ``GET /api/v4/account?with=drive_url`` names the Drive's address (a host of
  its own in amoCRM, e.g. ``https://drive-b.amocrm.ru``; here the fake itself);
* ``POST {drive}/v1.0/sessions`` ``{file_name, file_size, content_type}`` ->
  ``{session_id, upload_url, max_part_size}``; each part is POSTed as raw
  bytes to ``upload_url``; an unfinished upload answers ``{next_url}``, the
  last part the file (``{id, uuid, version_uuid, name, size, metadata,
  _links.download.href, ...}``);
* ``GET {drive}/v1.0/files/{uuid}`` -> that file; the download link gives the bytes;
* ``GET /api/v4/{entity}/{id}/files`` -> ``_embedded.files[{file_uuid}]``;
  ``PUT`` the same path with ``[{file_uuid}]`` links files, ``DELETE`` unlinks.

Linking stamps the record's ``updated_at`` and logs no event (unverified
against amoCRM; the adapter does not rely on it beyond the periodic full pull).
"""

from __future__ import annotations

import mimetypes
import uuid
from typing import TYPE_CHECKING, Any

from .problems import JSON, ApiError

if TYPE_CHECKING:
    from .server import Request, Response
    from .state import AmoState

MAX_PART = 64 * 1024


class FakeDrive:
    """Files (by uuid), upload sessions and record <-> file links, under ``state.lock``."""

    def __init__(self, state: AmoState, base_url: str) -> None:
        self.state = state
        self.base_url = base_url
        self.files: dict[str, JSON] = {}
        self.content: dict[str, bytes] = {}
        self.links: dict[tuple[str, int], list[str]] = {}
        self.sessions: dict[str, JSON] = {}

    # ------------------------------------------------------------ test hooks

    def add_file(self, name: str, content: bytes, *, mime: str | None = None) -> str:
        """A file in the Drive (as the web UI uploads it); returns its uuid."""
        with self.state.lock:
            return self._store(name, content, mime or mimetypes.guess_type(name)[0] or "application/octet-stream")

    def attach(self, etype: str, entity_id: int, file_uuid: str) -> None:
        """Link a Drive file to a record (as the web UI does)."""
        with self.state.lock:
            self._link(etype, entity_id, file_uuid)

    def files_of(self, etype: str, entity_id: int) -> list[JSON]:
        """The files linked to a record: ``{uuid, name, size, content}``."""
        with self.state.lock:
            return [
                {**self.files[u], "content": self.content[u]} for u in self.links.get((etype, entity_id), []) if u in self.files
            ]

    # --------------------------------------------------------------- internals

    def _store(self, name: str, content: bytes, mime: str) -> str:
        file_uuid = str(uuid.uuid4())
        now = self.state.clock.now()
        extension = name.rsplit(".", 1)[1] if "." in name else ""
        self.files[file_uuid] = {
            "id": self.state.new_id(),
            "uuid": file_uuid,
            "version_uuid": str(uuid.uuid4()),
            "name": name,
            "sanitized_name": name,
            "size": len(content),
            "type": "file",
            "is_trashed": False,
            "source_id": None,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
            "created_by": {"id": self.state.admin_user_id, "type": "user"},
            "updated_by": {"id": self.state.admin_user_id, "type": "user"},
            "deleted_by": None,
            "metadata": {"extension": extension, "mime_type": mime},
        }
        self.content[file_uuid] = content
        return file_uuid

    def _render(self, file: JSON) -> JSON:
        href = f"{self.base_url}/download/{file['uuid']}"
        return {**file, "_links": {"download": {"href": href}, "download_version": {"href": f"{href}?version"}}}

    def _link(self, etype: str, entity_id: int, file_uuid: str) -> None:
        if self.state.get_entity(etype, entity_id) is None:
            raise ApiError(404, f"No {etype} {entity_id}")
        if file_uuid not in self.files:
            raise ApiError(400, f"No file {file_uuid} in the Drive")
        linked = self.links.setdefault((etype, entity_id), [])
        if file_uuid not in linked:
            linked.append(file_uuid)
            self.state.entities[etype][entity_id]["updated_at"] = self.state.clock.now()

    # ------------------------------------------------------------------ routes

    def routes(self, entity: str) -> list[tuple[str, str, Any]]:
        return [
            ("GET", rf"/api/v4/{entity}/(\d+)/files", self.r_entity_files),
            ("PUT", rf"/api/v4/{entity}/(\d+)/files", self.r_link_files),
            ("DELETE", rf"/api/v4/{entity}/(\d+)/files", self.r_unlink_files),
            ("POST", r"/v1\.0/sessions", self.r_session),
            ("POST", r"/upload/([0-9a-f-]+)", self.r_upload_part),
            ("GET", r"/v1\.0/files/([0-9a-f-]+)", self.r_file),
            ("GET", r"/download/([0-9a-f-]+)", self.r_download),
        ]

    def _links_response(self, etype: str, entity_id: int, uuids: list[str]) -> Response:
        from .server import hal

        items = [{"file_uuid": u, "id": self.files[u]["id"]} for u in uuids if u in self.files]
        href = f"{self.base_url}/api/v4/{etype}/{entity_id}/files"
        return hal({"_embedded": {"files": items}, "_links": {"self": {"href": href}}})

    def _uuids(self, body: Any) -> list[str]:
        if not isinstance(body, list) or not all(isinstance(i, dict) and isinstance(i.get("file_uuid"), str) for i in body):
            raise ApiError(400, "Expected an array of {file_uuid}")
        return [i["file_uuid"] for i in body]

    def r_entity_files(self, req: Request, etype: str, entity_id: str) -> Response:
        if self.state.get_entity(etype, int(entity_id)) is None:
            raise ApiError(404, f"No {etype} {entity_id}")
        return self._links_response(etype, int(entity_id), self.links.get((etype, int(entity_id)), []))

    def r_link_files(self, req: Request, etype: str, entity_id: str) -> Response:
        uuids = self._uuids(req.body)
        for file_uuid in uuids:
            self._link(etype, int(entity_id), file_uuid)
        return self._links_response(etype, int(entity_id), uuids)

    def r_unlink_files(self, req: Request, etype: str, entity_id: str) -> Response:
        from .server import Response

        linked = self.links.get((etype, int(entity_id)), [])
        for file_uuid in self._uuids(req.body):
            if file_uuid in linked:
                linked.remove(file_uuid)
        return Response(204)

    def r_session(self, req: Request) -> Response:
        from .server import Response, _json_bytes

        body = req.body if isinstance(req.body, dict) else {}
        if not isinstance(body.get("file_name"), str) or not isinstance(body.get("file_size"), int):
            raise ApiError(400, "file_name and file_size are required")
        session_id = str(uuid.uuid4())
        self.sessions[session_id] = {
            "name": body["file_name"],
            "size": body["file_size"],
            "mime": body.get("content_type") or "application/octet-stream",
            "data": b"",
        }
        answer = {"session_id": session_id, "upload_url": f"{self.base_url}/upload/{session_id}", "max_part_size": MAX_PART}
        return Response(200, _json_bytes(answer), "application/json")

    def r_upload_part(self, req: Request, session_id: str) -> Response:
        from .server import Response, _json_bytes

        session = self.sessions.get(session_id)
        if session is None:
            raise ApiError(404, "No such upload session")
        if len(req.raw) > MAX_PART:
            raise ApiError(400, "The part is larger than max_part_size")
        session["data"] += req.raw
        if len(session["data"]) < session["size"]:
            answer: JSON = {"next_url": f"{self.base_url}/upload/{session_id}"}
        else:
            del self.sessions[session_id]
            answer = self._render(self.files[self._store(session["name"], session["data"], session["mime"])])
        return Response(200, _json_bytes(answer), "application/json")

    def r_file(self, req: Request, file_uuid: str) -> Response:
        from .server import Response, _json_bytes

        file = self.files.get(file_uuid)
        if file is None:
            raise ApiError(404, f"No file {file_uuid}")
        return Response(200, _json_bytes(self._render(file)), "application/json")

    def r_download(self, req: Request, file_uuid: str) -> Response:
        from .server import Response

        if file_uuid not in self.content:
            raise ApiError(404, f"No file {file_uuid}")
        return Response(200, self.content[file_uuid], self.files[file_uuid]["metadata"]["mime_type"])
