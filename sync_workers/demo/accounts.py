"""The demo's accounts: connected through the receiver like a person would, paired, and
with a Salesforce Outbound Message endpoint.

Each run uses sandbox users of its own (the sandbox forgets everything when it stops), so
a run never picks up the accounts, links or cursors of an earlier one; the earlier demo
accounts are disabled first, so the poller leaves them alone. Nothing is deleted.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..auth.links import sign_link, start_url
from ..config import get_settings
from ..engine import pairing
from ..sandbox.connect import connect_without_browser
from ..store import accounts as repo
from ..store import endpoints
from .sandbox_client import SandboxClient

DEMO_OWNER = "sync-workers demo"
OUTBOUND_SOBJECTS = ("Event", "Contact")


@dataclass(frozen=True)
class DemoAccounts:
    calendar_user: str
    calendar_account: int
    crm_account: int

    @property
    def ids(self) -> tuple[int, int]:
        return self.calendar_account, self.crm_account


def sandbox_users(run_id: str) -> tuple[str, str]:
    """(Google user, Salesforce user id) for this run. A Salesforce user id is 15 or 18
    characters starting with 005."""
    return f"rep.{run_id}@example.com", "005" + secrets.token_hex(6).upper()


def retire_earlier_demo_accounts() -> int:
    """Disable the active accounts earlier demo runs left behind (their sandbox is gone)."""
    retired = 0
    for account in repo.list_all(status="active"):
        if account.owner != DEMO_OWNER:
            continue
        for channel in endpoints.active_channels(account.id):
            endpoints.mark_channel_stopped(channel.channel_id)
        repo.set_status(account.id, "disabled", "replaced by a later demo run")
        retired += 1
    return retired


def connect(provider: str, sandbox_user: str, receiver_url: str) -> dict:
    """`sync-workers accounts connect-sandbox`: the OAuth connect flow through the running
    receiver, the sandbox approving as `sandbox_user`. Returns the callback's answer."""
    link = sign_link(provider, DEMO_OWNER, get_settings().secret_keys[0], ttl=300)
    return connect_without_browser(start_url(receiver_url, provider, link), sandbox_user)


def has_push_channel(account_id: int) -> bool:
    """The worker opened the calendar's push channel (task sync.open_push_channel)."""
    return bool(endpoints.active_channels(account_id))


def pair(sandbox: SandboxClient, calendar_account: int, crm_account: int,
         rep_email: str) -> str:
    """The rep is a user of the org (added in the sandbox's Setup); `sync-workers pair`
    finds them by the calendar owner's e-mail. Returns the rep's Salesforce User id."""
    sandbox.add_salesforce_user(rep_email, "Demo", "Rep")
    return pairing.pair(calendar_account, crm_account).crm_user.id


def register_outbound_messages(sandbox: SandboxClient, crm_account: int,
                               receiver_url: str) -> int:
    """`sync-workers webhooks salesforce-endpoint`, then the Outbound Messages in the
    sandbox's Setup pointing at it. Returns the endpoint id (the URL holds a secret)."""
    org_id = sandbox.org_id()
    secret = endpoints.new_secret()
    endpoint_id = endpoints.add_webhook_endpoint(crm_account, "salesforce", secret, org_id)
    url = f"{receiver_url}/webhooks/salesforce/{endpoint_id}/{secret}"
    for sobject in OUTBOUND_SOBJECTS:
        sandbox.add_outbound_message(sobject, url)
    return endpoint_id
