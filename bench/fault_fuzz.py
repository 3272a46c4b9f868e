"""Requests for the receiver fuzz (bench/faults.py fuzz): Google push notifications with
random and garbled headers, Salesforce Outbound Messages in UTF-8, ISO-8859-1 and UTF-16
(declarations and BOMs that match, and ones that don't), truncated or mangled XML,
entity bombs, wrong content types, huge and chunked bodies, bad paths and methods.

Each case is (kind, method, path, headers, body); `kind` names what it is, so the report
can say which valid messages were accepted. Seeded: a run can be replayed.
"""
from __future__ import annotations

import codecs
import random
import string
from dataclasses import dataclass
from typing import Iterator

ORG_HEADER = "04k000000000001AAA"
NAMES = ["Lovelace", "Müller", "Ægir Þórsson", "Åsa Öberg", "Garçon", "Niño", "Zoë",
         "O'Brien & Co", "Smith"]  # all in ISO-8859-1, so every encoding can carry them
GOOGLE_HEADERS = ["X-Goog-Channel-ID", "X-Goog-Channel-Token", "X-Goog-Resource-State",
                  "X-Goog-Message-Number", "X-Goog-Resource-ID", "X-Goog-Resource-URI",
                  "X-Goog-Channel-Expiration", "X-Request-ID", "Content-Type"]
CONTENT_TYPES = ["text/xml; charset=utf-8", "text/xml", "application/soap+xml",
                 "text/xml; charset=iso-8859-1", "text/xml; charset=utf-16",
                 "application/json", "text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=xyz", "multipart/form-data",
                 "application/octet-stream", "text/xml; charset=klingon", "", "*/*;;;"]


@dataclass(frozen=True)
class Target:
    """What the fuzz aims at: a live push channel and an Outbound Message endpoint."""
    channel_id: str
    channel_token: str
    resource_id: str
    endpoint_id: int
    endpoint_secret: str
    org_id: str
    max_body: int


@dataclass
class Case:
    kind: str
    method: str
    path: str
    headers: dict
    body: bytes | Iterator[bytes] | None

    def __post_init__(self) -> None:
        # On the wire a header is bytes: text beyond Latin-1 goes as its UTF-8 bytes.
        self.headers = {k: v.encode("utf-8") if isinstance(v, str) and not v.isascii()
                        else v for k, v in self.headers.items()}


ENCODINGS = {
    # name: (declared encoding, codec, BOM)
    "utf-8": ("UTF-8", "utf-8", b""),
    "utf-8-bom": ("UTF-8", "utf-8", codecs.BOM_UTF8),
    "iso-8859-1": ("ISO-8859-1", "latin-1", b""),
    "utf-16-le-bom": ("UTF-16", "utf-16-le", codecs.BOM_UTF16_LE),
    "utf-16-be-bom": ("UTF-16", "utf-16-be", codecs.BOM_UTF16_BE),
}


def outbound_message(org: str, notes: list[tuple[str, str, str]], encoding: str = "utf-8",
                     declared: str | None = None, sobject: str = "Contact") -> bytes:
    """An Outbound Message as Salesforce sends it, encoded as named (see ENCODINGS)."""
    name, codec, bom = ENCODINGS[encoding]
    body = "".join(
        f"<Notification><Id>{nid}</Id><sObject xsi:type=\"sf:{sobject}\">"
        f"<sf:Id>{record}</sf:Id><sf:LastName>{_xml(last)}</sf:LastName></sObject>"
        f"</Notification>" for nid, record, last in notes)
    text = (f'<?xml version="1.0" encoding="{declared or name}"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound" '
            'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"<OrganizationId>{org}</OrganizationId><ActionId>{ORG_HEADER}</ActionId>"
            '<SessionId xsi:nil="true"/><EnterpriseUrl>https://x/</EnterpriseUrl>'
            f"<PartnerUrl>https://x/</PartnerUrl>{body}</notifications></soapenv:Body>"
            "</soapenv:Envelope>")
    return bom + text.encode(codec)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")


class Fuzzer:
    def __init__(self, target: Target, seed: int = 0) -> None:
        self.t = target
        self.rng = random.Random(seed)
        self._n = 0

    def cases(self, count: int) -> Iterator[Case]:
        makers = [(self.google_valid, 6), (self.google_garbled, 30), (self.salesforce_valid, 12),
                  (self.salesforce_garbled, 29), (self.huge, 2), (self.bad_path, 12),
                  (self.oauth, 5), (self.probe, 4)]
        funcs, weights = zip(*makers)
        for _ in range(count):
            self._n += 1
            yield self.rng.choices(funcs, weights)[0]()

    # --- Google push ---------------------------------------------------------------------
    def _push_headers(self) -> dict:
        t = self.t
        return {"X-Goog-Channel-ID": t.channel_id, "X-Goog-Channel-Token": t.channel_token,
                "X-Goog-Resource-State": "exists",
                "X-Goog-Message-Number": str(10_000 + self._n),
                "X-Goog-Resource-ID": t.resource_id,
                "X-Goog-Resource-URI": "https://www.googleapis.com/calendar/v3/calendars/"
                                       "primary/events?alt=json"}

    def google_valid(self) -> Case:
        headers = self._push_headers()
        if self.rng.random() < 0.2:
            headers["X-Goog-Resource-State"] = "sync"
            headers["X-Goog-Message-Number"] = "1"
        return Case("google valid", "POST", "/webhooks/google/calendar", headers, b"")

    def google_garbled(self) -> Case:
        rng = self.rng
        headers = self._push_headers() if rng.random() < 0.7 else {}
        for name in rng.sample(GOOGLE_HEADERS, rng.randint(1, 4)):
            action = rng.random()
            if action < 0.25:
                headers.pop(name, None)
            else:
                headers[name] = self._garbage_header()
        method = rng.choice(["POST"] * 8 + ["GET", "PUT", "DELETE", "PATCH", "HEAD",
                                            "OPTIONS"])
        body = rng.choice([b"", b"", self._garbage_bytes(200), b"{}", b"\x00" * 50])
        return Case("google garbled", method, "/webhooks/google/calendar", headers, body)

    def _garbage_header(self) -> str | bytes:
        rng = self.rng
        choice = rng.random()
        if choice < 0.2:
            return ""
        if choice < 0.35:
            return "9" * rng.randint(1, 40)  # huge message numbers, ids of digits
        if choice < 0.5:
            return "".join(rng.choices(string.printable.strip(), k=rng.randint(1, 120)))
        if choice < 0.6:
            return "x" * rng.randint(65, 6000)  # past every length check
        if choice < 0.75:
            # Bytes outside ASCII, as a broken proxy sends them (HTTP allows obs-text).
            return bytes(rng.randint(0x80, 0xFF) for _ in range(rng.randint(1, 30)))
        if choice < 0.85:
            return rng.choice(["exists", "sync", "not_exists", "EXISTS", "-1", "1e9", "0x10",
                               "١٢٣", "²", "NaN", "5 6", "+3", "00000000000000000007"])
        return rng.choice(["\u00e9t\u00e9", "日本語", "\u202etoken", "a" * 64, "\x7f"])

    # --- Salesforce Outbound Messages -------------------------------------------------------
    def _good_path(self) -> str:
        return f"/webhooks/salesforce/{self.t.endpoint_id}/{self.t.endpoint_secret}"

    def _notes(self) -> list[tuple[str, str, str]]:
        rng = self.rng
        return [(f"04l{rng.randrange(10**12):012d}AAA", f"003{rng.randrange(10**12):012d}AAA",
                 rng.choice(NAMES)) for _ in range(rng.randint(1, 5))]

    def salesforce_valid(self) -> Case:
        encoding = self.rng.choice(list(ENCODINGS))
        body = outbound_message(self.t.org_id, self._notes(), encoding)
        ctype = "text/xml; charset=utf-8" if self.rng.random() < 0.7 else \
            self.rng.choice(CONTENT_TYPES)
        return Case(f"salesforce valid {encoding}", "POST", self._good_path(),
                    {"Content-Type": ctype, "SOAPAction": '""'}, body)

    def salesforce_garbled(self) -> Case:
        rng = self.rng
        t = self.t
        encoding = rng.choice(list(ENCODINGS))
        org = t.org_id if rng.random() < 0.7 else rng.choice(
            ["00D000000000000AAA", "", "x" * 300, t.org_id[:15], t.org_id.lower(), "<>"])
        body = outbound_message(org, self._notes(), encoding)
        mutation = rng.choice(["truncate", "truncate", "flip", "mismatch", "no-decl-utf16",
                               "bomb", "dtd", "deep", "wrong-root", "empty", "not-xml",
                               "nul", "wrong-org", "no-notifications", "huge-ids"])
        if mutation == "truncate":
            body = body[:rng.randint(0, len(body) - 1)]
        elif mutation == "flip":
            data = bytearray(body)
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            body = bytes(data)
        elif mutation == "mismatch":  # declared one encoding, written in another
            declared = rng.choice(["UTF-8", "ISO-8859-1", "UTF-16", "US-ASCII", "EBCDIC",
                                   "klingon", "windows-1252"])
            actual = rng.choice(["utf-8", "iso-8859-1", "utf-16-le-bom", "utf-16-be-bom"])
            body = outbound_message(org, self._notes(), actual, declared=declared)
            mutation = f"declared {declared}, written {actual}"
        elif mutation == "no-decl-utf16":
            body = body.decode(ENCODINGS[encoding][1], "ignore").encode("utf-16-le")
        elif mutation == "bomb":
            body = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                    b"<lolz>&lol3;</lolz>")
        elif mutation == "dtd":
            body = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM '
                    b'"file:///etc/passwd">]><x>&e;</x>')
        elif mutation == "deep":
            depth = rng.randint(1000, 50_000)
            body = b"<a>" * depth + b"</a>" * depth
        elif mutation == "wrong-root":
            body = b'<?xml version="1.0"?><notifications><OrganizationId>' + \
                t.org_id.encode() + b"</OrganizationId></notifications>"
        elif mutation == "empty":
            body = b""
        elif mutation == "not-xml":
            body = rng.choice([b'{"OrganizationId": "x"}', b"a=b&c=d", self._garbage_bytes(500)])
        elif mutation == "nul":
            body = body.replace(b">", b">\x00", 3)
        elif mutation == "wrong-org":
            body = outbound_message("00D" + "9" * 15, self._notes(), encoding)
        elif mutation == "no-notifications":
            body = outbound_message(org, [], encoding)
        elif mutation == "huge-ids":
            notes = [("9" * rng.randint(20, 5000), "A" * rng.randint(0, 5000), "x")]
            body = outbound_message(org, notes, encoding)
        path = self._good_path()
        if rng.random() < 0.15:
            path = rng.choice([f"/webhooks/salesforce/{t.endpoint_id}/guess",
                               f"/webhooks/salesforce/{t.endpoint_id + 1000}/"
                               f"{t.endpoint_secret}",
                               f"/webhooks/salesforce/{t.endpoint_id}/{t.endpoint_secret}x"])
        headers = {"Content-Type": rng.choice(CONTENT_TYPES)}
        if rng.random() < 0.2:
            headers["Content-Encoding"] = rng.choice(["gzip", "deflate", "br", "identity"])
        method = "POST" if rng.random() < 0.9 else rng.choice(["GET", "PUT", "DELETE"])
        return Case(f"salesforce {mutation}", method, path, headers, body)

    def huge(self) -> Case:
        """Bodies past SYNC_RECEIVER_MAX_BODY (413), with and without a Content-Length,
        and one just under it (a big, valid-looking message)."""
        rng = self.rng
        limit = self.t.max_body
        choice = rng.random()
        path = self._good_path() if rng.random() < 0.7 else "/webhooks/google/calendar"
        if choice < 0.4:
            return Case("huge body", "POST", path, {"Content-Type": "text/xml"},
                        b"<" * (limit + rng.randint(1, limit)))
        if choice < 0.7:
            size = limit + rng.randint(1, limit)

            def chunks(size=size) -> Iterator[bytes]:  # no Content-Length: chunked
                sent = 0
                while sent < size:
                    piece = b"A" * min(65536, size - sent)
                    sent += len(piece)
                    yield piece
            return Case("huge chunked body", "POST", path, {"Content-Type": "text/xml"},
                        chunks())
        notes = self._notes()
        filler = "Z" * (limit - 4096)
        body = outbound_message(self.t.org_id, notes, "utf-8").replace(
            b"<sf:LastName>", b"<sf:LastName>" + filler.encode(), 1)
        return Case("large valid body", "POST", self._good_path(),
                    {"Content-Type": "text/xml; charset=utf-8"}, body[:limit - 1])

    # --- elsewhere -------------------------------------------------------------------------
    def bad_path(self) -> Case:
        rng = self.rng
        t = self.t
        path = rng.choice([
            "/", "/webhooks", "/webhooks/", "/webhooks/google", "/webhooks/google/calendar/",
            "/webhooks/google/calendars", "/webhooks/google/CALENDAR",
            "/webhooks/salesforce", f"/webhooks/salesforce/{t.endpoint_id}",
            f"/webhooks/salesforce/{t.endpoint_id}/", "/webhooks/salesforce/abc/x",
            "/webhooks/salesforce/-1/x", "/webhooks/salesforce/0/x",
            f"/webhooks/salesforce/{'9' * rng.randint(10, 400)}/{t.endpoint_secret}",
            "/webhooks/salesforce/1e3/x", "/webhooks/salesforce/%31/x",
            f"/webhooks/salesforce/{t.endpoint_id}/{'s' * rng.randint(100, 7000)}",
            "/webhooks/salesforce/1/%00", "/webhooks/salesforce/1/%ff%fe",
            "/webhooks/%2e%2e/%2e%2e/etc/passwd", "/../../etc/passwd", "//webhooks//google",
            "/webhooks/hubspot/1/x", "/webhooks/microsoft/notify", "/metrics/../readyz",
            "/" + "a/" * rng.randint(1, 500), "/%" + "".join(rng.choices("0123456789abcdefg",
                                                                        k=2)),
            "/webhooks/google/calendar?" + "x=" * rng.randint(1, 2000),
            "/_sandbox/faults", "/oauth", "/oauth/", "/favicon.ico", "/robots.txt",
        ])
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
        return Case("bad path", method, path, {"Content-Type": rng.choice(CONTENT_TYPES)},
                    self._garbage_bytes(rng.randint(0, 300)))

    def oauth(self) -> Case:
        rng = self.rng
        provider = rng.choice(["google", "salesforce", "microsoft", "hubspot", "calendly",
                               "x" * 300, "%00", "g%C3%B6ogle"])
        garbage = "".join(rng.choices(string.ascii_letters + string.digits + "._-~%",
                                      k=rng.randint(0, 400)))
        path = rng.choice([f"/oauth/{provider}/start?link={garbage}",
                           f"/oauth/{provider}/start",
                           f"/oauth/{provider}/callback?code={garbage}&state={garbage[:40]}",
                           f"/oauth/{provider}/callback?error=access_denied&state={garbage}",
                           f"/oauth/{provider}/callback"])
        headers = {"Cookie": f"sync_connect={garbage}"} if rng.random() < 0.3 else {}
        return Case("oauth", rng.choice(["GET", "GET", "POST"]), path, headers, None)

    def probe(self) -> Case:
        return Case("probe", "GET", self.rng.choice(["/healthz", "/readyz", "/metrics"]), {},
                    None)

    def _garbage_bytes(self, size: int) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(size))
