"""rttgeo.prove: the host's prover of the signed challenge-response (``rttgeo prove``).

The prover opens a session with each landmark of a signed catalog (the host sends first, so it
works behind NAT), answers every nonce with its Ed25519 signature as fast as it can, and keeps the
receipts the landmarks sign. It never times anything that counts: every RTT in a receipt is the
landmark's. Protocol and threat model: docs/verify.md.
"""

from __future__ import annotations

from rttgeo.prove.prover import Prover, ProveResult, ProveTarget

__all__ = ["ProveResult", "ProveTarget", "Prover"]
