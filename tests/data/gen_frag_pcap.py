#!/usr/bin/env python3
"""IP fragments for the differential test (tests/data/frag.rules holds the rules): IPv4 and
IPv6 packets cut into fragments, in order and out of order, overlapping fragments whose
winner the reassembly policy decides (Windows for IPv4, BSD for IPv6, as Suricata's
suricata.yaml has it), duplicates, an incomplete
set that times out, fragments that are too large, fragmented TCP and UDP carrying content
that only the reassembled packet shows, fragments behind a VLAN tag and inside GRE, and a
fragmented GRE packet whose reassembly carries a tunnel.

Usage: gen_frag_pcap.py OUT.pcap   (needs scapy)"""
import struct
import sys
from scapy.all import (GRE, ICMP, IP, TCP, UDP, ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, Raw)

from capture import add, write


def frag4(src, dst, proto, ident, payload, pieces, order=None, ttl=64, gap=0.01, vlan=None):
    """IPv4 fragments of `payload` (the IP payload), cut at the byte offsets in `pieces`
    (each (offset, length), offsets multiples of 8), sent in `order`."""
    out = []
    for off, ln in pieces:
        mf = off + ln < len(payload)
        out.append(IP(src=src, dst=dst, proto=proto, id=ident, ttl=ttl, flags="MF" if mf else 0,
                      frag=off // 8) / Raw(payload[off:off + ln]))
    for i in (order or range(len(out))):
        add(out[i], gap, vlan)


def raw4(src, dst, proto, ident, off, data, mf, gap=0.01):
    """One IPv4 fragment with arbitrary data at byte offset `off`."""
    add(IP(src=src, dst=dst, proto=proto, id=ident, flags="MF" if mf else 0, frag=off // 8) /
        Raw(data), gap)


def l4(p):
    """The bytes of an L4 header + payload, checksum filled as if unfragmented."""
    return bytes(p)[20:]


def frag6(src, dst, nh, ident, payload, pieces, order=None, ext=None, gap=0.01):
    out = []
    for off, ln in pieces:
        mf = 1 if off + ln < len(payload) else 0
        p = IPv6(src=src, dst=dst)
        if ext is not None:
            p = p / ext()
        out.append(p / IPv6ExtHdrFragment(nh=nh, id=ident, offset=off // 8, m=mf) /
                   Raw(payload[off:off + ln]))
    for i in (order or range(len(out))):
        add(out[i], gap)


A, B = "10.1.0.1", "10.1.0.2"
C, D = "10.2.0.1", "10.2.0.2"
A6, B6 = "2001:db8::1", "2001:db8::2"

# 1. ICMP echo in three fragments, in order; a ping the reply answers unfragmented
icmp = l4(IP(src=A, dst=B) / ICMP(type=8, id=7, seq=1) / Raw(b"P" * 40 + b"ICMPMARK" + b"p" * 40))
frag4(A, B, 1, 101, icmp, [(0, 32), (32, 32), (64, len(icmp) - 64)])
add(IP(src=B, dst=A) / ICMP(type=0, id=7, seq=1) / Raw(b"P" * 40 + b"ICMPMARK" + b"p" * 40))

# 2. UDP out of order (last, middle, first); the content spans the cut
udp = l4(IP(src=A, dst=B) / UDP(sport=40000, dport=5353) / Raw(b"u" * 20 + b"FRAGSECRET" + b"v" * 30))
frag4(A, B, 17, 102, udp, [(0, 24), (24, 16), (40, len(udp) - 40)], order=[2, 1, 0])

# 3. TCP: a handshake, then a data segment in two fragments (the content spans them)
add(IP(src=C, dst=D) / TCP(sport=41000, dport=80, flags="S", seq=1000))
add(IP(src=D, dst=C) / TCP(sport=80, dport=41000, flags="SA", seq=5000, ack=1001))
add(IP(src=C, dst=D) / TCP(sport=41000, dport=80, flags="A", seq=1001, ack=5001))
seg = l4(IP(src=C, dst=D) / TCP(sport=41000, dport=80, flags="PA", seq=1001, ack=5001) /
         Raw(b"GET /index.html?q=TCPFRAGCONTENT HTTP/1.0\r\n\r\n"))
frag4(C, D, 6, 103, seg, [(0, 32), (32, len(seg) - 32)])
add(IP(src=D, dst=C) / TCP(sport=80, dport=41000, flags="A", seq=5001, ack=1001 + len(seg) - 20))
add(IP(src=C, dst=D) / TCP(sport=41000, dport=80, flags="FA", seq=1001 + len(seg) - 20, ack=5001))
add(IP(src=D, dst=C) / TCP(sport=80, dport=41000, flags="FA", seq=5001, ack=1002 + len(seg) - 20))
add(IP(src=C, dst=D) / TCP(sport=41000, dport=80, flags="A", seq=1002 + len(seg) - 20, ack=5002))

# 4. overlap: a later fragment rewrites bytes 16..24 of the first
hdr = struct.pack("!HHHH", 40001, 6000, 40, 0)
raw4(A, B, 17, 104, 0, hdr + b"a" * 8 + b"OLDOLDOL", True)
raw4(A, B, 17, 104, 16, b"NEWNEWNE" + b"b" * 16, False)

# 5. overlap: a later fragment starts before an earlier one and covers its start, sent last
# to first
hdr = struct.pack("!HHHH", 40002, 6000, 8 + 40, 0)
raw4(A, B, 17, 105, 24, b"TAILTAIL" + b"c" * 16, False)
raw4(A, B, 17, 105, 16, b"HEADHEAD" + b"OVEROVER", True)
raw4(A, B, 17, 105, 0, hdr + b"d" * 8, True)

# 6. an exact duplicate of a middle fragment
udp = l4(IP(src=A, dst=B) / UDP(sport=40003, dport=6000) / Raw(b"w" * 16 + b"DUPCONTENT" + b"x" * 22))
frag4(A, B, 17, 106, udp, [(0, 16), (16, 16), (16, 16), (32, len(udp) - 32)])

# 7. a Sturges-Novak-like set: overlapping fragments of every kind; which bytes win (the
# policy: Suricata's suricata.yaml has Windows for every IPv4 host) decides the rules below
def sn(ident, sport):
    h = struct.pack("!HHHH", sport, 6000, 8 + 184, 0)
    spec = [  # (offset in 8-byte units of the IP payload, 8-byte blocks, char, mf)
        (0, 3, b"A", True), (4, 4, b"B", True), (9, 3, b"C", True), (13, 2, b"D", True),
        (16, 4, b"E", True), (20, 3, b"F", True), (23, 1, b"G", False),
        (2, 4, b"H", True), (8, 2, b"I", True), (12, 2, b"J", True), (14, 2, b"K", True),
        (20, 2, b"L", True), (0, 1, b"M", True), (21, 2, b"N", True), (23, 1, b"O", False),
        (15, 1, b"P", True),
    ]
    for off, n, ch, mf in spec:
        data = ch * (8 * n)
        if off == 0:
            data = h + data[8:]
        raw4(A, B, 17, ident, off * 8, data, mf)
sn(107, 40004)

# 8. an incomplete set: its first fragment only, then 70 s pass
udp = l4(IP(src=C, dst=D) / UDP(sport=40005, dport=6000) / Raw(b"NEVERCOMPLETE" + b"z" * 40))
frag4(C, D, 17, 108, udp, [(0, 24)])
add(IP(src=C, dst=D) / UDP(sport=1, dport=2) / Raw(b"tick"), gap=70.0)

# 9. too large: a fragment ending past 65535 bytes
raw4(C, D, 17, 109, 65528, b"q" * 16, False)

# 10. IPv6: UDP in two fragments, in order
udp6 = bytes(UDP(sport=40010, dport=7000) / Raw(b"s" * 20 + b"V6FRAGSECRET" + b"t" * 20))
udp6 = bytes(IPv6(src=A6, dst=B6) / UDP(sport=40010, dport=7000) /
             Raw(b"s" * 20 + b"V6FRAGSECRET" + b"t" * 20))[40:]
frag6(A6, B6, 17, 201, udp6, [(0, 32), (32, len(udp6) - 32)])

# 11. IPv6: ICMPv6 echo in three fragments, out of order, a hop-by-hop header before the
# fragment header
icmp6 = bytes(IPv6(src=A6, dst=B6) / ICMPv6EchoRequest(id=3, seq=4, data=b"e" * 30 + b"V6PING" + b"f" * 30))[40:]
frag6(A6, B6, 58, 202, icmp6, [(0, 24), (24, 24), (48, len(icmp6) - 48)], order=[1, 2, 0],
      ext=IPv6ExtHdrHopByHop)

# 12. IPv6: overlapping fragments (the second rewrites bytes 16..24)
hdr = struct.pack("!HHHH", 40011, 7000, 8 + 40, 0)
add(IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(nh=17, id=203, offset=0, m=1) /
    Raw(hdr + b"g" * 8 + b"OLD6OLD6"))
add(IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(nh=17, id=203, offset=2, m=0) /
    Raw(b"NEW6NEW6" + b"h" * 16))

# 13. IPv6: a fragment that is not a multiple of 8 bytes with more to come
add(IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(nh=17, id=204, offset=0, m=1) /
    Raw(struct.pack("!HHHH", 40012, 7000, 8 + 13, 0) + b"ODD"))

# 14. fragments behind a VLAN tag
udp = l4(IP(src=C, dst=D) / UDP(sport=40020, dport=6000) / Raw(b"k" * 20 + b"VLANFRAG" + b"l" * 20))
frag4(C, D, 17, 110, udp, [(0, 24), (24, len(udp) - 24)], vlan=42)

# 15. fragments inside GRE (the outer packets whole)
inner = l4(IP(src=A, dst=B) / UDP(sport=40030, dport=6000) / Raw(b"m" * 20 + b"GREINNERFRAG" + b"n" * 20))
for off, ln, mf in [(0, 24, 1), (24, len(inner) - 24, 0)]:
    add(IP(src=C, dst=D) / GRE() /
        IP(src=A, dst=B, proto=17, id=111, flags="MF" if mf else 0, frag=off // 8) /
        Raw(inner[off:off + ln]))

# 16. a GRE packet in fragments: its reassembly carries a tunnel
gre = l4(IP(src=C, dst=D) / GRE() / IP(src=A, dst=B) / UDP(sport=40040, dport=6000) /
         Raw(b"o" * 20 + b"OUTERFRAGGRE" + b"r" * 20))
frag4(C, D, 47, 112, gre, [(0, 32), (32, len(gre) - 32)])

# 17. the same IP id both ways at once: one tracker in Suricata
hdr1 = struct.pack("!HHHH", 40050, 6000, 8 + 24, 0)
raw4(A, B, 17, 113, 0, hdr1 + b"x" * 8, True)
raw4(B, A, 17, 113, 16, b"BOTHWAYS" * 2, False)

write(sys.argv[1])
