"""Hub errors: one line for the user, exit code 9 like every sync failure."""

from __future__ import annotations

from tui_crm.domain.errors import CrmError


class HubError(CrmError):
    """The hub is unreachable, refused the login, or is not initialised."""


def explain(exc: BaseException, where: str) -> HubError:
    """A psycopg error as one line naming what is wrong and what to do."""
    text = " ".join(str(exc).split())
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return HubError(
            f"The hub at {where} refused the login ({text}); run `crm hub connect URL` again with the right password."
        )
    if "not permitted to log in" in low:
        return HubError(f"The hub at {where} no longer lets this member log in (deactivated); ask a hub admin.")
    if "does not exist" in low and "database" in low:
        return HubError(f"The hub database at {where} does not exist ({text}); create it, then run `crm hub init URL`.")
    if "relation" in low and "does not exist" in low:
        return HubError(f"The database at {where} is not a tui-crm hub yet; run `crm hub init URL` as its owner.")
    if "connection" in low or "could not" in low or "timeout" in low or "refused" in low:
        return HubError(f"Cannot reach the hub at {where}: {text}. Check the address and that the server runs; sync again later.")
    return HubError(f"The hub at {where} refused the request: {text}")
