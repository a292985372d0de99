"""What the scapy generators here share: the capture being built. Each packet goes into an
Ethernet frame between two fixed MACs, `gap` seconds (10 ms by default) after the previous
one, from 1700000000 (2023-11-14 22:13:20 UTC).

Use: `from capture import add, pkts, write` (the generators run with this directory on
Python's path)."""
from scapy.all import Dot1Q, Ether, wrpcap

pkts = []
_clock = [1700000000.0]


def add(p, gap=0.01, vlan=None):
    """Appends `p` (an IP packet), in a frame with a VLAN tag when `vlan` is given."""
    e = Ether(src="00:00:00:00:00:01", dst="00:00:00:00:00:02")
    if vlan is not None:
        e = e / Dot1Q(vlan=vlan)
    p = e / p
    _clock[0] += gap
    p.time = _clock[0]
    pkts.append(p)


def write(path):
    wrpcap(path, pkts)
