#!/usr/bin/env python3
"""TCP sessions whose start was not seen, or of which one side is missing, for the
differential test's `midstream` corpus (tests/data/midstream.rules holds the rules). The
test replays the capture with `stream.midstream` and `stream.async-oneside` on and off:
sessions picked up at a SYN/ACK (which turns the flow around), at an ACK, one-sided
sessions in each direction, a SYN answered only by the client's ACK, data retransmitted
behind what a one-sided stream already took, and a session that later shows its other side.

Usage: gen_midstream_pcap.py OUT.pcap   (needs scapy)"""
import sys

import capture
from capture import add, write


def Session(cport, sport=143):
    """A session whose handshake is not in the capture (`capture.Session` without it)."""
    return capture.Session(cport, sport, handshake=False)


def big(marker, size=3000, at=1500):
    d = bytearray(b"y" * size)
    d[at:at + len(marker)] = marker
    return bytes(d)


# 1. picked up at the SYN/ACK; then both sides talk
s = Session(41001)
s.s2c(flags="SA", seq=5000, ack=1001)
s.c2s(flags="A")
s.c2s(b"LOGIN alpha SPLIT")
s.c2s(b"CLIENT done")
s.s2c(flags="A")
s.s2c(b"* OK SPLIT")
s.s2c(b"SERVER done")
s.c2s(flags="A")
s.c2s(flags="FA")
s.s2c(flags="FA")
s.c2s(flags="A")

# 2. picked up at the SYN/ACK; only the server is seen (tcp-async-01's shape)
s = Session(41002)
s.s2c(flags="SA", seq=5000, ack=1001)
s.s2c(b"* OK ready SPLIT")
s.s2c(b"SERVER done ")
for i in range(3):
    s.s2c(big(b"ONESIDED-%d" % i))
s.s2c(b"tail SPLIT")
s.s2c(b"SERVER done again")

# 3. picked up at an ACK; both sides
s = Session(41003, sport=25)
s.c2s(b"HELO SPLIT")
s.c2s(b"CLIENT done")
s.s2c(flags="A")
s.s2c(b"250 SPLIT")
s.s2c(b"SERVER done")
s.c2s(flags="A")

# 4. picked up at an ACK; only the client is seen, data past the chunk size
s = Session(41004, sport=80)
for i in range(4):
    s.c2s(big(b"CLIENTBULK-%d" % i))
s.c2s(b"end SPLIT")
s.c2s(b"CLIENT done")

# 5. a SYN, then the client's ACK and data without a SYN/ACK
s = Session(41005, sport=21)
s.c2s(flags="S", seq=1000)
s.c2s(flags="A", ack=5001)
s.c2s(b"USER SPLIT", ack=5001)
s.c2s(b"CLIENT done", ack=5001)
s.c2s(big(b"FTPBULK"), ack=5001)
s.c2s(b"last", ack=5001)

# 6. the SYN/ACK, then server data before the client's ACK, then the ACK and both sides
s = Session(41006)
s.s2c(flags="SA", seq=5000, ack=1001)
s.s2c(b"EARLY SPLIT")
s.s2c(b"SERVER done")
s.c2s(flags="A")
s.c2s(b"late SPLIT")
s.c2s(b"CLIENT done")
s.s2c(flags="A")

# 7. one-sided server stream with a retransmission behind what was taken
s = Session(41007)
s.s2c(flags="SA", seq=5000, ack=1001)
s.s2c(b"first part ")
s.s2c(b"RETRANS SPLIT")
s.s2c(b"RETRANS SPLIT", seq=5012)
s.s2c(b"SERVER done")

# 8. a normal handshake for contrast
s = Session(41008)
s.c2s(flags="S", seq=1000)
s.s2c(flags="SA", seq=5000, ack=1001)
s.c2s(flags="A")
s.c2s(b"normal SPLIT")
s.c2s(b"CLIENT done")
s.s2c(flags="A")
s.s2c(b"reply SPLIT")
s.s2c(b"SERVER done")
s.c2s(flags="A")

write(sys.argv[1])
