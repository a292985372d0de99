"""What the scapy generators here share: the capture being built. Each packet goes into an
Ethernet frame between two fixed MACs, `gap` seconds (10 ms by default) after the previous
one, from 1700000000 (2023-11-14 22:13:20 UTC).

Use: `from capture import add, pkts, write` (and `Session` for TCP) (the generators run with this directory on
Python's path)."""
from scapy.all import IP, TCP, Dot1Q, Ether, IPv6, Raw, wrpcap

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


class Session:
    """A TCP session, client port `cport` to server port `sport`: 10.0.0.1 to 10.0.0.2 (or
    2001:db8::1 to 2001:db8::2 with `v6`), ISNs 1000 and 5000, the three-way handshake first
    unless `handshake` is false. Each side's next sequence number follows its data, SYN and
    FIN; `c2s` and `s2c` acknowledge what the other side sent unless told otherwise."""

    def __init__(self, cport, sport=9999, v6=False, handshake=True):
        self.cport, self.sport = cport, sport
        self.c, self.s = ("2001:db8::1", "2001:db8::2") if v6 else ("10.0.0.1", "10.0.0.2")
        self.ip = IPv6 if v6 else IP
        self.cseq, self.sseq = 1001, 5001
        if handshake:
            add(self.ip(src=self.c, dst=self.s) / TCP(sport=cport, dport=sport, flags="S", seq=1000))
            add(self.ip(src=self.s, dst=self.c) / TCP(sport=sport, dport=cport, flags="SA", seq=5000, ack=1001))
            self.c2s(b"", "A")

    def c2s(self, data=b"", flags="PA", seq=None, ack=None):
        self._send(True, data, flags, seq, ack)

    def s2c(self, data=b"", flags="PA", seq=None, ack=None):
        self._send(False, data, flags, seq, ack)

    def _send(self, to_server, data, flags, seq, ack):
        """One segment from the client (to_server) or the server; by default at the
        sender's next sequence number, acknowledging all the other side sent."""
        mine, theirs = (self.cseq, self.sseq) if to_server else (self.sseq, self.cseq)
        src, dst = (self.c, self.s) if to_server else (self.s, self.c)
        sp, dp = (self.cport, self.sport) if to_server else (self.sport, self.cport)
        seq = mine if seq is None else seq
        p = self.ip(src=src, dst=dst) / TCP(sport=sp, dport=dp, flags=flags,
                                            seq=seq, ack=theirs if ack is None else ack)
        add(p / Raw(data) if data else p)
        nxt = max(mine, seq + len(data) + ("F" in flags) + ("S" in flags))
        if to_server:
            self.cseq = nxt
        else:
            self.sseq = nxt

    def close(self):
        """FIN from the client, FIN from the server, the client's last ACK."""
        self.c2s(flags="FA")
        self.s2c(flags="FA")
        self.c2s(flags="A")
