#!/usr/bin/env python3
"""Writes the capture files tests/decode_tshark.rs compares against tshark.

Usage: gen_decode_pcaps.py OUTDIR

One file per link type (Ethernet, Linux SLL, SLL2, raw IP, BSD null); the test adds pcapng
copies with editcap/mergecap. Deterministic: fixed addresses, ports and timestamps.
"""
import logging
import struct
import sys
import warnings

warnings.filterwarnings("ignore")
logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.all import (  # noqa: E402
    ARP, GRE, ICMP, IP, TCP, UDP, Dot1AD, Dot1Q, Ether, ICMPv6EchoReply,
    ICMPv6EchoRequest, IPOption_EOL, IPOption_LSRR, IPOption_NOP, IPOption_Router_Alert,
    IPOption_RR, IPOption_Security, IPOption_SSRR, IPOption_Stream_Id, IPOption_Timestamp,
    IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting,
    Raw,
)
from scapy.contrib.geneve import GENEVE  # noqa: E402
from scapy.contrib.mpls import MPLS  # noqa: E402
from scapy.contrib.nsh import NSH  # noqa: E402
from scapy.layers.inet6 import ICMPv6DestUnreach  # noqa: E402,F401
from scapy.layers.vxlan import VXLAN  # noqa: E402
from scapy.layers.ipsec import AH  # noqa: E402
from scapy.layers.l2 import CookedLinux, CookedLinuxV2  # noqa: E402

A4, B4, C4, D4 = "192.168.1.10", "93.184.216.34", "10.1.1.1", "10.2.2.2"
A6, B6, C6, D6 = "2001:db8::10", "2001:db8::20", "fd00::1", "fd00::2"
MAC = dict(src="02:00:00:00:00:aa", dst="02:00:00:00:00:bb")

SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (123456, 0)), ("NOP", None),
            ("WScale", 7)]


def ip_packets():
    """(description, IP-level packet) pairs shared by every link type."""
    p = []
    p.append(IP(src=A4, dst=B4, ttl=61, tos=0x10) /
             TCP(sport=40000, dport=80, flags="S", seq=1000, window=64240, options=SYN_OPTS))
    p.append(IP(src=B4, dst=A4, ttl=57) /
             TCP(sport=80, dport=40000, flags="SA", seq=5000, ack=1001, window=65535,
                 options=[("MSS", 1400), ("NOP", None), ("WScale", 2)]))
    p.append(IP(src=A4, dst=B4) /
             TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=5001, window=501,
                 options=[("NOP", None), ("NOP", None), ("Timestamp", (7, 8))]) /
             Raw(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"))
    p.append(IP(src=A4, dst=B4) / TCP(sport=1, dport=2, flags="FPU", seq=1, ack=0, urgptr=3) /
             Raw(b"urgent"))
    p.append(IP(src=A4, dst="8.8.8.8") / UDP(sport=53000, dport=53) / Raw(b"\xbe\xef" + b"q" * 27))
    p.append(IP(src=A4, dst="8.8.8.8") / ICMP(type=8, id=0x1234, seq=1) / Raw(b"heartbeat_ping"))
    p.append(IP(src="8.8.8.8", dst=A4) / ICMP(type=0, id=0x1234, seq=1) / Raw(b"heartbeat_ping"))
    p.append(IP(src=A4, dst=B4) / ICMP(type=13, code=0))
    # IPv4 options.
    p.append(IP(src=A4, dst=B4, options=[IPOption_NOP(), IPOption_RR(routers=["1.2.3.4"]),
                                         IPOption_EOL()]) / UDP(sport=7, dport=9) / Raw(b"rr"))
    p.append(IP(src=A4, dst=B4, options=[IPOption_Timestamp(flg=0, timestamp=1)]) /
             UDP(sport=7, dport=9) / Raw(b"ts"))
    p.append(IP(src=A4, dst=B4, options=[IPOption_Router_Alert()]) /
             TCP(sport=5, dport=6, flags="A"))
    p.append(IP(src=A4, dst=B4, options=[IPOption_Security(), IPOption_Stream_Id(security=7)]) /
             UDP(sport=7, dport=9))
    p.append(IP(src=A4, dst=B4, options=[IPOption_LSRR(routers=["1.1.1.1"]),
                                         IPOption_SSRR(routers=["2.2.2.2"])]) /
             UDP(sport=7, dport=9))
    # Fragments: first (with L4) and a later one.
    big = IP(src=A4, dst=B4, id=77) / UDP(sport=4444, dport=5555) / Raw(b"F" * 64)
    raw = bytes(big)
    hdr = bytearray(raw[:20])
    first = bytearray(hdr)
    first[6:8] = struct.pack("!H", 0x2000)  # MF
    first[2:4] = struct.pack("!H", 20 + 40)
    later = bytearray(hdr)
    later[6:8] = struct.pack("!H", 5)  # offset 40 bytes
    later[2:4] = struct.pack("!H", 20 + len(raw) - 60)
    p.append(IP(bytes(first) + raw[20:60]))
    p.append(IP(bytes(later) + raw[60:]))
    # IPv6 with extension headers.
    p.append(IPv6(src=A6, dst=B6, hlim=33, tc=0x20) /
             TCP(sport=40001, dport=443, flags="S", seq=42, options=SYN_OPTS))
    p.append(IPv6(src=A6, dst=B6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
             UDP(sport=546, dport=547) / Raw(b"dhcp6"))
    p.append(IPv6(src=A6, dst=B6) / IPv6ExtHdrRouting(type=2, addresses=[C6]) /
             TCP(sport=1, dport=2, flags="A", seq=3, ack=4))
    p.append(IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(m=1, offset=0, id=99) /
             UDP(sport=1000, dport=2000) / Raw(b"frag6"))
    p.append(IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(m=0, offset=8, id=99, nh=17) /
             Raw(b"x" * 16))
    p.append(IPv6(src=A6, dst=B6) / AH(nh=17, payloadlen=4, spi=1, seq=2, icv=b"\x00" * 12) /
             UDP(sport=500, dport=4500) / Raw(b"ah"))
    p.append(IPv6(src=A6, dst=B6) / ICMPv6EchoRequest(id=7, seq=8, data=b"ping6"))
    p.append(IPv6(src=B6, dst=A6) / ICMPv6EchoReply(id=7, seq=8, data=b"ping6"))
    # Tunnels: GRE (IPv4, IPv6, Ethernet; key and sequence), IP-in-IP all four ways.
    p.append(IP(src=C4, dst=D4) / GRE() / IP(src=A4, dst=B4) / UDP(sport=1, dport=2) / Raw(b"g4"))
    p.append(IP(src=C4, dst=D4) / GRE(key_present=1, key=5, seqnum_present=1, sequence_number=9) /
             IPv6(src=A6, dst=B6) / TCP(sport=3, dport=4, flags="S", seq=10))
    p.append(IP(src=C4, dst=D4) / GRE(proto=0x6558) / Ether(**MAC) /
             IP(src=A4, dst=B4, ttl=9) / ICMP(type=8, id=3, seq=4) / Raw(b"bridged"))
    p.append(IP(src=C4, dst=D4) / IP(src=A4, dst=B4) / UDP(sport=5, dport=6) / Raw(b"4in4"))
    p.append(IP(src=C4, dst=D4) / IPv6(src=A6, dst=B6) / UDP(sport=5, dport=6) / Raw(b"6in4"))
    p.append(IPv6(src=C6, dst=D6) / IP(src=A4, dst=B4) / TCP(sport=7, dport=8, flags="R"))
    p.append(IPv6(src=C6, dst=D6) / IPv6(src=A6, dst=B6) / UDP(sport=5, dport=6) / Raw(b"6in6"))
    # UDP tunnels on their default ports: VXLAN (IPv4, and IPv6 behind a VLAN tag, over IPv6),
    # Geneve (Ethernet with an option, IPv4), Teredo (plain, with an origin indication).
    p.append(IP(src=C4, dst=D4) / UDP(sport=50000, dport=4789) / VXLAN(vni=42) / Ether(**MAC) /
             IP(src=A4, dst=B4) / ICMP(type=8, id=9, seq=10) / Raw(b"heartbeat_ping"))
    p.append(IPv6(src=C6, dst=D6) / UDP(sport=4789, dport=50000) / VXLAN(vni=7) /
             Ether(**MAC) / Dot1Q(vlan=33) / IPv6(src=A6, dst=B6) /
             TCP(sport=40002, dport=443, flags="S", seq=77, options=SYN_OPTS))
    p.append(IP(src=C4, dst=D4) / UDP(sport=50002, dport=6081) /
             GENEVE(vni=5, proto=0x6558, optionlen=2) / Raw(b"\x01\x02\x03\x01\x00\x00\x00\x09") /
             Ether(**MAC) / IP(src=A4, dst=B4, ttl=12) / UDP(sport=11, dport=12) / Raw(b"gnv"))
    p.append(IP(src=C4, dst=D4) / UDP(sport=50002, dport=6081) / GENEVE(vni=5, proto=0x0800) /
             IP(src=A4, dst=B4) / TCP(sport=13, dport=14, flags="A", seq=5, ack=6) / Raw(b"g4"))
    p.append(IP(src=C4, dst=D4) / UDP(sport=3544, dport=50003) / IPv6(src=A6, dst=B6) /
             ICMPv6EchoRequest(id=3, seq=4, data=b"teredo"))
    p.append(IP(src=C4, dst=D4) / UDP(sport=50003, dport=3544) /
             Raw(b"\x00\x00\x12\x34\xc6\x33\x64\x01" +
                 bytes(IPv6(src=A6, dst=B6) / UDP(sport=15, dport=16) / Raw(b"origin"))))
    return p


def ether_packets():
    p = [Ether(**MAC) / ip for ip in ip_packets()]
    inner = Ether(**MAC) / IP(src=A4, dst=B4) / TCP(sport=40000, dport=80, flags="A", seq=9,
                                                    ack=10) / Raw(b"mirrored")
    p += [
        Ether(**MAC) / Dot1Q(vlan=100) / IP(src=A4, dst=B4) / UDP(sport=1, dport=2) / Raw(b"v"),
        Ether(**MAC) / Dot1AD(vlan=10) / Dot1Q(vlan=20) / IP(src=A4, dst=B4) /
        TCP(sport=1, dport=2, flags="S"),
        Ether(**MAC, type=0x9100) / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) /
        IPv6(src=A6, dst=B6) / UDP(sport=1, dport=2),
        Ether(**MAC) / ARP(psrc=A4, pdst=B4),
        # NSH (MD type 1 with IPv4, MD type 2 with Ethernet) and MPLS.
        Ether(**MAC, type=0x894F) /
        NSH(mdtype=1, nextproto=1, spi=5, si=255, length=6, context_header=b"\x00" * 16) /
        IP(src=A4, dst=B4) / UDP(sport=52377, dport=52464) / Raw(b"data\n\n"),
        Ether(**MAC, type=0x894F) / NSH(mdtype=2, nextproto=3, spi=5, si=254, length=2) /
        Ether(**MAC) / IPv6(src=A6, dst=B6) / ICMPv6EchoReply(id=5, seq=6, data=b"nsh"),
        Ether(**MAC, type=0x8847) / MPLS(label=100, s=0) / MPLS(label=200, s=1) /
        IP(src=A4, dst=B4) / TCP(sport=17, dport=18, flags="PA", seq=1, ack=2) / Raw(b"mpls"),
        # Short frame padded to 60 bytes: the payload ends at the IP total length.
        Ether(**MAC) / IP(src=A4, dst=B4) / TCP(sport=1, dport=2, flags="A") / Raw(b"\x00" * 6),
        # TZSP from a MikroTik: received packet, Ethernet, tags then END.
        Ether(**MAC) / IP(src="192.168.88.1", dst="192.168.88.20") /
        UDP(sport=37008, dport=37008) / Raw(b"\x01\x00\x00\x01" + b"\x00\x0a\x01\xd0\x01" +
                                           bytes(inner)),
        Ether(**MAC) / IP(src="192.168.88.1", dst="192.168.88.20") /
        UDP(sport=37008, dport=37008) / Raw(b"\x01\x00\x00\x01\x01" +
                                           bytes(Ether(**MAC) / Dot1Q(vlan=42) / IPv6(src=A6, dst=B6) /
                                                 ICMPv6EchoRequest(id=1, seq=2))),
    ]
    # The padded frame: rebuild as bytes with trailing zeros.
    p[-3] = Ether(bytes(Ether(**MAC) / IP(src=A4, dst=B4) / TCP(sport=1, dport=2, flags="A")) +
                  b"\x00" * 6)
    return p


def write(path, linktype, frames, big=False, nanos=False):
    """A classic pcap: little- or big-endian, microsecond or nanosecond timestamps."""
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    with open(path, "wb") as f:
        f.write(struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype))
        for i, frame in enumerate(frames):
            data = bytes(frame)
            frac = i * 1000 + 7 if nanos else i * 1000
            f.write(struct.pack(e + "IIII", 1_700_000_000 + i, frac, len(data), len(data)))
            f.write(data)


def main():
    out = sys.argv[1]
    ips = ip_packets()
    write(f"{out}/ether.pcap", 1, ether_packets())
    write(f"{out}/ether-be-ns.pcap", 1, ether_packets(), big=True, nanos=True)
    write(f"{out}/sll.pcap", 113,
          [CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x02\x00\x00\x00\x00\xaa\x00\x00",
                       proto=0x86DD if ip.version == 6 else 0x0800) / ip for ip in ips])
    write(f"{out}/sll2.pcap", 276,
          [CookedLinuxV2(proto=0x86DD if ip.version == 6 else 0x0800, ifindex=2, lladdrtype=1,
                         pkttype=4, lladdrlen=6, src=b"\x02\x00\x00\x00\x00\xaa\x00\x00") / ip
           for ip in ips])
    write(f"{out}/raw.pcap", 101, ips)
    write(f"{out}/null.pcap", 0,
          [struct.pack("<I", 30 if ip.version == 6 else 2) + bytes(ip) for ip in ips])


if __name__ == "__main__":
    main()
