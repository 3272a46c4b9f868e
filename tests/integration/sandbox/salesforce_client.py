"""A Bearer session against the Salesforce emulator's /services/data/vVERSION, as a client
of the REST API: `api.get("/sobjects/...")`, `api.post(...)`, `api.records(soql)`."""
from __future__ import annotations

import requests

from sync_workers.sandbox import oauth


class Api:
    def __init__(self, sandbox, subject: str | None = None, scope: str | None = None,
                 version: str = "59.0") -> None:
        self.token = oauth.mint_grant(sandbox.state, "salesforce",
                                      subject or oauth.DEFAULT_SUBJECTS["salesforce"],
                                      scope=scope)
        self.base = f"{self.token['instance_url']}/services/data/v{version}"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.token['access_token']}"

    def query(self, soql: str) -> requests.Response:
        return self.http.get(f"{self.base}/query", params={"q": soql}, timeout=5)

    def records(self, soql: str) -> list[dict]:
        resp = self.query(soql)
        assert resp.status_code == 200, resp.text
        return resp.json()["records"]

    def __getattr__(self, method):
        return lambda path, **kw: self.http.request(method.upper(), self.base + path,
                                                    timeout=5, **kw)
