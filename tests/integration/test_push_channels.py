"""Push channels: opened when a Google account connects, replaced (new first, then the old
stopped) before expiry, stopped on disconnect."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sync_workers.auth.links import sign_link, start_url
from sync_workers.engine.channels import renew_expiring
from sync_workers.engine.disconnect import disconnect
from sync_workers.receiver import create_app
from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox.connect import connect_without_browser
from sync_workers.store import accounts, endpoints
from tests.fixtures.accounts import connected_account, sandbox_settings
from tests.fixtures.receiver import serving
from tests.fixtures.workers import wait_for

pytestmark = pytest.mark.integration
REP = "channels@example.com"


def sandbox_channels(sandbox) -> dict[str, dict]:
    return {c["id"]: c for c in gcal.channels(sandbox.state, REP)}


def connect_through_the_receiver(sandbox) -> int:
    """The connect flow a person runs (signed link, authorize, callback)."""
    app = create_app()
    with serving(app) as url:
        settings = sandbox_settings(sandbox, public_url=url)
        app.config["SYNC_SETTINGS"] = settings
        link = sign_link("google", "owner@example.com", settings.secret_keys[0])
        return connect_without_browser(start_url(url, "google", link), REP)["account_id"]


def test_channel_lifecycle(sandbox, db, redis_db, session_worker):
    account = connect_through_the_receiver(sandbox)
    (first,) = wait_for(lambda: endpoints.active_channels(account), what="a channel on connect")
    live = sandbox_channels(sandbox)[first.channel_id]
    assert live["live"] and live["address"].endswith("/webhooks/google/calendar")
    assert first.expires_at > datetime.now(timezone.utc) + timedelta(days=6)

    assert renew_expiring(now=datetime.now(timezone.utc) + timedelta(days=6, hours=12)) == 1
    (second,) = endpoints.active_channels(account)
    assert second.channel_id != first.channel_id
    channels = sandbox_channels(sandbox)
    assert channels[first.channel_id]["stopped"]
    assert channels[second.channel_id]["live"]
    assert renew_expiring() == 0  # nothing else is due

    disconnect(account)
    assert endpoints.active_channels(account) == []
    assert sandbox_channels(sandbox)[second.channel_id]["stopped"]


def test_a_parked_accounts_channel_does_not_stop_another_accounts_renewal(sandbox, db,
                                                                          redis_db):
    healthy = connected_account(sandbox, "google", "healthy@example.com")
    parked = connected_account(sandbox, "google", "parked@example.com")
    due = datetime.now(timezone.utc) + timedelta(hours=2)
    # The parked account's channel comes first: it used to abort the renewal of the rest.
    endpoints.add_push_channel(parked, "google", "chan-parked", "token-parked", due, "res-p")
    endpoints.add_push_channel(healthy, "google", "chan-healthy", "token-healthy",
                               due + timedelta(minutes=1), "res-h")
    accounts.mark_reauth_required(parked, "invalid_grant: revoked by the user")

    assert renew_expiring() == 1
    (renewed,) = endpoints.active_channels(healthy)
    assert renewed.channel_id != "chan-healthy"
    assert endpoints.active_channels(parked) == []  # stopped and marked, not renewed
    assert endpoints.get_push_channel("chan-parked").status == "stopped"
