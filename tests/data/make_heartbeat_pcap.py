#!/usr/bin/env python3
"""Builds tests/data/heartbeat.pcap: the sensor's aliveness ping and its reply, a DNS
lookup and a short TCP session, all on a home network. Used by the README's run command.
Run: python3 tests/data/make_heartbeat_pcap.py tests/data/heartbeat.pcap"""
import sys
from scapy.all import Ether, IP, ICMP, UDP, TCP, DNS, DNSQR, Raw, wrpcap

t0 = 1700000000.0
pkts = []
def add(p, dt):
    p.time = t0 + dt
    pkts.append(p)

e = Ether(src="02:00:00:00:00:10", dst="02:00:00:00:00:01")
r = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:10")
add(e / IP(src="192.168.1.10", dst="8.8.8.8") / ICMP(type=8, id=0x1234, seq=1) / Raw(b"heartbeat_ping"), 0.0)
add(r / IP(src="8.8.8.8", dst="192.168.1.10") / ICMP(type=0, id=0x1234, seq=1) / Raw(b"heartbeat_ping"), 0.01)
add(e / IP(src="192.168.1.10", dst="8.8.8.8") / UDP(sport=53000, dport=53) / DNS(id=0xbeef, rd=1, qd=DNSQR(qname="example.com")), 0.1)
add(e / IP(src="192.168.1.10", dst="93.184.216.34") / TCP(sport=40000, dport=80, flags="S", seq=1000), 0.2)
add(r / IP(src="93.184.216.34", dst="192.168.1.10") / TCP(sport=80, dport=40000, flags="SA", seq=5000, ack=1001), 0.23)
add(e / IP(src="192.168.1.10", dst="93.184.216.34") / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=5001), 0.231)
add(e / IP(src="192.168.1.10", dst="8.8.8.8") / ICMP(type=8, id=0x1234, seq=2) / Raw(b"heartbeat_ping"), 60.0)
add(r / IP(src="8.8.8.8", dst="192.168.1.10") / ICMP(type=0, id=0x1234, seq=2) / Raw(b"heartbeat_ping"), 60.01)
wrpcap(sys.argv[1], pkts)
