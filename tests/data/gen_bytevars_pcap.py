#!/usr/bin/env python3
"""Payloads for the differential test's byte-variable case (tests/data/bytevars.rules holds
the rules): for each rule, UDP datagrams whose extracted value puts the next match just
inside, exactly at and just past its limit, values of 0 and 255, and a TCP session with
the SMB-shaped rule in its stream.

Usage: gen_bytevars_pcap.py OUT.pcap   (needs scapy)"""
import sys
from scapy.all import IP, TCP, UDP, Raw

from capture import add, write

A, B = "10.0.0.1", "10.0.0.2"
port = [20000]


def udp(payload):
    port[0] += 1
    add(IP(src=A, dst=B) / UDP(sport=port[0], dport=7000) / Raw(payload))


for v in [0, 1, 2, 3, 4, 5, 6, 255]:
    b = bytes([v])
    for gap in range(0, 8):
        # sid 1: the second "/" starts 1..v bytes after the first
        udp(b"WV" + b + b"/" + b"a" * gap + b"/")
        # sid 10: "b" within v of the "a" (an earlier "a" too far, a later one close)
        udp(b"RW" + b + b"a" + b"." * gap + b"a" + b"b")
    # sid 3: "xy" at [o, 2o); sid 4: "q" from o; sid 5: "q" before d
    for at in range(0, 9):
        udp(b"OD" + b + b"." * max(0, at - 3) + b"xy" + b"...")
        udp(b"OV" + b + b"." * max(0, at - 3) + b"q")
        udp(b"PV" + b + b"." * max(0, at - 3) + b"q")
    # sid 6, 7, 8: v bytes after the extracted byte, or fewer
    for have in range(0, 8):
        udp(b"ID" + b + b"d" * have)
        udp(b"IN" + b + b"d" * have)
        udp(b"IA" + b + b"d" * have)
    # sid 9: "Z" within v + 2 bytes of the buffer start
    for at in range(3, 10):
        udp(b"BM" + b + b"." * (at - 3) + b"Z")
for d in [b"0", b"1", b"3", b"9", b"x"]:
    for gap in range(0, 5):
        # sid 2: "X" right after `skip` bytes (an ASCII digit)
        udp(b"DV" + d + b"." * gap + b"X")

# sid 11: a TCP session carrying the SMB-shaped payload, whole and cut in two
for n, (v, gap) in enumerate([(4, 3), (4, 4), (2, 3), (8, 0)]):
    sp = 40000 + n
    payload = b"\x00\x00\x00\x30\xffSMB\xa2" + bytes([v]) + b"/" + b"p" * gap + b"/x"
    seq_c, seq_s = 1000, 5000
    add(IP(src=A, dst=B) / TCP(sport=sp, dport=445, flags="S", seq=seq_c))
    add(IP(src=B, dst=A) / TCP(sport=445, dport=sp, flags="SA", seq=seq_s, ack=seq_c + 1))
    add(IP(src=A, dst=B) / TCP(sport=sp, dport=445, flags="A", seq=seq_c + 1, ack=seq_s + 1))
    cut = len(payload) // 2 if n % 2 else len(payload)
    s = seq_c + 1
    for part in [payload[:cut], payload[cut:]]:
        if not part:
            continue
        add(IP(src=A, dst=B) / TCP(sport=sp, dport=445, flags="PA", seq=s, ack=seq_s + 1) /
            Raw(part))
        s += len(part)
        add(IP(src=B, dst=A) / TCP(sport=445, dport=sp, flags="A", seq=seq_s + 1, ack=s))
    add(IP(src=A, dst=B) / TCP(sport=sp, dport=445, flags="FA", seq=s, ack=seq_s + 1))
    add(IP(src=B, dst=A) / TCP(sport=445, dport=sp, flags="FA", seq=seq_s + 1, ack=s + 1))
    add(IP(src=A, dst=B) / TCP(sport=sp, dport=445, flags="A", seq=s + 1, ack=seq_s + 2))

write(sys.argv[1])
