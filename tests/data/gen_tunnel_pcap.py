#!/usr/bin/env python3
"""Writes a capture of tunnelled traffic for the tunnel tests (tests/tunnels.rs, the decoder's
tshark comparison and the allocation test).

Usage: gen_tunnel_pcap.py OUT.pcap

Every tunnel Suricata 7 decodes, carrying the heartbeat ping and its reply, a TCP session with
a handshake and an HTTP request, and UDP with content: VXLAN (over IPv4 and IPv6, with an outer
and an inner VLAN tag), Geneve (Ethernet and IPv4 payloads, with an option), Teredo (with and
without an origin indication), GRE (IPv4, IPv6, Ethernet, VLAN), IPv6 in IPv4, IPv4 and IPv6
in IPv6, GRE inside VXLAN; plus what is not a tunnel or not decoded as one: NSH (MD types 1
and 2), MPLS, IPv4 in IPv4, VXLAN carrying ARP or an unknown EtherType, Teredo-like datagrams
on another port, and malformed headers. Deterministic: fixed addresses and timestamps.
"""
import logging
import struct
import sys
import warnings

warnings.filterwarnings("ignore")
logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.all import (  # noqa: E402
    ARP, GRE, ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6,
    Raw,
)
from scapy.contrib.geneve import GENEVE  # noqa: E402
from scapy.contrib.mpls import MPLS  # noqa: E402
from scapy.contrib.nsh import NSH  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402

MAC = dict(src="02:00:00:00:00:aa", dst="02:00:00:00:00:bb")
# Carriers (outer endpoints) and the hosts talking through them.
O1, O2 = "203.0.113.1", "203.0.113.2"
O61, O62 = "2001:db8:ffff::1", "2001:db8:ffff::2"
HOST, EXT = "192.168.1.10", "8.8.8.8"
H6, E6 = "2001:db8::10", "2001:4860:4860::8888"


def ping(seq=1):
    return IP(src=HOST, dst=EXT) / ICMP(type=8, id=7, seq=seq) / Raw(b"heartbeat_ping")


def pong(seq=1):
    return IP(src=EXT, dst=HOST) / ICMP(type=0, id=7, seq=seq) / Raw(b"heartbeat_ping")


def udp_secret(src=HOST, dst=EXT, sport=40001, dport=7777):
    ip = IPv6 if ":" in src else IP
    return ip(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(b"tunnel-secret udp")


def http_session(src=HOST, dst=EXT, sport=40080):
    """A handshake, a request with data, and the server's acknowledgement."""
    c = dict(src=src, dst=dst)
    s = dict(src=dst, dst=src)
    return [
        IP(**c) / TCP(sport=sport, dport=80, flags="S", seq=1000),
        IP(**s) / TCP(sport=80, dport=sport, flags="SA", seq=5000, ack=1001),
        IP(**c) / TCP(sport=sport, dport=80, flags="A", seq=1001, ack=5001),
        IP(**c) / TCP(sport=sport, dport=80, flags="PA", seq=1001, ack=5001) /
        Raw(b"GET /tunnel HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        IP(**s) / TCP(sport=80, dport=sport, flags="A", seq=5001, ack=1044),
    ]


def eth(ip):
    return Ether(**MAC) / ip


def vxlan(inner, src=O1, dst=O2, sport=50000, dport=4789, outer_vlan=None):
    ip = IPv6 if ":" in src else IP
    pkt = ip(src=src, dst=dst) / UDP(sport=sport, dport=dport) / VXLAN(vni=42) / inner
    if outer_vlan is not None:
        return Ether(**MAC) / Dot1Q(vlan=outer_vlan) / pkt
    return eth(pkt)


def geneve(inner, proto, options=b""):
    g = GENEVE(vni=7, proto=proto, optionlen=len(options) // 4)
    return eth(IP(src=O1, dst=O2) / UDP(sport=50002, dport=6081) / g / Raw(options) / inner)


def teredo(inner6, sport=3544, dport=50003, origin=False):
    head = b"\x00\x00\x12\x34\xc6\x33\x64\x01" if origin else b""
    return eth(IP(src=O1, dst=O2) / UDP(sport=sport, dport=dport) / Raw(head + bytes(inner6)))


def gre(inner, proto=None, src=O1, dst=O2):
    g = GRE() if proto is None else GRE(proto=proto)
    return eth(IP(src=src, dst=dst) / g / inner)


def frames():
    f = []
    # VXLAN: the heartbeat both ways (two carriers, one inner flow), a TCP session, UDP with
    # an inner VLAN tag, VXLAN over IPv6, an outer VLAN tag.
    f.append(vxlan(eth(ping(1))))
    f.append(vxlan(eth(pong(1)), src=O2, dst=O1, sport=50001))
    for p in http_session():
        f.append(vxlan(eth(p)))
    f.append(vxlan(Ether(**MAC) / Dot1Q(vlan=5) / udp_secret()))
    f.append(vxlan(eth(udp_secret(H6, E6)), src=O61, dst=O62))
    f.append(vxlan(eth(ping(2)), outer_vlan=77))
    # Not decoded as tunnels: ARP and an unknown EtherType in VXLAN, a bad VXLAN flag.
    f.append(vxlan(Ether(**MAC) / ARP(psrc=HOST, pdst=EXT)))
    f.append(vxlan(Ether(**MAC, type=0x1234) / Raw(b"\x00" * 30)))
    f.append(eth(IP(src=O1, dst=O2) / UDP(sport=50000, dport=4789) /
                 Raw(b"\x00" * 8 + bytes(eth(ping(3))))))
    # Geneve: Ethernet with an option, IPv4 directly.
    f.append(geneve(eth(ping(4)), 0x6558, options=b"\x01\x02\x03\x01" + b"\x00\x00\x00\x09"))
    f.append(geneve(udp_secret(), 0x0800))
    # Teredo: ICMPv6 echo both ways, UDP after an origin indication, and the same bytes on a
    # port that is not Teredo's.
    f.append(teredo(IPv6(src=H6, dst=E6) / ICMPv6EchoRequest(id=1, seq=1, data=b"heartbeat_ping")))
    f.append(teredo(IPv6(src=E6, dst=H6) / ICMPv6EchoReply(id=1, seq=1, data=b"heartbeat_ping"),
                    sport=50003, dport=3544))
    f.append(teredo(udp_secret(H6, E6), origin=True))
    f.append(teredo(udp_secret(H6, E6), sport=7000, dport=7001))
    # GRE: IPv4 both ways, IPv6, Ethernet, 802.1Q.
    f.append(gre(ping(5)))
    f.append(gre(pong(5), src=O2, dst=O1))
    f.append(gre(udp_secret(H6, E6)))
    f.append(gre(eth(udp_secret()), proto=0x6558))
    f.append(gre(Dot1Q(vlan=9) / ping(6), proto=0x8100))
    # IP in IP: 6in4 (the carrier has a flow), 4in6, 6in6, and 4in4 (not decapsulated).
    f.append(eth(IP(src=O1, dst=O2) / udp_secret(H6, E6)))
    f.append(eth(IPv6(src=O61, dst=O62) / ping(7)))
    f.append(eth(IPv6(src=O61, dst=O62) / udp_secret(H6, E6)))
    f.append(eth(IP(src=O1, dst=O2) / ping(8)))
    # Two levels: GRE inside VXLAN.
    f.append(vxlan(eth(IP(src="10.9.9.1", dst="10.9.9.2") / GRE() / ping(9))))
    # NSH (MD type 1 with IPv4, MD type 2 with Ethernet) and MPLS are layers, not tunnels.
    f.append(Ether(**MAC, type=0x894F) /
             NSH(mdtype=1, nextproto=1, spi=5, si=255, length=6, context_header=b"\x00" * 16) /
             udp_secret())
    f.append(Ether(**MAC, type=0x894F) / NSH(mdtype=2, nextproto=3, spi=5, si=254, length=2) /
             eth(ping(10)))
    f.append(Ether(**MAC, type=0x8847) / MPLS(label=100, s=1) / ping(11))
    return f


def main():
    out = sys.argv[1]
    with open(out, "wb") as w:
        w.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames()):
            data = bytes(frame)
            w.write(struct.pack("<IIII", 1_700_000_000 + i, 1000 * i, len(data), len(data)))
            w.write(data)


if __name__ == "__main__":
    main()
