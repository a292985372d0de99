#!/usr/bin/env python3
"""Traffic made from rules, for the differential test: for every tcp/udp rule (and the
http/tls/ssh/dns ones, as TCP or UDP) with positive contents, sessions that carry its
contents concatenated in order (an offset or a positive distance as that many 'A's before
the content) in the rule's direction, between addresses on the rule's sides of HOME_NET
(192.168.0.0/16 home, 203.0.0.0/16 outside), to one of the rule's ports.

TCP rules get two sessions: the payload in one segment, and cut in two segments (a content
may then straddle the cut, so only the stream sees it whole). Each session has a handshake,
its data and acknowledgements, and a FIN exchange; to-client rules are answered after a
request. UDP rules get one datagram (after a query for to-client rules).

With --mixed: 0 to 8 random bytes between contents (relative distances and withins now
matter), every frame behind VLAN 42, and the split payload's second segment sent before the
first (the stream reorders them).

Many rules cannot match such traffic (pcre, byte tests, flowbits, negated contents, isdataat
...): the point is that ravn and Suricata agree on which do, over thousands of real rules.

Usage: gen_rule_traffic.py [--mixed] RULES OUT.pcap   (needs scapy)"""
import random
import re
import sys
from scapy.all import IP, TCP, UDP, Dot1Q, Ether, PcapWriter, Raw

VARS = {'$HTTP_PORTS': 80, '$SSH_PORTS': 22, '$ORACLE_PORTS': 1521, '$FTP_PORTS': 21,
        '$FILE_DATA_PORTS': 80, '$DNP3_PORTS': 20000, '$MODBUS_PORTS': 502, '$SIP_PORTS': 5060,
        '$GTP_PORTS': 2123}
HEADER = re.compile(r'^(alert|drop|pass|reject)\s+(\S+)\s+(\S+)\s+(\S+)\s+(->|<>)\s+(\S+)\s+(\S+)'
                    r'\s+\((.*)\)\s*$')
OPTION = re.compile(r'\s*([a-z_.0-9]+)\s*(?::\s*((?:[^;\\]|\\.)*))?;')
PROTO = {'tcp': 'tcp', 'http': 'tcp', 'tls': 'tcp', 'ssh': 'tcp', 'udp': 'udp', 'dns': 'udp'}


def port_of(spec):
    """A port the spec admits, or None (any, negations, variables without a value here)."""
    spec = spec.strip()
    if spec == 'any' or spec.startswith('!'):
        return None
    if spec.startswith('$'):
        return VARS.get(spec)
    if spec.startswith('['):
        for part in spec[1:-1].split(','):
            p = port_of(part)
            if p:
                return p
        return None
    if ':' in spec:
        lo = spec.split(':')[0]
        return int(lo) if lo else 1
    try:
        return int(spec)
    except ValueError:
        return None


def decode_content(s):
    out, i = b'', 0
    while i < len(s):
        if s[i] == '|':
            j = s.index('|', i + 1)
            out += bytes.fromhex(s[i + 1:j].replace(' ', ''))
            i = j + 1
        elif s[i] == '\\' and i + 1 < len(s):
            out += s[i + 1].encode('latin1')
            i += 2
        else:
            out += s[i].encode('latin1')
            i += 1
    return out


def sessions_of(path, rng, filler):
    out = []
    for line in open(path, encoding='latin1'):
        m = HEADER.match(line.strip())
        if not m or m.group(2) not in PROTO:
            continue
        _, proto, src, sp, _, _, dp, body = m.groups()
        payload, to_client = b'', False
        for k, v in OPTION.findall(body):
            v = v.strip()
            if k == 'flow' and ('to_client' in v or 'from_server' in v):
                to_client = True
            elif k == 'content' and not v.startswith('!'):
                if payload and filler:
                    payload += bytes(rng.choice(b'xyz019 ') for _ in range(rng.randint(0, 8)))
                payload += decode_content(v.strip('"'))
            elif k in ('offset', 'distance') and v.isdigit() and 0 < int(v) < 200:
                payload += b'A' * int(v)
        if not payload:
            continue
        spn, dpn = port_of(sp), port_of(dp)
        if to_client:
            server_port, client_port = spn or 80, dpn or rng.randint(32768, 60999)
        else:
            server_port, client_port = dpn or 80, spn or rng.randint(32768, 60999)
        home_sends = src.startswith('$HOME_NET') or src == 'any'
        out.append((PROTO[proto], to_client, home_sends, client_port, server_port, payload))
    return out


def main():
    args = sys.argv[1:]
    mixed = '--mixed' in args
    rules, out = [a for a in args if a != '--mixed']
    rng = random.Random(7)
    w = PcapWriter(out, linktype=1, sync=False)
    clock = [1700000000.0]
    eth = Ether(src='00:01:02:03:04:05', dst='00:06:07:08:09:0a')

    def emit(p):
        clock[0] += 0.001
        p = (eth / Dot1Q(vlan=42) / p) if mixed else (eth / p)
        p.time = clock[0]
        w.write(p)

    n = 0
    for proto, to_client, home_sends, cport, sport, payload in sessions_of(rules, rng, mixed):
        for split in ([False, True] if proto == 'tcp' else [False]):
            n += 1
            home = '192.168.%d.%d' % ((n >> 8) & 255, (n & 255) or 1)
            away = '203.0.%d.%d' % ((n >> 8) & 255, (n & 255) or 1)
            # the payload's sender is on the rule's source side
            sender, other = (home, away) if home_sends else (away, home)
            client, server = (other, sender) if to_client else (sender, other)
            if proto == 'udp':
                if to_client:
                    emit(IP(src=client, dst=server) / UDP(sport=cport, dport=sport) / Raw(b'q'))
                    emit(IP(src=server, dst=client) / UDP(sport=sport, dport=cport) / Raw(payload))
                else:
                    emit(IP(src=client, dst=server) / UDP(sport=cport, dport=sport) / Raw(payload))
                continue
            c2s = dict(src=client, dst=server)
            s2c = dict(src=server, dst=client)
            cs, ss = 1001, 5001
            emit(IP(**c2s) / TCP(sport=cport, dport=sport, flags='S', seq=cs - 1))
            emit(IP(**s2c) / TCP(sport=sport, dport=cport, flags='SA', seq=ss - 1, ack=cs))
            emit(IP(**c2s) / TCP(sport=cport, dport=sport, flags='A', seq=cs, ack=ss))
            if to_client:
                req = b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
                emit(IP(**c2s) / TCP(sport=cport, dport=sport, flags='PA', seq=cs, ack=ss) / Raw(req))
                cs += len(req)
            half = len(payload) // 2
            if split and half and mixed:
                # the second segment first, then the first; one acknowledgement of both
                snd, rcv, seq, ack = (s2c, c2s, ss, cs) if to_client else (c2s, s2c, cs, ss)
                sp_, dp_ = (sport, cport) if to_client else (cport, sport)
                emit(IP(**snd) / TCP(sport=sp_, dport=dp_, flags='PA', seq=seq + half, ack=ack)
                     / Raw(payload[half:]))
                emit(IP(**snd) / TCP(sport=sp_, dport=dp_, flags='PA', seq=seq, ack=ack)
                     / Raw(payload[:half]))
                emit(IP(**rcv) / TCP(sport=dp_, dport=sp_, flags='A', seq=ack, ack=seq + len(payload)))
                if to_client:
                    ss += len(payload)
                else:
                    cs += len(payload)
                parts = []
            else:
                parts = [payload[:half], payload[half:]] if split and half else [payload]
            for part in parts:
                if to_client:
                    emit(IP(**s2c) / TCP(sport=sport, dport=cport, flags='PA', seq=ss, ack=cs) / Raw(part))
                    ss += len(part)
                    emit(IP(**c2s) / TCP(sport=cport, dport=sport, flags='A', seq=cs, ack=ss))
                else:
                    emit(IP(**c2s) / TCP(sport=cport, dport=sport, flags='PA', seq=cs, ack=ss) / Raw(part))
                    cs += len(part)
                    emit(IP(**s2c) / TCP(sport=sport, dport=cport, flags='A', seq=ss, ack=cs))
            emit(IP(**c2s) / TCP(sport=cport, dport=sport, flags='FA', seq=cs, ack=ss))
            emit(IP(**s2c) / TCP(sport=sport, dport=cport, flags='FA', seq=ss, ack=cs + 1))
            emit(IP(**c2s) / TCP(sport=cport, dport=sport, flags='A', seq=cs + 1, ack=ss + 1))
    w.close()
    print('%d sessions' % n)


main()
