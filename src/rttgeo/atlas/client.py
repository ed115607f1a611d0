"""A small RIPE Atlas REST client over ripe-atlas-cousteau (the ``atlas`` extra).

One seam: :class:`AtlasClient`. ``server`` is the API host (``atlas.ripe.net``; a ``host:port`` for a
mirror or the tests' loopback server) and ``verify`` the TLS check (True, or a CA bundle path); the
client speaks HTTPS to it exactly as to the real service. The API key is kept in the client only to
build cousteau requests (``Authorization: Key ...`` header): it is never in a URL, a message, a log
record or the client's ``repr``. :func:`load_api_key` reads it from an environment variable or a file,
never from a command-line argument (which shell history and ``ps`` would show).

HTTP errors map to the exception tree: 400 -> :class:`AtlasRequestError` (an InputError: the
request was refused as malformed, e.g. a bad target), 403 -> :class:`AtlasAuthError` (no key, a bad
key, or a key without the permission), 429 -> :class:`AtlasRateLimited` (too many requests or
measurements at once; wait and resume), other failures -> :class:`AtlasError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rttgeo import __version__
from rttgeo.errors import InputError, MeasurementError, require

__all__ = [
    "ATLAS_KEY_ENV",
    "AtlasAuthError",
    "AtlasClient",
    "AtlasError",
    "AtlasRateLimited",
    "AtlasRequestError",
    "MeasurementStatus",
    "load_api_key",
]

#: Environment variable holding the RIPE Atlas API key.
ATLAS_KEY_ENV = "RTTGEO_ATLAS_KEY"

#: Measurement status ids of the RIPE Atlas API that mean "no more results will come".
FINAL_STATUS_IDS = frozenset({4, 5, 6, 7, 8})  # stopped, forced to stop, no suitable probes, failed, archived


class AtlasError(MeasurementError):
    """The RIPE Atlas API refused or failed a request (``status``: HTTP status, 0 = no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AtlasAuthError(AtlasError):
    """HTTP 403: no API key, a wrong key, or a key without the needed permission."""


class AtlasRateLimited(AtlasError):
    """HTTP 429: too many requests or too many measurements at once."""


class AtlasRequestError(AtlasError, InputError):
    """HTTP 400: the API found the request malformed (the message says which field)."""

    def __init__(self, message: str, status: int = 400) -> None:
        AtlasError.__init__(self, message, status)


@dataclass(frozen=True, slots=True)
class MeasurementStatus:
    """Status of one measurement: ``status_id`` / ``status`` as the API names them."""

    msm_id: int
    status_id: int
    status: str
    participants: int | None

    @property
    def final(self) -> bool:
        """No more results will come (stopped, failed, no suitable probes...)."""
        return self.status_id in FINAL_STATUS_IDS


def load_api_key(*, key_file: str | Path | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The API key from ``key_file`` (first line) or else ``$RTTGEO_ATLAS_KEY``; None if neither.

    Raises :class:`InputError` (naming the file, never its content) when the file is unreadable
    or empty.
    """
    environ = os.environ if env is None else env
    if key_file is not None:
        p = Path(key_file)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the API key file: {exc.strerror}", where=str(p),
                             field="--key-file") from None
        except UnicodeDecodeError:
            raise InputError("the API key file is not text", where=str(p),
                             field="--key-file") from None
        key = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not key:
            raise InputError("the API key file is empty", where=str(p), field="--key-file")
        return key
    key = environ.get(ATLAS_KEY_ENV, "").strip()
    return key or None


def _error(what: str, message: Any) -> AtlasError:
    """The exception for a failed cousteau call whose response body (or exception args) is ``message``."""
    err = message.get("error") if isinstance(message, Mapping) else None
    if isinstance(err, Mapping):
        status = int(err.get("status") or 0)
        detail = str(err.get("detail") or err.get("title") or "")
        fields = [
            f"{(e.get('source') or {}).get('pointer', '?')}: {e.get('detail', '')}"
            for e in err.get("errors") or []
            if isinstance(e, Mapping)
        ]
        if fields:
            detail += " (" + "; ".join(fields) + ")"
        text = f"{what}: HTTP {status} {err.get('title', '')}: {detail}".replace("  ", " ")
        if status == 400:
            return AtlasRequestError(text)
        if status in (401, 403):
            return AtlasAuthError(
                text + f" -- set a valid API key with the needed permission in ${ATLAS_KEY_ENV} "
                "or a --key-file", status)
        if status == 429:
            return AtlasRateLimited(
                text + " -- too many requests or measurements at once: wait, then run the same "
                "command again (it resumes from the store)", status)
        return AtlasError(text, status)
    if isinstance(message, tuple):  # requests' exception args: no answer at all
        reason = " ".join(str(a) for a in message)[:300]
        return AtlasError(f"{what}: no answer from the RIPE Atlas API ({reason}); check the "
                          "network or --server", 0)
    return AtlasError(f"{what}: unexpected answer from the RIPE Atlas API: {str(message)[:300]}")


class AtlasClient:
    """RIPE Atlas REST calls through ripe-atlas-cousteau (see the module docstring)."""

    def __init__(self, *, key: str | None = None, server: str = "atlas.ripe.net",
                 verify: bool | str = True, user_agent: str | None = None) -> None:
        self._key = key
        self.server = server
        self.verify = verify
        self.user_agent = user_agent or f"rttgeo/{__version__}"
        self._c = require("ripe.atlas.cousteau", "atlas")

    def __repr__(self) -> str:
        return (f"AtlasClient(server={self.server!r}, key={'set' if self._key else 'none'}, "
                f"verify={self.verify!r})")

    @property
    def has_key(self) -> bool:
        return bool(self._key)

    def _common(self) -> dict[str, Any]:
        return {"server": self.server, "verify": self.verify, "user_agent": self.user_agent}

    def _get(self, path: str, what: str, key: bool = False, **params: Any) -> Any:
        req = self._c.AtlasRequest(url_path=path, key=self._key if key else None, **self._common())
        ok, body = req.get(**params)
        if not ok:
            raise _error(what, body)
        return body

    # -- listings ----------------------------------------------------------------------------
    def probes(self, **filters: Any) -> list[dict[str, Any]]:
        """Probes matching ``filters`` (API filters, e.g. ``is_anchor=True``, ``id__in=[...]``),
        every page followed."""
        try:
            return [dict(p) for p in self._c.ProbeRequest(**self._common(), **filters)]
        except self._c.exceptions.APIResponseError as exc:
            raise _error("listing probes", exc.args[0] if exc.args else None) from None

    def measurements(self, **filters: Any) -> list[dict[str, Any]]:
        """Measurement records matching ``filters`` (API filters, e.g. ``id__in=[...]``, which
        cousteau splits into several requests when long), every page followed."""
        try:
            return [dict(m) for m in self._c.MeasurementRequest(**self._common(), **filters)]
        except self._c.exceptions.APIResponseError as exc:
            raise _error("listing measurements", exc.args[0] if exc.args else None) from None

    def anchors(self) -> list[dict[str, Any]]:
        """Every anchor record, every page followed."""
        try:
            return [dict(a) for a in self._c.AnchorRequest(**self._common())]
        except self._c.exceptions.APIResponseError as exc:
            raise _error("listing anchors", exc.args[0] if exc.args else None) from None

    def anchor_measurements(self, *, include: str = "target,measurement") -> list[dict[str, Any]]:
        """Every record of ``/api/v2/anchor-measurements/`` (the measurements RIPE Atlas runs
        towards each anchor: ``id``, ``is_mesh``, ``type``, ``measurement``, ``target``), every
        page followed, with ``target`` (the anchor) and ``measurement`` expanded as nested objects
        by ``include`` (the API's documented query parameter; URLs when it is empty). Public: no
        key needed."""
        c = self._c

        class AnchorMeasurementRequest(c.api_listing.RequestGenerator):  # no cousteau class yet
            url = "/api/v2/anchor-measurements/"
            id_filter = "id__in"
            object_class = None

        filters: dict[str, Any] = {"page_size": 500}
        if include:
            filters["include"] = include
        try:
            return [dict(r) for r in AnchorMeasurementRequest(**self._common(), **filters)]
        except c.exceptions.APIResponseError as exc:
            raise _error("listing the anchor measurements",
                         exc.args[0] if exc.args else None) from None

    def credits(self) -> dict[str, Any]:
        """The key owner's credit balance and estimated daily income / expenditure (needs a key)."""
        return dict(self._get("/api/v2/credits/", "reading the credit balance", key=True))

    # -- measurements ------------------------------------------------------------------------
    def create_ping(self, *, target: str, af: int, probe_ids: Sequence[int], packets: int,
                    description: str, tags: Iterable[str] = ()) -> int:
        """Create a one-off ping from ``probe_ids`` to ``target``; returns the measurement id."""
        if not self._key:
            raise AtlasAuthError(f"creating a measurement needs an API key: set ${ATLAS_KEY_ENV} "
                                 "or give --key-file", 403)
        c = self._c
        opts: dict[str, Any] = {"af": af, "target": target, "description": description,
                                "packets": packets}
        if tags:
            opts["tags"] = list(tags)
        ping = c.Ping(**opts)
        source = c.AtlasSource(type="probes", value=",".join(str(int(p)) for p in probe_ids),
                               requested=len(probe_ids))
        req = c.AtlasCreateRequest(key=self._key, measurements=[ping], sources=[source],
                                   is_oneoff=True, **self._common())
        ok, body = req.create()
        if not ok:
            raise _error(f"creating a ping to {target}", body)
        try:
            return int(body["measurements"][0])
        except (KeyError, IndexError, TypeError, ValueError):
            raise AtlasError(f"creating a ping to {target}: no measurement id in the answer "
                             f"({str(body)[:200]})") from None

    def status(self, msm_id: int) -> MeasurementStatus:
        """Status of measurement ``msm_id`` (public; no key needed)."""
        body = self._get(f"/api/v2/measurements/{int(msm_id)}/", f"reading measurement {msm_id}")
        st = body.get("status") or {}
        return MeasurementStatus(int(msm_id), int(st.get("id", 0)), str(st.get("name", "")),
                                 body.get("participant_count"))

    def results(self, msm_id: int, *, start: int | None = None,
                stop: int | None = None) -> list[dict[str, Any]]:
        """Raw results of ``msm_id`` (a list of result dicts, every firmware format)."""
        kw: dict[str, Any] = {"msm_id": int(msm_id)}
        if start is not None:
            kw["start"] = int(start)
        if stop is not None:
            kw["stop"] = int(stop)
        return self._result_list(self._c.AtlasResultsRequest(**kw, **self._common()),
                                 f"the results of measurement {msm_id}")

    def latest(self, msm_id: int) -> list[dict[str, Any]]:
        """The latest result of every probe of ``msm_id`` (``/measurements/{id}/latest``): one
        result per vantage point, whatever the measurement's age (public; no key needed)."""
        return self._result_list(
            self._c.AtlasLatestRequest(msm_id=int(msm_id), **self._common()),
            f"the latest results of measurement {msm_id}")

    @staticmethod
    def _result_list(req: Any, what: str) -> list[dict[str, Any]]:
        ok, body = req.create()
        if not ok:
            raise _error(f"fetching {what}", body)
        if not isinstance(body, list):
            raise AtlasError(f"{what}: expected a JSON array")
        return body
