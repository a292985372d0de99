#!/usr/bin/env python3
"""TCP segments with wrong checksums, for the differential test's `checksum` corpus
(tests/data/checksum.rules holds the rules). Both tools check checksums as Suricata does by
default (no `-k none`): a segment with a wrong checksum stays out of the session state and
the stream, and is still inspected as a packet.

Usage:
  gen_checksum_pcap.py OUT.pcap              sessions with single bad segments (an evasion
                                             attempt, a bad SYN, handshake ACK, FIN, RST,
                                             IPv6); then UDP, ICMP and IPv4 headers with
                                             right and wrong checksums, both IP versions
  gen_checksum_pcap.py --offload N OUT.pcap  1,200 packets of short sessions whose first N
                                             client segments (within the first 999 packets)
                                             carry a wrong checksum, as a capture taken on a
                                             host with checksum offloading: from N = 101 on,
                                             more than a tenth of the first 1,000 packets
                                             are bad and `auto` stops checking at the 1,000th
(needs scapy)"""
import sys
from scapy.all import IP, IPv6, TCP, Ether, Raw

from capture import add, pkts, write


def wrong(p, layer, field="chksum", by=0x2222):
    """`p` with the checksum `field` of `layer` off by `by`."""
    good = Ether(bytes(Ether() / p))[layer]
    setattr(p[layer], field, (getattr(good, field) + by) & 0xFFFF)
    return p


def add_tcp(p, bad):
    """A TCP segment, its checksum wrong when `bad`."""
    add(wrong(p, TCP, by=0x1111) if bad else p)


class Session:
    """Client cport -> server sport; sequence numbers follow the data."""

    def __init__(self, cport, sport=143, v6=False):
        self.cport, self.sport = cport, sport
        self.ip = IPv6 if v6 else IP
        self.c, self.s = ("2001:db8::1", "2001:db8::2") if v6 else ("10.0.0.1", "10.0.0.2")
        self.cseq, self.sseq = 1000, 5000

    def c2s(self, data=b"", flags="PA", bad=False, seq=None, sent=None):
        """`bad`: a wrong checksum; such a segment does not move the sequence number on
        unless `sent` (offloading: the segment is real, only its checksum is missing)."""
        seq = self.cseq if seq is None else seq
        p = self.ip(src=self.c, dst=self.s) / TCP(
            sport=self.cport, dport=self.sport, flags=flags, seq=seq,
            ack=self.sseq if "A" in flags else 0)
        add_tcp(p / Raw(data) if data else p, bad)
        if not bad or sent:
            self.cseq = max(self.cseq, seq + len(data) + ("F" in flags) + ("S" in flags))

    def s2c(self, data=b"", flags="PA", bad=False):
        p = self.ip(src=self.s, dst=self.c) / TCP(
            sport=self.sport, dport=self.cport, flags=flags, seq=self.sseq, ack=self.cseq)
        add_tcp(p / Raw(data) if data else p, bad)
        if not bad:
            self.sseq += len(data) + ("F" in flags) + ("S" in flags)

    def open(self):
        self.c2s(flags="S")
        self.s2c(flags="SA")
        self.c2s(flags="A")

    def close(self):
        self.c2s(flags="FA")
        self.s2c(flags="FA")
        self.c2s(flags="A")


def bad_then_good(port, bad, good, v6=False):
    """A session whose client sends `bad` with a wrong checksum, then `good` at the same
    sequence number; the server acknowledges it."""
    s = Session(port, v6=v6)
    s.open()
    s.c2s(bad, bad=True)
    s.c2s(good)
    s.s2c(flags="A")
    return s


def plain():
    # 1. evasion: a bad segment with harmless bytes first, then the real one at the same
    #    sequence number; the stream must hold the real one
    s = bad_then_good(42001, b"GET /harmless-page", b"GET /EVIL-PAYLOAD!")
    s.s2c(b"200 OK")
    s.close()
    # 2. a bad SYN, then the SYN again
    s = Session(42002)
    s.c2s(flags="S", bad=True)
    s.open()
    s.c2s(b"RETRIED-SYN data")
    s.s2c(flags="A")
    s.close()
    # 3. the handshake's ACK is bad: the first data completes the handshake
    s = Session(42003)
    s.c2s(flags="S")
    s.s2c(flags="SA")
    s.c2s(flags="A", bad=True)
    s.c2s(b"AFTER-BAD-ACK data")
    s.s2c(flags="A")
    s.close()
    # 4. a bad FIN and a bad RST in the middle do not end the session
    s = Session(42004)
    s.open()
    s.c2s(b"BEFORE-FIN ")
    s.c2s(flags="FA", bad=True)
    s.s2c(flags="R", bad=True)
    s.c2s(b"AFTER-FIN data")
    s.s2c(flags="A")
    s.s2c(b"SERVER-STILL-THERE")
    s.close()
    # 5. a bad segment is still inspected as a packet
    bad_then_good(42005, b"BADSUM-PKT one", b"GOODSUM-PKT two").close()
    # 6. IPv6: a bad data segment, then the real one
    bad_then_good(42006, b"V6-harmless", b"V6-EVIL-ONE", v6=True).close()
    # 7. a server reply with a bad checksum, retransmitted good
    s = Session(42007)
    s.open()
    s.c2s(b"QUERY")
    s.s2c(b"REPLY-decoy!", bad=True)
    s.s2c(b"REPLY-REAL!!")
    s.c2s(flags="A")
    s.close()


def other_checksums():
    """Datagrams and messages for the checksum keywords: each with a right and a wrong
    checksum (the IPv4 header's too), and a UDP datagram without one."""
    from scapy.all import UDP, ICMP, ICMPv6EchoRequest

    v4 = IP(src="10.0.0.1", dst="10.0.0.2")
    v6 = IPv6(src="2001:db8::1", dst="2001:db8::2")
    for ip in (v4, v6):
        add(ip / UDP(sport=5000, dport=5001) / Raw(b"UDP-GOOD"))
        add(wrong(ip / UDP(sport=5000, dport=5001) / Raw(b"UDP-BAD!"), UDP))
    add(v4 / ICMP(type=8, id=1, seq=1) / Raw(b"ICMP-GOOD"))
    add(wrong(v4 / ICMP(type=8, id=1, seq=2) / Raw(b"ICMP-BAD!"), ICMP))
    add(v6 / ICMPv6EchoRequest(id=1, seq=1, data=b"ICMP6-GOOD"))
    add(wrong(v6 / ICMPv6EchoRequest(id=1, seq=2, data=b"ICMP6-BAD!"), ICMPv6EchoRequest, "cksum"))
    # an odd length, and no UDP checksum at all
    add(v4 / UDP(sport=5000, dport=5002) / Raw(b"ODD"))
    add(v4 / UDP(sport=5000, dport=5003, chksum=0) / Raw(b"NO-CHECKSUM"))
    # a wrong IPv4 header checksum (the datagram's own is right)
    add(wrong(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5000, dport=5004) / Raw(b"IPHDR-BAD"), IP))


def offload(n_bad):
    port = 43000
    client_segments = 0
    while len(pkts) < 1200:
        port += 1
        s = Session(port)
        before = len(pkts)

        def client(data=b"", flags="PA"):
            nonlocal client_segments
            bad = len(pkts) < 999 and client_segments < n_bad
            if len(pkts) < 999:
                client_segments += 1 if bad else 0
            s.c2s(data, flags, bad=bad, sent=True)

        client(flags="S")
        s.s2c(flags="SA")
        client(flags="A")
        client(b"OFFLOAD-%d" % port)
        s.s2c(flags="A")
        s.s2c(b"SERVED-%d" % port)
        client(flags="FA")
        s.s2c(flags="FA")
        client(flags="A")
        assert len(pkts) > before


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--offload":
        offload(int(sys.argv[2]))
    elif len(sys.argv) == 2:
        plain()
        other_checksums()
    else:
        sys.exit(__doc__)
    write(sys.argv[-1])
