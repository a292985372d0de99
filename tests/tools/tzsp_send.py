#!/usr/bin/env python3
"""Send frames as MikroTik TZSP datagrams (built with scapy.contrib.tzsp) to a listener.

Usage:
  tzsp_send.py frames PCAP HOST PORT [--src IP] [--encap N] [--gap-us N] [--loops N]
      every frame of PCAP as one TZSP datagram (Ethernet encapsulation unless --encap;
      with --encap 7 the Ethernet header is stripped: raw IP)
  tzsp_send.py bad HOST PORT [--src IP]
      one datagram of each malformed kind: garbage, truncated header, truncated tag, no END
      tag, unknown encapsulation, unsupported type, oversize frame (3000 bytes), too big
      for a slot (8000 bytes)
Prints how many datagrams it sent."""
import argparse, socket, struct, time
from scapy.contrib.tzsp import TZSP, TZSPTagEnd
from scapy.all import Raw


def tzsp(frame, encap=1, typ=0):
    return bytes(TZSP(type=typ, encapsulated_protocol=encap) / TZSPTagEnd() / Raw(load=frame))


def pcap_frames(path):
    data = open(path, "rb").read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("args", nargs="+")
    ap.add_argument("--src", default="")
    ap.add_argument("--encap", type=int, default=1)
    ap.add_argument("--gap-us", type=int, default=500)
    ap.add_argument("--loops", type=int, default=1)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if a.src:
        s.bind((a.src, 0))
    n = 0
    if a.mode == "frames":
        pcap, host, port = a.args[0], a.args[1], int(a.args[2])
        frames = list(pcap_frames(pcap))
        for _ in range(a.loops):
            for f in frames:
                if a.encap == 7:
                    f = f[14:]
                s.sendto(tzsp(f, a.encap), (host, port))
                n += 1
                if a.gap_us:
                    time.sleep(a.gap_us / 1e6)
    elif a.mode == "bad":
        host, port = a.args[0], int(a.args[1])
        eth = b"\x02" * 12 + b"\x08\x00" + b"\x45" + b"\x00" * 40
        bad = [
            b"GET / HTTP/1.0\r\n\r\n",          # garbage (not TZSP v1)
            b"\x01\x00",                        # truncated header
            b"\x01\x00\x00\x01\x0a",            # tag type without its length
            b"\x01\x00\x00\x01\x00\x00",        # padding, no END tag
            tzsp(eth, encap=18),                # 802.11: unknown encapsulation here
            tzsp(b"", encap=1, typ=5),          # a config message: unsupported type
            tzsp(eth + b"\x00" * 3000),         # frame larger than pipeline.frame-size
            tzsp(eth + b"\x00" * 8000),         # datagram larger than a pool slot
        ]
        for d in bad:
            s.sendto(d, (host, port))
            n += 1
            time.sleep(0.002)
    print(n)


main()
