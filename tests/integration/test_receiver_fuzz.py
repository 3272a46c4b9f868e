"""Random bodies and headers at every endpoint: only 2xx/4xx, never 5xx, nothing queued."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_workers.receiver import create_app
from sync_workers.store import endpoints
from tests.fixtures.receiver import serving
from tests.integration.test_receiver_intake import ORG, _account, outbound

pytestmark = pytest.mark.integration

header_names = st.sampled_from([
    "X-Goog-Channel-ID", "X-Goog-Channel-Token", "X-Goog-Resource-State",
    "X-Goog-Message-Number", "X-Goog-Resource-ID", "X-Request-ID", "Content-Type",
    "SOAPAction", "X-Goog-Channel-Expiration"])
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                        max_size=80).map(str.strip)  # HTTP trims surrounding spaces
bodies = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(str.encode),
    # Mutations of a valid message: right shape, wrong details.
    st.builds(lambda org, ids: outbound(org=org, notification_ids=ids),
              st.text(alphabet="0123456789ABCDEFabcdef", min_size=15, max_size=18),
              st.lists(st.text(alphabet="0123456789abc", min_size=1, max_size=20),
                       max_size=3)),
)


@pytest.fixture(scope="module")
def fuzz_target(database, tmp_path_factory):
    from sync_workers.config import get_settings
    from sync_workers.store.db import cursor
    from tests.fixtures.intake import QUEUE_DB, _intake_on

    with cursor() as cur:
        cur.execute("TRUNCATE accounts RESTART IDENTITY CASCADE")
    google = _account("google", "fuzz@example.com")
    endpoints.add_push_channel(google, "google", "fuzz-chan", "fuzz-token",
                               datetime.now(timezone.utc) + timedelta(days=1))
    sf = endpoints.add_webhook_endpoint(_account("salesforce", ORG), "salesforce", "fuzz-secret",
                                        ORG)
    probe = _intake_on(get_settings().redis_url.rsplit("/", 1)[0] + f"/{QUEUE_DB}")
    probe.redis.flushdb()
    with serving(create_app(intake=probe.intake)) as url:
        yield url, sf, probe
    probe.redis.flushdb()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.sampled_from(["google", "salesforce-good-secret", "salesforce-bad-secret",
                             "salesforce-no-id"]),
       method=st.sampled_from(["POST", "POST", "GET", "PUT"]),
       headers=st.dictionaries(header_names, header_values, max_size=6),
       body=bodies)
def test_fuzzed_requests_never_get_5xx_or_reach_a_worker(fuzz_target, path, method, headers,
                                                           body):
    url, sf, probe = fuzz_target
    target = {"google": "/webhooks/google/calendar",
              "salesforce-good-secret": f"/webhooks/salesforce/{sf}/fuzz-secret",
              "salesforce-bad-secret": f"/webhooks/salesforce/{sf}/guess",
              "salesforce-no-id": "/webhooks/salesforce/abc/fuzz-secret"}[path]
    resp = requests.request(method, url + target, headers=headers, data=body, timeout=10)
    assert 200 <= resp.status_code < 500, resp.text
    # A random request never carries the channel token and a valid org-matching message.
    assert probe.redis.llen("events") == 0
