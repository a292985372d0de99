#!/usr/bin/env python3
"""TCP sessions that exercise raw stream reassembly and stream inspection, for the
differential test (tests/data/stream.rules holds the rules): content split across
segments, a stream past the chunk size with ACKs in steps, out-of-order and overlapping
segments with different data, data never acknowledged (seen at the end of the flow), an
acknowledged gap, HTTP requests and responses (Content-Length, chunked) whose completion
triggers raw inspection, an IPv6 session, packets without a handshake (no stream), and
RSTs at the sender's next sequence number (which end the session) and elsewhere (which a
receiver discards, so they end nothing) in each state of the session. The RSTs carry no
ACK, or the acknowledgement already seen, so their acknowledgement number is valid.

Usage: gen_stream_pcap.py OUT.pcap   (needs scapy)"""
import sys
from scapy.all import IP, TCP

from capture import Session, add, write


# content split across segments; the client closes
s = Session(40001)
s.c2s(b"AAAA EVIL")
s.c2s(b"PATTERN BBB")
s.s2c(flags="A")
s.s2c(b"SERVERDATA hello")
s.c2s(flags="A")
s.close()

# past the chunk size, acknowledged 1000 bytes at a time; left open at the end
s = Session(40002)
data = bytearray(b"x" * 6000)
data[3000:3006] = b"MARKER"
data[5990:5996] = b"MARKER"
for off in range(0, len(data), 1000):
    s.c2s(bytes(data[off:off + 1000]))
    s.s2c(flags="A")
s.c2s(flags="A")

# out of order, then a retransmission with other bytes; server data never acknowledged
s = Session(40003)
s.c2s(b"XXmiddle", seq=1009)
s.c2s(b"XXORIGXX", seq=1001)
s.c2s(b"XXNEWWXX", seq=1001)
s.c2s(b"tail", seq=1017)
s.s2c(flags="A")
s.c2s(flags="A")
s.s2c(b"SERVERDATA never acked")

# a gap the server acknowledges
s = Session(40004)
s.c2s(b"before gap ")
s.c2s(b"AFTERGAP data", seq=1101)
s.s2c(flags="A", ack=1114)
s.cseq = 1114
s.close()

# HTTP: a request with a body in two segments, a Content-Length response, a chunked one
s = Session(40005, sport=80)
s.c2s(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n")
s.s2c(flags="A")
s.c2s(b"BODYSECRET0123456789")
s.s2c(flags="A")
s.c2s(flags="A")
s.s2c(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nSERVERDATA")
s.c2s(flags="A")
s.c2s(b"GET /2 HTTP/1.1\r\nX: EVILPATTERN\r\n\r\n")
s.s2c(flags="A")
s.s2c(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nSERVE\r\n5\r\nRDATA\r\n0\r\n\r\n")
s.c2s(flags="A")
s.c2s(flags="A")
s.s2c(flags="A")

# IPv6, split content, the server closes first
s = Session(40007, v6=True)
s.c2s(b"EVILPAT")
s.c2s(b"TERN")
s.s2c(flags="A")
s.s2c(flags="FA")
s.c2s(flags="FA")
s.s2c(flags="A")

# no handshake (midstream pickup is off): packets only
s = Session(40006, handshake=False)
s.c2s(b"EVIL")
s.c2s(b"PATTERN")



def rst_then_data(s, tag):
    """Split content both ways after a RST, then the close."""
    s.c2s(b"AAAA EVIL" + tag)
    s.c2s(b"PATTERN BBB")
    s.s2c(flags="A")
    s.s2c(b"SERVERDATA " + tag)
    s.c2s(flags="A")
    s.close()


# established: a blind RST from the client, far from its next sequence number
s = Session(40011)
s.c2s(b"hello ")
s.s2c(flags="A")
s.c2s(flags="R", seq=s.cseq + 5000)
rst_then_data(s, b"1")
# established: a RST from the server one past its next sequence number
s = Session(40012)
s.c2s(b"hello ")
s.s2c(flags="A")
s.s2c(flags="R", seq=s.sseq + 1)
rst_then_data(s, b"2")
# established: the client's RST at its next sequence number ends the session
s = Session(40013)
s.c2s(b"hello ")
s.s2c(flags="A")
s.c2s(flags="R")
rst_then_data(s, b"3")
# a RST/ACK carrying data, acknowledging what the client acknowledged before
s = Session(40014)
s.c2s(b"hello ")
s.s2c(flags="A")
s.c2s(b"EVILPATTERN in a RST", flags="RA")
s.s2c(flags="A")
# SYN_RECV: a RST from the client with a wrong sequence number, then the handshake's ACK
s = Session(40015, handshake=False)
add(IP(src=s.c, dst=s.s) / TCP(sport=40015, dport=9999, flags="S", seq=1000))
add(IP(src=s.s, dst=s.c) / TCP(sport=9999, dport=40015, flags="SA", seq=5000, ack=1001))
s.c2s(flags="R", seq=7777)
s.c2s(flags="A")
rst_then_data(s, b"5")
# SYN_SENT: a RST from the server at a sequence number it never reached, then its SYN/ACK
s = Session(40016, handshake=False)
add(IP(src=s.c, dst=s.s) / TCP(sport=40016, dport=9999, flags="S", seq=1000))
add(IP(src=s.s, dst=s.c) / TCP(sport=9999, dport=40016, flags="R", seq=1234))
add(IP(src=s.s, dst=s.c) / TCP(sport=9999, dport=40016, flags="SA", seq=5000, ack=1001))
s.c2s(flags="A")
rst_then_data(s, b"6")
# SYN_SENT: the server refuses the connection (RST/ACK at sequence number 0)
add(IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40017, dport=9999, flags="S", seq=1000))
add(IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=9999, dport=40017, flags="RA", seq=0, ack=1001))
# FIN_WAIT: after the client's FIN, a RST from the server with a wrong sequence number
s = Session(40018)
s.c2s(b"hello ")
s.s2c(flags="A")
s.c2s(flags="FA")
s.s2c(flags="R", seq=s.sseq + 99)
s.s2c(b"SERVERDATA late")
s.c2s(flags="A")
s.s2c(flags="FA")
s.c2s(flags="A")

write(sys.argv[1])
