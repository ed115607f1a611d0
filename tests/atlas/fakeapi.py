"""A fake RIPE Atlas REST API on loopback, over HTTPS, for the tests (and the offline end-to-end).

It answers the endpoints rttgeo uses with the real API's shapes: paginated probe and anchor lists
(``count``, ``next``, ``previous``, ``results``), the anchor-measurements list
(``/api/v2/anchor-measurements/``: ``id``, ``is_mesh``, ``type``, and ``measurement`` / ``target``
as URLs, or as nested objects with ``include=target,measurement``, the shape of the API's own
browsable page and of public clients that read it), a measurement's ``latest`` results (one per
probe) and its results between ``start`` and ``stop``, measurement creation (``{"measurements": [id]}``,
HTTP 201), measurement status (``status: {id, name}``, Specified -> Ongoing -> Stopped after a
scripted number of polls, so no outcome depends on time), results as firmware-5080 ping results
(the layout of ``fixtures/results_fw5080.jsonl``), the credit balance, and the API's error bodies
(``{"error": {"status", "code", "title", "detail", "errors": [...]}}``) for 400, 403 and 429.

The world: every probe has a true position; targets are addresses with true positions. An RTT is
the great-circle distance at 2/3 c, times a path inflation of 1.3, plus 1 ms, plus a deterministic
jitter in [0, 2) ms per (measurement, probe, packet). A probe may *declare* a position different
from its true one (``liars``), as some real probes do. The client under test only gets
``server="127.0.0.1:PORT"`` and a CA bundle, as it would get ``atlas.ripe.net`` and the system CAs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import math
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

FIXTURES = Path(__file__).parent / "fixtures"
EARTH_RADIUS_KM = 6371.0088
FIBRE_KM_PER_MS = 299_792.458 * 2 / 3 / 1000.0


def make_tls_files(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost and its key; returns (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake atlas")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "fake-atlas.pem", folder / "fake-atlas.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def distance_km(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _jitter_ms(*key: object) -> float:
    h = hashlib.sha256(repr(key).encode()).digest()
    return int.from_bytes(h[:4], "big") / 2**32 * 2.0


@dataclass
class FakeProbe:
    id: int
    lat_deg: float  # true position
    lon_deg: float
    is_anchor: bool = True
    address_v4: str | None = None
    address_v6: str | None = None
    country: str = "XX"
    status_id: int = 1
    declared: tuple[float, float] | None = None  # (lat, lon) it claims, when it lies
    ipv6_works: bool = True

    def record(self) -> dict[str, Any]:
        lat, lon = self.declared or (self.lat_deg, self.lon_deg)
        status_name = {1: "Connected", 2: "Disconnected", 3: "Abandoned", 0: "Never Connected"}
        tags = [{"name": "IPv4 Works", "slug": "system-ipv4-works"}]
        if self.ipv6_works:
            tags.append({"name": "IPv6 Works", "slug": "system-ipv6-works"})
        return {
            "address_v4": self.address_v4, "address_v6": self.address_v6,
            "asn_v4": 3333, "asn_v6": 3333 if self.address_v6 else None,
            "country_code": self.country, "description": f"probe {self.id}",
            "first_connected": 1400000000, "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "id": self.id, "is_anchor": self.is_anchor, "is_public": True,
            "last_connected": 1700000000,
            "prefix_v4": None, "prefix_v6": None,
            "status": {"id": self.status_id, "name": status_name.get(self.status_id, "?"),
                       "since": "2023-01-01T00:00:00Z"},
            "status_since": 1672531200, "tags": tags, "total_uptime": 1000000, "type": "Probe",
        }


@dataclass
class FakeMeasurement:
    id: int
    target: str
    af: int
    probe_ids: list[int]
    packets: int
    description: str
    polls: int = 0
    public_results: list[dict[str, Any]] | None = None
    type: str = "ping"
    oneoff: bool = True
    tags: list[str] = field(default_factory=list)


@dataclass
class FakeAnchorMeasurement:
    """One record of ``/api/v2/anchor-measurements/``: a measurement towards an anchor."""

    id: int
    msm_id: int
    anchor_probe: int
    type: str
    is_mesh: bool


@dataclass
class FakeAtlas:
    """State of the fake service; ``polls_to_stop``: status reads before a measurement stops."""

    probes: list[FakeProbe]
    targets: dict[str, tuple[float, float]]
    keys: set[str] = field(default_factory=set)
    credits: int = 1_000_000
    past_day_results: int = 0  # what the credits endpoint reports as produced in the past day
    past_day_credits: int = 0
    max_concurrent: int = 100
    polls_to_stop: int = 2
    page_size: int = 100
    page_limit: int = 500
    next_msm_id: int = 100_000_001
    measurements: dict[int, FakeMeasurement] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)
    fail_next: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path prefix, status)
    anchor_msms: list[FakeAnchorMeasurement] = field(default_factory=list)
    ignore_include: bool = False  # answer anchor-measurements with URLs whatever include= says
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: Any = None

    # -- world -------------------------------------------------------------------------------
    def probe(self, pid: int) -> FakeProbe | None:
        return next((p for p in self.probes if p.id == pid), None)

    def rtt_ms(self, probe: FakeProbe, target: str, msm_id: int, k: int) -> float | None:
        where = self.targets.get(target)
        if where is None:
            anchor = next((p for p in self.probes if target in (p.address_v4, p.address_v6)), None)
            if anchor is None:
                return None
            where = (anchor.lat_deg, anchor.lon_deg)
        d = distance_km(probe.lat_deg, probe.lon_deg, *where)
        return round(2 * d / FIBRE_KM_PER_MS * 1.3 + 1.0 + _jitter_ms(msm_id, probe.id, k), 3)

    def result(self, msm: FakeMeasurement, probe: FakeProbe, timestamp: int,
               round_: int = 0) -> dict[str, Any]:
        """One firmware-5080 ping result (the shape of fixtures/results_fw5080.jsonl); ``round_``
        changes the jitter of a periodic measurement's later results."""
        packets = []
        for k in range(msm.packets):
            r = self.rtt_ms(probe, msm.target, msm.id, k + round_ * msm.packets)
            packets.append({"x": "*"} if r is None else {"rtt": r})
        rtts = [p["rtt"] for p in packets if "rtt" in p]
        src = probe.address_v6 if msm.af == 6 else probe.address_v4
        return {
            "fw": 5080, "mver": "2.6.2", "lts": 17, "dst_name": msm.target, "af": msm.af,
            "dst_addr": msm.target, "src_addr": src, "proto": "ICMP", "ttl": 54, "size": 48,
            "result": packets, "dup": 0, "rcvd": len(rtts), "sent": msm.packets,
            "min": min(rtts) if rtts else -1, "max": max(rtts) if rtts else -1,
            "avg": round(sum(rtts) / len(rtts), 3) if rtts else -1,
            "msm_id": msm.id, "prb_id": probe.id, "timestamp": timestamp, "msm_name": "Ping",
            "from": src, "type": "ping", "group_id": msm.id, "step": None,
            "stored_timestamp": timestamp + 2,
        }

    def add_public(self, msm_id: int, target: str, af: int, probe_ids: Sequence[int],
                   description: str, packets: int = 3, rounds: int = 1,
                   oneoff: bool = True, type_: str = "ping") -> FakeMeasurement:
        """A public measurement that already ran (e.g. an anchoring-mesh one): ``rounds``
        results per probe, :attr:`ROUND_S` apart from ``1700000000`` (round r of probe i at
        ``1700000000 + r * ROUND_S + i``); a traceroute one has no results here."""
        m = FakeMeasurement(msm_id, target, af, list(probe_ids), packets, description,
                            polls=self.polls_to_stop, oneoff=oneoff, type=type_)
        m.public_results = [] if type_ != "ping" else [
            self.result(m, self.probe(p), 1700000000 + r * self.ROUND_S + i,  # type: ignore[arg-type]
                        round_=r)
            for r in range(rounds) for i, p in enumerate(probe_ids)]
        self.measurements[msm_id] = m
        return m

    ROUND_S = 240  # the anchoring mesh's interval

    @staticmethod
    def fqdn(probe: FakeProbe) -> str:
        return f"xx-{probe.id}.anchors.atlas.ripe.net"

    def anchor_record(self, p: FakeProbe) -> dict[str, Any]:
        """The record of ``/api/v2/anchors/`` for anchor probe ``p`` (anchor id = 1000 + probe)."""
        return {"id": 1000 + p.id, "type": "Anchor", "fqdn": self.fqdn(p), "probe": p.id,
                "is_ipv4_only": p.address_v6 is None, "ip_v4": p.address_v4,
                "ip_v6": p.address_v6, "as_v4": 3333, "as_v6": 3333 if p.address_v6 else None,
                "country": p.country, "city": "", "company": "",
                "geometry": p.record()["geometry"], "is_disabled": False}

    def add_anchoring_mesh(self, anchor_ids: Sequence[int] | None = None, *, rounds: int = 2,
                           first_msm_id: int = 7_000_000) -> dict[int, int]:
        """RIPE Atlas's built-in measurements towards each anchor of ``anchor_ids`` (default:
        every connected anchor): an IPv4 mesh ping from every other anchor of the list (the ones
        rttgeo wants), and, as the real list has them too, an IPv6 mesh ping, a mesh traceroute
        and an "Anchoring Probes" ping (``is_mesh`` false, from ordinary probes). Returns
        ``{anchor probe id: IPv4 mesh ping msm id}``."""
        anchors = ([self.probe(a) for a in anchor_ids] if anchor_ids is not None else
                   [p for p in self.probes if p.is_anchor and p.status_id == 1])
        probes = [p.id for p in self.probes if not p.is_anchor][:5]
        out: dict[int, int] = {}
        msm_id = first_msm_id
        rec_id = 281 + len(self.anchor_msms)
        for a in anchors:
            assert a is not None and a.is_anchor
            others = [b.id for b in anchors if b is not a]
            name = self.fqdn(a)
            kinds = [("ping", 4, True, f"Anchoring Mesh Measurement: Ping IPv4 for anchor {name}",
                      others),
                     ("traceroute", 4, True,
                      f"Anchoring Mesh Measurement: Traceroute IPv4 for anchor {name}", others),
                     ("ping", 4, False, f"Anchoring Probes Measurement: Ping IPv4 for anchor "
                      f"{name}", probes)]
            if a.address_v6:
                kinds.insert(1, ("ping", 6, True, "Anchoring Mesh Measurement: Ping IPv6 for "
                                 f"anchor {name}", others))
            for type_, af, mesh, desc, sources in kinds:
                target = a.address_v6 if af == 6 else a.address_v4
                m = self.add_public(msm_id, str(target), af, sources, desc, rounds=rounds,
                                    oneoff=False, type_=type_)
                m.tags = ["anchoring", "mesh" if mesh else "probes", name]
                self.anchor_msms.append(FakeAnchorMeasurement(rec_id, msm_id, a.id, type_, mesh))
                if type_ == "ping" and af == 4 and mesh:
                    out[a.id] = msm_id
                msm_id += 1
                rec_id += 1
        return out

    # -- HTTP --------------------------------------------------------------------------------
    def start(self, tls_dir: Path) -> str:
        cert, key = make_tls_files(tls_dir)
        self.ca_file = str(cert)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        state = self

        class Handler(_Handler):
            fake = state

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        srv.daemon_threads = True
        self.server = srv
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.host = f"127.0.0.1:{srv.server_address[1]}"
        return self.host

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def created(self) -> list[FakeMeasurement]:
        return [m for m in self.measurements.values() if m.public_results is None]


def _error(status: int, title: str, detail: str, code: int, errors: list[dict[str, Any]] | None = None
           ) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"status": status, "code": code, "title": title, "detail": detail}
    if errors:
        body["errors"] = errors
    return status, {"error": body}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAtlas
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _key(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[4:].strip() if auth.startswith("Key ") else None

    def _dispatch(self, method: str) -> None:
        f = self.fake
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = None
        if method == "POST":
            n = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(n)
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                self._send(*_error(400, "Bad Request", "JSON parse error", 102))
                return
        with f.lock:
            f.requests.append((method, self.path, dict(self.headers.items())))
            f.bodies.append(body)
            for k, (m, prefix, status) in enumerate(f.fail_next):
                if m == method and url.path.startswith(prefix):
                    del f.fail_next[k]
                    titles = {400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests",
                              500: "Internal Server Error"}
                    self._send(*_error(status, titles.get(status, "Error"),
                                       "Request was throttled." if status == 429 else "injected",
                                       {400: 102, 403: 104, 429: 105}.get(status, 100)))
                    return
            status, out = self._route(method, url.path, q, body)
        self._send(status, out)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # -- routes ------------------------------------------------------------------------------
    def _page(self, path: str, q: Mapping[str, str], items: list[dict[str, Any]]
              ) -> tuple[int, dict[str, Any]]:
        f = self.fake
        size = min(int(q.get("page_size", f.page_size)), f.page_limit)
        page = int(q.get("page", 1))
        chunk = items[(page - 1) * size: page * size]

        def link(p: int) -> str:
            return f"https://{f.host}{path}?{urlencode({**q, 'page': p})}"

        return 200, {
            "count": len(items),
            "next": link(page + 1) if page * size < len(items) else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": chunk,
        }

    def _route(self, method: str, path: str, q: Mapping[str, str], body: Any
               ) -> tuple[int, Any]:
        f = self.fake
        if method == "GET" and path == "/api/v2/probes/":
            recs = [p.record() for p in f.probes]
            if "is_anchor" in q:
                want = q["is_anchor"].lower() in ("true", "1")
                recs = [r for r in recs if r["is_anchor"] == want]
            if "status" in q:
                recs = [r for r in recs if str(r["status"]["id"]) == q["status"]]
            if "id__in" in q:
                ids = {int(x) for x in q["id__in"].split(",") if x}
                recs = [r for r in recs if r["id"] in ids]
            return self._page(path, q, recs)
        if method == "GET" and path == "/api/v2/anchors/":
            recs = [f.anchor_record(p) for p in f.probes if p.is_anchor]
            return self._page(path, q, recs)
        if method == "GET" and path == "/api/v2/anchor-measurements/":
            include = set() if f.ignore_include else set(q.get("include", "").split(","))
            base = f"https://{f.host}/api/v2"
            recs = []
            for am in f.anchor_msms:
                anchor = f.probe(am.anchor_probe)
                assert anchor is not None
                recs.append({
                    "id": am.id, "is_mesh": am.is_mesh, "type": am.type,
                    "measurement": (self._meta(f.measurements[am.msm_id]) if "measurement"
                                    in include else f"{base}/measurements/{am.msm_id}/"),
                    "target": (f.anchor_record(anchor) if "target" in include
                               else f"{base}/anchors/{1000 + anchor.id}/"),
                })
            return self._page(path, q, recs)
        if path == "/api/v2/credits/":
            if self._key() not in f.keys:
                return _error(403, "Forbidden", "The provided API key does not exist or is not "
                              "allowed to read credits.", 104)
            return 200, {"current_balance": f.credits, "estimated_daily_income": 21600,
                         "estimated_daily_expenditure": 0, "estimated_runout_seconds": None,
                         "past_day_measurement_results": f.past_day_results,
                         "past_day_credits_spent": f.past_day_credits}
        if method == "POST" and path == "/api/v2/measurements/":
            return self._create(body)
        if method == "GET" and path == "/api/v2/measurements/":
            want = {int(x) for x in q.get("id__in", "").split(",") if x}
            return self._page(path, q, [self._meta(m) for i, m in sorted(f.measurements.items())
                                        if not want or i in want])
        parts = [x for x in path.split("/") if x]
        if method == "GET" and len(parts) >= 4 and parts[:3] == ["api", "v2", "measurements"]:
            try:
                msm = f.measurements[int(parts[3])]
            except (ValueError, KeyError):
                return _error(404, "Not Found", "No Measurement matches the given query.", 100)
            if len(parts) == 4:
                return 200, self._meta(msm)
            if parts[4] == "results":
                return 200, self._results(msm, q)
            if parts[4] == "latest" and msm.public_results is not None:
                last: dict[int, dict[str, Any]] = {}
                for r in msm.public_results:  # the latest result of every probe
                    if r["prb_id"] not in last or r["timestamp"] > last[r["prb_id"]]["timestamp"]:
                        last[r["prb_id"]] = r
                return 200, list(last.values())
        return _error(404, "Not Found", f"no route {method} {path}", 100)

    def _meta(self, msm: FakeMeasurement) -> dict[str, Any]:
        if msm.public_results is None:
            msm.polls += 1
        stopped = msm.polls > self.fake.polls_to_stop
        st = (4, "Stopped") if stopped else ((1, "Specified") if msm.polls <= 1 else (2, "Ongoing"))
        if not msm.oneoff:
            st = (2, "Ongoing")  # the anchoring mesh runs for years
        return {
            "id": msm.id, "af": msm.af, "type": msm.type, "target": msm.target,
            "target_ip": msm.target, "description": msm.description, "is_oneoff": msm.oneoff,
            "is_public": True, "interval": None if msm.oneoff else self.fake.ROUND_S,
            "packets": msm.packets, "size": 48, "tags": list(msm.tags),
            "start_time": 1700000000,
            "participant_count": len(msm.probe_ids) if stopped else None,
            "probes_requested": len(msm.probe_ids), "probes_scheduled": len(msm.probe_ids),
            "status": {"id": st[0], "name": st[1], "when": 1700000000},
            "result": f"https://{self.fake.host}/api/v2/measurements/{msm.id}/results/",
        }

    def _results(self, msm: FakeMeasurement, q: Mapping[str, str]) -> list[dict[str, Any]]:
        if msm.public_results is not None:  # between start and stop (UNIX seconds), inclusive
            lo, hi = int(q.get("start", 0)), int(q.get("stop", 2**62))
            return [r for r in msm.public_results if lo <= r["timestamp"] <= hi]
        if msm.polls <= self.fake.polls_to_stop:
            return []  # nothing yet
        out = []
        for i, pid in enumerate(msm.probe_ids):
            probe = self.fake.probe(pid)
            if probe is None or probe.status_id != 1:
                continue  # a probe that did not take part sends no result
            out.append(self.fake.result(msm, probe, 1700000100 + i))
        return out

    def _create(self, body: Any) -> tuple[int, Any]:
        f = self.fake
        key = self._key()
        if key is None:
            return _error(403, "Forbidden", "Authentication credentials were not provided.", 104)
        if key not in f.keys:
            return _error(403, "Forbidden", "The provided API key does not exist", 104)
        try:
            d = body["definitions"][0]
            probes = body["probes"][0]
        except (KeyError, IndexError, TypeError):
            return _error(400, "Bad Request", "Invalid measurement definition", 102,
                          [{"source": {"pointer": "/definitions"}, "detail": "This field is required."}])
        if d.get("type") != "ping":
            return _error(400, "Bad Request", "only ping in this fake", 102)
        try:
            addr = ipaddress.ip_address(str(d.get("target", "")))
        except ValueError:
            return _error(400, "Bad Request", "There was a problem with your request", 102,
                          [{"source": {"pointer": "/definitions/0/target"},
                            "detail": "Enter a valid IPv4 or IPv6 address or hostname."}])
        if addr.version != d.get("af"):
            return _error(400, "Bad Request", "There was a problem with your request", 102,
                          [{"source": {"pointer": "/definitions/0/af"},
                            "detail": "The address family does not match the target."}])
        if not body.get("is_oneoff"):
            return _error(400, "Bad Request", "this fake only runs one-off measurements", 102)
        running = sum(1 for m in f.created if m.polls <= f.polls_to_stop)
        if running >= f.max_concurrent:
            return _error(429, "Too Many Requests", "You have reached the limit of concurrent "
                          f"measurements ({f.max_concurrent}).", 105)
        ids = [int(x) for x in str(probes.get("value", "")).split(",") if x]
        if probes.get("type") != "probes" or not ids or probes.get("requested") != len(ids):
            return _error(400, "Bad Request", "There was a problem with your request", 102,
                          [{"source": {"pointer": "/probes/0"}, "detail": "Bad probe selection."}])
        packets = int(d.get("packets", 3))
        cost = len(ids) * packets * 2
        if cost > f.credits:
            return _error(402, "Payment Required", "Not enough credits", 103)
        f.credits -= cost
        msm = FakeMeasurement(f.next_msm_id, str(addr), int(d["af"]), ids, packets,
                              str(d.get("description", "")))
        f.next_msm_id += 1
        f.measurements[msm.id] = msm
        return 201, {"measurements": [msm.id]}
