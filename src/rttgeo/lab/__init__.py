"""rttgeo.lab: an emulated Internet on one Linux machine.

Hosts of a :class:`World` become network namespaces with addresses from 198.18.0.0/15 and (where
the kernel has IPv6) from a unique local /64 of fd00::/8, each linked by a TUN device to a delay
engine (a small C program, see :mod:`rttgeo.lab.engine`) that holds every packet for its pair's
one-way delay, IPv4 and IPv6 alike, so real ICMP, TCP and UDP packets cross a real network stack.
Landmarks run ``rttgeo serve``. Needs root. See docs/lab.md.
"""

from rttgeo.lab.lab import Lab, LabHost, down, find_labs, run_root, up
from rttgeo.lab.world import Host, World, load_world, parse_world, world_from_mesh

__all__ = [
    "Host",
    "Lab",
    "LabHost",
    "World",
    "down",
    "find_labs",
    "load_world",
    "parse_world",
    "run_root",
    "up",
    "world_from_mesh",
]
