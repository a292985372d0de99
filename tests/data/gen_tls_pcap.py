"""TLS sessions for the differential test's `tls` case: once a TLS application-data record
has been parsed, Suricata (`app-layer.protocols.tls.encryption-handling: default`) stops
inspecting the flow's payloads and raw stream, so `content` rules no longer see the
encrypted bytes (here: EVILPATTERN carried in handshake records and in application data,
before and after that point, split across segments, and on a port other than 443).

Usage: gen_tls_pcap.py OUT.pcap"""
import struct
import sys

from capture import Session, write


def record(ctype, body):
    return struct.pack("!BHH", ctype, 0x0303, len(body)) + body


def handshake(msg_type, body):
    return record(22, struct.pack("!B", msg_type) + struct.pack("!I", len(body))[1:] + body)


def client_hello(sni=b"www.example.com", early_data=False):
    ext = b""
    name = struct.pack("!BH", 0, len(sni)) + sni
    ext += struct.pack("!HH", 0, len(name) + 2) + struct.pack("!H", len(name)) + name
    if early_data:
        ext += struct.pack("!HH", 42, 0)
    body = struct.pack("!H", 0x0303) + bytes(32) + b"\x00" + struct.pack("!H", 2) + b"\x13\x01"
    body += b"\x01\x00" + struct.pack("!H", len(ext)) + ext
    return handshake(1, body)


def server_hello():
    body = struct.pack("!H", 0x0303) + bytes(32) + b"\x00" + b"\x13\x01" + b"\x00" + b"\x00\x00"
    return handshake(2, body)


CCS = record(20, b"\x01")
EVIL = b"..EVILPATTERN.."


def appdata(payload=EVIL):
    return record(23, payload)


# 1: a full session: the pattern in the ClientHello's SNI, in the server's first flight
# (ServerHello, CCS, application data), and in application data both ways afterwards
s = Session(42001, 443)
s.c2s(client_hello(b"EVILPATTERN.example.com"))
s.s2c(server_hello() + CCS + appdata())
s.c2s(CCS + appdata())
s.s2c(appdata())
s.c2s(appdata())
s.close()

# 2: the same on port 8443 (TLS is recognised by its first bytes, not its port)
s = Session(42002, 8443)
s.c2s(client_hello())
s.s2c(server_hello() + CCS)
# not a record Suricata knows (type 0x30): its parser stops, inspection goes on
s.c2s(CCS + b"0 EVILPATTERN in no record")
s.s2c(appdata())
s.c2s(appdata())
s.close()

# 3: the handshake only, no application data ever: everything stays inspected
s = Session(42003, 443)
s.c2s(client_hello())
s.s2c(server_hello() + handshake(11, EVIL))
s.c2s(handshake(16, EVIL))
s.s2c(handshake(4, EVIL))
s.c2s(CCS)
s.close()

# 4: an application-data record whose header is split across two segments, the pattern
# right behind it
s = Session(42004, 443)
s.c2s(client_hello())
s.s2c(server_hello() + CCS)
rec = appdata(b"EVILPATTERN" + bytes(40))
s.c2s(rec[:3])
s.c2s(rec[3:])
s.s2c(appdata())
s.c2s(appdata())
s.close()

# 5: 0-RTT: a ClientHello with early_data, the client's application data before the
# ServerHello, then the server's
s = Session(42005, 443)
s.c2s(client_hello(early_data=True) + appdata())
s.s2c(server_hello() + CCS)
s.c2s(appdata())
s.s2c(appdata())
s.c2s(appdata())
s.close()

# 6: not TLS: the same bytes to a server that answers in plain text
s = Session(42006, 8080)
s.c2s(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
s.s2c(b"HTTP/1.1 200 OK\r\n\r\n" + EVIL)
s.c2s(appdata())
s.s2c(EVIL)
s.close()

write(sys.argv[1])
