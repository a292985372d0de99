#!/usr/bin/env python3
"""Wrap every frame of a pcap into a TZSP datagram (Ethernet encapsulation) addressed to a
listener, written as a new pcap for tcpreplay: Ethernet(dst_mac) / IPv4(src, dst) / UDP(->
37008) / TZSP / END tag / frame. Headers are packed by hand (fast on a million frames).
Usage: tzsp_wrap.py IN.pcap OUT.pcap SRC_IP DST_IP DST_MAC [LIMIT]"""
import socket, struct, sys


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    inp, outp, src, dst, mac = sys.argv[1:6]
    limit = int(sys.argv[6]) if len(sys.argv) > 6 else None
    data = open(inp, "rb").read()
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out = open(outp, "wb")
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    dmac = bytes.fromhex(mac.replace(":", ""))
    smac = b"\x02\x00\x00\x00\x00\x02"
    s_ip, d_ip = socket.inet_aton(src), socket.inet_aton(dst)
    off, n = 24, 0
    while off + 16 <= len(data) and (limit is None or n < limit):
        sec, usec, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        payload = b"\x01\x00\x00\x01\x01" + frame
        udp = struct.pack("!HHHH", 40000, 37008, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0, s_ip, d_ip)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        pkt = dmac + smac + b"\x08\x00" + ip + udp
        out.write(struct.pack("<IIII", sec, usec, len(pkt), len(pkt)) + pkt)
        n += 1
    print(n)


main()
