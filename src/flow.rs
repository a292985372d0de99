//! The flow table: packets grouped into bidirectional flows by 5-tuple (and VLAN ids).
//!
//! Memory is fixed at construction: `max_flows` slots are reserved (one allocation, pages
//! touched only as slots are first used, so a quiet sensor stays small) and the index never
//! grows past them. When the table is full, the least recently seen flow is evicted and
//! counted. A flow whose last packet is older than its protocol's timeout is replaced by a
//! new one. The first packet of a flow defines its "client" (Suricata's to_server side).
//!
//! Detection keeps per-flow state here (IP-only rules are inspected once per direction;
//! a matched pass rule can pass the whole flow). A TCP flow's session and reassembled
//! streams (`crate::stream`) hang off `Flow`; the table owns their memory pool. A flow
//! that times out or is evicted with stream data not yet inspected is kept aside
//! (`retired`) until the caller has run its end-of-flow inspection.

use std::net::IpAddr;

use crate::capture::Timestamp;
use crate::decode::{Packet, L4};
use crate::exception_policy::Policy;
use crate::stream::{Pickup, StreamEngine, StreamSettings, TcpSession};

/// Flow timeouts in seconds (Suricata's `flow-timeouts` defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Timeouts {
    pub tcp_new: u32,
    pub tcp_established: u32,
    pub tcp_closed: u32,
    pub udp_new: u32,
    pub udp_established: u32,
    pub icmp_new: u32,
    pub icmp_established: u32,
    pub default_new: u32,
    pub default_established: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp_new: 60,
            tcp_established: 600,
            tcp_closed: 60,
            udp_new: 30,
            udp_established: 300,
            icmp_new: 30,
            icmp_established: 300,
            default_new: 30,
            default_established: 300,
        }
    }
}

impl Timeouts {
    /// The timeout of `f` in its state.
    fn of(&self, f: &Flow) -> u32 {
        let t = self;
        match (f.proto, f.state) {
            (6, FlowState::New) => t.tcp_new,
            (6, FlowState::Established) => t.tcp_established,
            (6, FlowState::Closed) => t.tcp_closed,
            (17, FlowState::New) => t.udp_new,
            (17, _) => t.udp_established,
            (1 | 58, FlowState::New) => t.icmp_new,
            (1 | 58, _) => t.icmp_established,
            (_, FlowState::New) => t.default_new,
            _ => t.default_established,
        }
    }
}

/// A normalised flow key: the lower endpoint first, so both directions hash alike. As in
/// Suricata's flow hash, the tunnel depth is part of it: a packet out of a tunnel never
/// shares a flow with a packet at another depth (and packets out of different tunnels at
/// the same depth do share one). Packed into six machine words, compared and hashed as
/// such (the per-packet lookup is on the hot path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// The two addresses, lower endpoint first (IPv4 in the low 32 bits).
    addrs: [u128; 2],
    /// The two ports (lower endpoint's in the low half) and the two VLAN ids.
    ports_vlans: u64,
    /// Protocol, tunnel depth, and 1 << 16 for IPv6.
    proto_depth_family: u64,
}

impl FlowKey {
    /// The key of a packet that belongs to a flow (`Packet::wants_flow`).
    #[inline]
    pub fn of(p: &Packet<'_>) -> Option<FlowKey> {
        if !p.wants_flow {
            return None;
        }
        let ip = p.ip?;
        let (sp, dp) = match p.l4 {
            L4::Tcp(t) => (t.src_port, t.dst_port),
            L4::Udp(u) => (u.src_port, u.dst_port),
            _ => (0, 0),
        };
        Some(Self::from_tuple(p, (ip.src, sp), (ip.dst, dp), ip.proto))
    }

    /// The key of the flow a destination unreachable belongs to: that of the TCP/UDP
    /// packet it quotes (Suricata's FlowGetHash for ICMPV4_DEST_UNREACH_IS_VALID).
    pub fn of_icmp_error(p: &Packet<'_>) -> Option<FlowKey> {
        let L4::Icmp(i) = p.l4 else { return None };
        let e = i.unreach?;
        if !p.wants_flow || p.ip.map(|ip| ip.proto) != Some(1) {
            return None;
        }
        Some(Self::from_tuple(
            p,
            (IpAddr::V4(e.src), e.sport),
            (IpAddr::V4(e.dst), e.dport),
            e.proto,
        ))
    }

    fn from_tuple(p: &Packet<'_>, a: (IpAddr, u16), b: (IpAddr, u16), proto: u8) -> FlowKey {
        let word = |a: IpAddr| match a {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        let a6 = a.0.is_ipv6();
        let a = (word(a.0), a.1);
        let b = (word(b.0), b.1);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let vlan = |i: usize| {
            if (p.vlan_count as usize) > i {
                u64::from(p.vlan[i])
            } else {
                0
            }
        };
        FlowKey {
            addrs: [lo.0, hi.0],
            ports_vlans: u64::from(lo.1) | u64::from(hi.1) << 16 | vlan(0) << 32 | vlan(1) << 48,
            proto_depth_family: u64::from(proto) | u64::from(p.depth) << 8 | u64::from(a6) << 16,
        }
    }

    pub fn proto(&self) -> u8 {
        self.proto_depth_family as u8
    }

    /// The key's hash for the flow index and its hints, under the table's random `seed`
    /// (as Suricata's `hash_rand`: crafted tuples cannot aim at one bucket): three
    /// independent 64×64→128 multiplies folded (wyhash's `mum`), then one more, so that the
    /// latency is two multiplies rather than a chain of six.
    #[inline]
    pub fn hash64(&self, seed: u64) -> u64 {
        fn mum(a: u64, b: u64) -> u64 {
            let r = u128::from(a) * u128::from(b);
            (r as u64) ^ ((r >> 64) as u64)
        }
        const K: [u64; 4] = [
            0xa076_1d64_78bd_642f,
            0xe703_7ed1_a0b4_28db,
            0x8ebc_6af0_9c88_c6e3,
            0x5899_65cc_7537_4cc3,
        ];
        let [a, b] = self.addrs;
        let m1 = mum(a as u64 ^ K[0] ^ seed, b as u64 ^ K[1]);
        let m2 = mum((a >> 64) as u64 ^ K[2], (b >> 64) as u64 ^ K[3]);
        let m3 = mum(
            self.ports_vlans ^ K[1] ^ seed,
            self.proto_depth_family ^ K[0],
        );
        mum(m1 ^ m3 ^ K[2], m2 ^ K[3])
    }

    /// The tunnel depth of the flow's packets.
    pub fn depth(&self) -> u8 {
        (self.proto_depth_family >> 8) as u8
    }

    /// The VLAN ids (0 where absent), outermost first.
    pub fn vlan(&self) -> [u16; 2] {
        [
            (self.ports_vlans >> 32) as u16,
            (self.ports_vlans >> 48) as u16,
        ]
    }
}

/// For `flow_id` (the index hashes with `FlowKey::hash64`).
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        for a in self.addrs {
            h.write_u64(a as u64);
            h.write_u64((a >> 64) as u64);
        }
        h.write_u64(self.ports_vlans);
        h.write_u64(self.proto_depth_family);
    }
}

/// TCP session state, as far as detection needs it (Suricata's `TcpSession::state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TcpState {
    /// No session: the flow did not start with a SYN and midstream pickup is off.
    None,
    SynSent,
    SynRecv,
    Established,
    /// FIN seen: established but closing.
    Closing,
    Closed,
}

/// Per-direction TCP sequence tracking (for `stream_size`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpSide {
    pub isn: u32,
    pub next_seq: u32,
    pub isn_set: bool,
}

impl TcpSide {
    fn update(&mut self, seq: u32, len: u32, syn_or_fin: bool) {
        let end = seq.wrapping_add(len).wrapping_add(u32::from(syn_or_fin));
        if !self.isn_set {
            self.isn = seq;
            self.isn_set = true;
            self.next_seq = end;
        } else if (end.wrapping_sub(self.next_seq) as i32) > 0 {
            self.next_seq = end;
        }
    }
    /// Bytes of sequence space seen (Suricata's `next_seq - isn`).
    pub fn size(&self) -> u32 {
        self.next_seq.wrapping_sub(self.isn)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowState {
    New,
    Established,
    Closed,
}

/// Which way a packet travels in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }
}

/// An application-layer protocol as a flow knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppProto {
    /// Not looked for yet.
    #[default]
    Unknown,
    /// Looked for and not found (EVE's "failed").
    Failed,
    Known(&'static str),
}

impl AppProto {
    /// The name EVE prints, if any.
    pub fn name(self) -> Option<&'static str> {
        match self {
            AppProto::Unknown => None,
            AppProto::Failed => Some("failed"),
            AppProto::Known(n) => Some(n),
        }
    }
}

#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct Flow {
    // What every packet of the flow reads or writes comes first, in the first three cache
    // lines of the (line-aligned) slot: the lookup's key, then the per-packet state.
    pub key: FlowKey,
    pub last: Timestamp,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub client: (IpAddr, u16),
    lru: u32,
    /// The TCP session as the stream engine tracks it (reassembly): an index into the
    /// table's session store, `NO_SESSION` until the stream engine first sees a packet
    /// of the flow (never for other protocols, or with the stream off). Kept out of the
    /// slot so that a flow without one keeps a small slot.
    ssn: u32,
    pub tcp: TcpState,
    pub state: FlowState,
    /// The directions a FIN was seen in (1: to server, 2: to client): both, and the flow
    /// times out as closed (Suricata's LAST_ACK and TIME_WAIT make the flow CLOSED).
    pub fins: u8,
    /// A pass rule matched for the whole flow: no more inspection.
    pub pass: bool,
    pub tcp_client: TcpSide,
    pub tcp_server: TcpSide,
    /// A packet was seen in each direction (ICMP errors do not count).
    seen_toserver: bool,
    seen_toclient: bool,
    /// IP-only rules were already inspected in this direction.
    pub iponly_toserver: bool,
    pub iponly_toclient: bool,
    pub alerted: bool,
    pub proto: u8,
    /// The flow's application protocol (Suricata's `alproto`), and what detection found in
    /// each direction (`alproto_ts`, `alproto_tc`). UDP only today (`applayer`).
    pub app: AppProto,
    // Read when the flow starts and ends, or by some rules.
    pub app_ts: AppProto,
    pub app_tc: AppProto,
    pub id: u64,
    pub start: Timestamp,
    pub server: (IpAddr, u16),
    /// Flowbits (indexes assigned by the detection engine).
    pub bits: FlowBits,
}

impl Flow {
    /// Counts a packet of `len` bytes in direction `dir`; `seen` marks the direction as
    /// seen (not for ICMP errors: Suricata's FlowUpdateSeenFlag).
    fn account(&mut self, dir: Direction, len: u32, seen: bool) {
        match dir {
            Direction::ToServer => {
                self.pkts_toserver += 1;
                self.bytes_toserver += u64::from(len);
                self.seen_toserver |= seen;
            }
            Direction::ToClient => {
                self.pkts_toclient += 1;
                self.bytes_toclient += u64::from(len);
                self.seen_toclient |= seen;
            }
        }
    }

    /// Swap client and server with everything kept per direction (Suricata's FlowSwap,
    /// for a session picked up at its SYN/ACK).
    fn turn_around(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        std::mem::swap(&mut self.pkts_toserver, &mut self.pkts_toclient);
        std::mem::swap(&mut self.bytes_toserver, &mut self.bytes_toclient);
        std::mem::swap(&mut self.iponly_toserver, &mut self.iponly_toclient);
        std::mem::swap(&mut self.app_ts, &mut self.app_tc);
        std::mem::swap(&mut self.tcp_client, &mut self.tcp_server);
        std::mem::swap(&mut self.seen_toserver, &mut self.seen_toclient);
    }

    /// EVE's `app_proto`, `app_proto_ts` and `app_proto_tc` (the per-direction ones only
    /// where they differ from the flow's), as Suricata's EveAddAppProto prints them.
    pub fn app_names(&self) -> [Option<&'static str>; 3] {
        let differs = |d: AppProto| d.name().filter(|_| d != self.app);
        [self.app.name(), differs(self.app_ts), differs(self.app_tc)]
    }
}

/// A small fixed bitset for flowbits: 512 distinct names per ruleset (ET Open uses ~370).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowBits(pub [u64; 8]);

impl FlowBits {
    pub const CAPACITY: usize = 512;
    pub fn get(&self, i: u16) -> bool {
        let i = i as usize;
        i < Self::CAPACITY && self.0[i / 64] & (1 << (i % 64)) != 0
    }
    pub fn set(&mut self, i: u16, v: bool) {
        let i = i as usize;
        if i >= Self::CAPACITY {
            return;
        }
        if v {
            self.0[i / 64] |= 1 << (i % 64);
        } else {
            self.0[i / 64] &= !(1 << (i % 64));
        }
    }
}

/// Flow-table counters (Suricata's `flow.*` stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub total: u64,
    pub tcp: u64,
    pub udp: u64,
    pub icmpv4: u64,
    pub icmpv6: u64,
    pub timeouts: u64,
    pub evicted: u64,
    /// TCP packets whose checksum was checked and wrong (Suricata's `tcp.invalid_checksum`).
    pub invalid_checksum: u64,
}

/// What `FlowTable::update` tells the caller about a packet.
#[derive(Debug, Clone, Copy)]
pub struct FlowRef {
    pub slot: u32,
    pub dir: Direction,
    /// Suricata's FLOW_PKT_ESTABLISHED for this packet (`flow:established`).
    pub established: bool,
    /// The flow's TCP session is tracked (SYN seen, or midstream pickup).
    pub stream: bool,
    /// An exception policy says this packet is not inspected (it is passed or dropped).
    pub no_inspect: bool,
    /// The packet's payload went into the flow's TCP stream (Suricata's PKT_STREAM_ADD).
    pub stream_add: bool,
    /// The packet's payload is not inspected (Suricata's PKT_NOPAYLOAD_INSPECTION from
    /// the flow: `TcpSession::no_payload`).
    pub no_payload: bool,
}

/// A flow without a TCP session.
const NO_SESSION: u32 = u32::MAX;

/// A live flow's parts for stream work: the flow, its TCP session (None when it has none:
/// not TCP, or the stream is off), the stream engine.
pub type FlowParts<'a> = (
    &'a mut Flow,
    Option<&'a mut TcpSession>,
    &'a mut StreamEngine,
);

pub struct FlowTable {
    /// Grows by push up to `max_flows` within its reserved capacity (never reallocates);
    /// then freed slots are reused and a full table evicts.
    slots: Vec<Option<Flow>>,
    max_flows: usize,
    /// Slot numbers, hashed by the key in the slot.
    index: hashbrown::HashTable<u32>,
    /// A direct-mapped cache in front of `index`: by the key's hash, the slot a flow with
    /// that hash was last found or created in (`NO_HINT` for none). A hint is only
    /// taken when its slot holds the key (a live slot is always in `index`), so a stale
    /// one costs a probe and nothing else. A hit skips the hash table's two dependent
    /// loads (control byte, then bucket) before the flow's own; the hint's own line often
    /// misses too, as the capture's bytes stream through the caches (heartbeat replay of
    /// mixed-1m: 2% less CPU).
    hints: Box<[u32]>,
    /// `FlowKey::hash64`'s seed, random per table.
    seed: u64,
    free: Vec<u32>,
    timeouts: Timeouts,
    midstream: bool,
    /// `stream.async-oneside`: sessions seen from one side only.
    async_oneside: bool,
    /// `stream.midstream-policy`, resolved, and whether the engine runs as an IPS.
    midstream_policy: Policy,
    ips: bool,
    pub stats: FlowStats,
    next_id: u64,
    /// Eviction hand: the next slot to consider when the table is full.
    hand: usize,
    /// A coarse clock for LRU approximation (packets seen).
    tick: u32,
    /// TCP reassembly: the block pool and settings.
    pub stream: StreamEngine,
    /// Whether TCP payloads go into the stream (off when no loaded signature reads it).
    pub stream_enabled: bool,
    /// A flow removed (timeout, eviction) whose streams still need their end-of-flow
    /// inspection (see `retired`).
    retired: Option<Flow>,
    /// The TCP sessions of the flows (`Flow::ssn`): grows by push within its reserved
    /// capacity (a session per slot, and one for the retired flow); released ones are
    /// reused first.
    sessions: Vec<TcpSession>,
    free_sessions: Vec<u32>,
    /// The timeout sweep (Suricata's flow manager): the next slot it looks at while a
    /// pass is under way, and the packet second the next pass starts at.
    sweep_hand: usize,
    sweeping: bool,
    sweep_next: i64,
    /// Per slot, the packet second its flow may time out from (`expiry`; u32::MAX when
    /// free): the sweep reads this dense array, not the slots.
    expires: Vec<u32>,
}

/// Most entries of `FlowTable::hints` (256 KiB).
const MAX_HINTS: usize = 1 << 16;
/// An empty hint.
const NO_HINT: u32 = u32::MAX;

/// Slots examined per eviction; the least recently used of them goes.
const EVICT_SCAN: usize = 32;

/// A timeout sweep passes over the table once per this many seconds of packet time, so a
/// flow ends at most this late. (Suricata's flow manager paces its passes by the wall
/// clock, which in a replay is no packet time at all; each pass costs little here: it
/// reads one dense word per slot.)
const SWEEP_EVERY_SECS: i64 = 1;

/// Slots a sweep looks at per packet: a pass is spread over many packets, so no packet
/// waits for a whole table.
const SWEEP_STEP: usize = 64;

impl FlowTable {
    pub fn new(max_flows: usize, timeouts: Timeouts) -> FlowTable {
        Self::with_options(max_flows, timeouts, false)
    }

    /// `midstream`: pick up TCP sessions whose handshake was not seen (Suricata's
    /// `stream.midstream`).
    pub fn with_options(max_flows: usize, timeouts: Timeouts, midstream: bool) -> FlowTable {
        Self::with_stream(max_flows, timeouts, midstream, &StreamSettings::default())
    }

    /// As `with_options`, with the reassembly settings.
    pub fn with_stream(
        max_flows: usize,
        timeouts: Timeouts,
        midstream: bool,
        stream: &StreamSettings,
    ) -> FlowTable {
        let max_flows = max_flows.max(1);
        let slots: Vec<Option<Flow>> = Vec::with_capacity(max_flows);
        huge_pages(
            slots.as_ptr() as usize,
            max_flows * std::mem::size_of::<Option<Flow>>(),
        );
        FlowTable {
            slots,
            max_flows,
            index: hashbrown::HashTable::with_capacity(max_flows),
            hints: vec![NO_HINT; max_flows.next_power_of_two().min(MAX_HINTS)].into_boxed_slice(),
            seed: std::hash::BuildHasher::hash_one(
                &std::collections::hash_map::RandomState::new(),
                0u64,
            ),
            free: Vec::with_capacity(max_flows),
            timeouts,
            midstream,
            async_oneside: false,
            midstream_policy: Policy::Ignore,
            ips: false,
            stats: FlowStats::default(),
            next_id: 1,
            hand: 0,
            tick: 0,
            stream: StreamEngine::new(stream),
            stream_enabled: true,
            retired: None,
            sessions: Vec::with_capacity(max_flows + 1),
            free_sessions: Vec::with_capacity(max_flows + 1),
            sweep_hand: 0,
            sweeping: false,
            sweep_next: i64::MIN,
            expires: Vec::with_capacity(max_flows),
        }
    }

    /// Apply `policy` to TCP sessions that start without a handshake, as Suricata's
    /// `stream.midstream-policy` (resolved by `exception_policy::resolve_midstream`).
    pub fn set_midstream_policy(&mut self, policy: Policy, ips: bool) {
        self.midstream_policy = policy;
        self.ips = ips;
    }

    /// Take up one-sided TCP sessions (Suricata's `stream.async-oneside`).
    pub fn set_async_oneside(&mut self, on: bool) {
        self.async_oneside = on;
    }

    /// Which sessions start without their handshake seen (see `Pickup`).
    fn pickup(&self) -> Pickup {
        Pickup {
            midstream: self.midstream,
            synack: (self.midstream || self.async_oneside)
                && matches!(self.midstream_policy, Policy::Ignore | Policy::PassFlow),
            async_oneside: self.async_oneside,
        }
    }

    pub fn capacity(&self) -> usize {
        self.max_flows
    }

    /// The hint entry of key hash `h` (the table's length is a power of two).
    fn hint_index(hints: &[u32], h: u64) -> usize {
        h as usize & (hints.len() - 1)
    }

    #[inline(always)]
    fn find(&mut self, key: &FlowKey) -> Option<u32> {
        let h = key.hash64(self.seed);
        let hint = &mut self.hints[Self::hint_index(&self.hints, h)];
        let slots = &self.slots;
        let holds = |s: u32| {
            slots
                .get(s as usize)
                .and_then(Option::as_ref)
                .is_some_and(|f| f.key == *key)
        };
        if holds(*hint) {
            return Some(*hint);
        }
        let found = self.index.find(h, |&s| holds(s)).copied();
        if let Some(s) = found {
            *hint = s;
        }
        found
    }

    pub fn get(&self, r: FlowRef) -> &Flow {
        self.slots[r.slot as usize]
            .as_ref()
            .expect("FlowRef points at a live slot")
    }

    pub fn get_mut(&mut self, r: FlowRef) -> &mut Flow {
        self.slots[r.slot as usize]
            .as_mut()
            .expect("FlowRef points at a live slot")
    }

    /// Forgets what detection recorded in every flow (IP-only inspection done, flowbits,
    /// pass): after a rule reload those refer to the old rules. Flows and their TCP state
    /// stay. Bounded work: one pass over the preallocated slots.
    pub fn reset_detection_state(&mut self) {
        for f in self.slots.iter_mut().flatten() {
            f.iponly_toserver = false;
            f.iponly_toclient = false;
            f.pass = false;
            f.bits = FlowBits::default();
        }
    }

    pub fn active(&self) -> usize {
        self.index.len()
    }

    /// The packet second from which the sweep looks closer at `f` (its last packet's
    /// second plus its timeout; u32::MAX for none).
    fn expiry(t: &Timeouts, f: &Flow) -> u32 {
        let at = f.last.secs.saturating_add(i64::from(t.of(f)));
        at.clamp(0, i64::from(u32::MAX) - 1) as u32
    }

    /// Find or create the packet's flow and account the packet to it. None for a packet
    /// without a flow (see `Packet::wants_flow`).
    pub fn update(&mut self, p: &Packet<'_>) -> Option<FlowRef> {
        let r = self.track(p)?;
        if let Some(f) = &self.slots[r.slot as usize] {
            self.expires[r.slot as usize] = Self::expiry(&self.timeouts, f);
        }
        Some(r)
    }

    fn track(&mut self, p: &Packet<'_>) -> Option<FlowRef> {
        if let Some(s) = FlowKey::of_icmp_error(p).and_then(|k| self.find(&k)) {
            return self.icmp_error(s, p);
        }
        let key = FlowKey::of(p)?;
        let ip = p.ip?;
        let src = (ip.src, p.src_port().unwrap_or(0));
        self.tick = self.tick.wrapping_add(1);
        let slot = match self.find(&key) {
            Some(s) => {
                let expired = {
                    let f = self.slots[s as usize].as_ref()?;
                    p.ts.secs - f.last.secs > self.timeouts.of(f) as i64
                };
                if expired {
                    self.stats.timeouts += 1;
                    self.retire(s);
                    self.create(key, src, p)
                } else {
                    s
                }
            }
            None => self.create(key, src, p),
        };
        let pickup = self.pickup();
        let (policy, ips) = (self.midstream_policy, self.ips);
        let tick = self.tick;
        let f = self.slots[slot as usize].as_mut()?;
        f.lru = tick;
        let mut dir = if src == f.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if let L4::Tcp(t) = p.l4 {
            if f.tcp == TcpState::None && pickup.synack && synack(t.flags) && !t.bad_checksum {
                // a session picked up at its SYN/ACK: the SYN/ACK's sender is the server
                // (Suricata's FlowSwap in StreamTcpPacketStateNone)
                f.turn_around();
                dir = dir.reverse();
            }
        }
        f.last = p.ts;
        // ICMP error messages do not make a direction "seen" (Suricata's FlowUpdateSeenFlag).
        let counts_as_seen = match p.l4 {
            L4::Icmp(i) if ip.proto == 1 => !matches!(i.icmp_type, 3 | 4 | 5 | 11 | 12),
            _ => true,
        };
        f.account(dir, p.len, counts_as_seen);
        let mut no_inspect = false;
        let mut stream_add = false;
        let mut no_payload = false;
        let bad_checksum = matches!(p.l4, L4::Tcp(t) if t.bad_checksum);
        if bad_checksum {
            // the receiving host drops it: no TCP state, no stream (Suricata's StreamTcp
            // returns before StreamTcpPacket); the packet is still inspected
            self.stats.invalid_checksum += 1;
        }
        let (established, stream) = if bad_checksum {
            (f.tcp >= TcpState::Established, f.tcp != TcpState::None)
        } else if let L4::Tcp(t) = p.l4 {
            let before = f.tcp;
            if midstream_exception(f.tcp, t.flags) {
                // Suricata applies the midstream policy to every such packet of the flow
                if policy.stops_flow(ips) {
                    f.pass = true;
                }
                no_inspect = policy.stops_packet(ips);
            }
            tcp_track(f, dir, &t, p.payload.len() as u32, pickup);
            let payload = if p.carries_tunnel { &[][..] } else { p.payload };
            if self.stream_enabled {
                if f.ssn == NO_SESSION {
                    f.ssn = match self.free_sessions.pop() {
                        Some(i) => i,
                        None => {
                            self.sessions.push(TcpSession::default());
                            (self.sessions.len() - 1) as u32
                        }
                    };
                }
                let ssn = &mut self.sessions[f.ssn as usize];
                // as the flow stood when the packet arrived (Suricata copies
                // FLOW_NOPAYLOAD_INSPECTION to the packet before the stream engine runs)
                no_payload = ssn.no_payload;
                stream_add = ssn.packet(&mut self.stream, dir, &t, payload, pickup);
            }
            // The packet completing the handshake is not yet "established", unless it
            // carries data; packets after it are.
            let est = before >= TcpState::Established
                || (before == TcpState::SynRecv
                    && dir == Direction::ToServer
                    && f.tcp >= TcpState::Established
                    && !p.payload.is_empty());
            f.state = match f.tcp {
                TcpState::Closed => FlowState::Closed,
                TcpState::Closing if f.fins == 3 => FlowState::Closed,
                TcpState::Established | TcpState::Closing => FlowState::Established,
                _ => FlowState::New,
            };
            (est, f.tcp != TcpState::None)
        } else {
            if f.seen_toserver && f.seen_toclient {
                f.state = FlowState::Established;
            }
            (f.state == FlowState::Established, false)
        };
        if let L4::Udp(u) = p.l4 {
            udp_app_detect(f, dir, u.src_port, u.dst_port, p.payload);
        }
        Some(FlowRef {
            slot,
            dir,
            established,
            stream,
            no_inspect,
            stream_add,
            no_payload,
        })
    }

    /// A destination unreachable quoting a packet of the live flow in `slot` is a packet of
    /// that flow (Suricata's FlowCompareICMPv4): its direction by address, counted, not
    /// making its direction "seen", no TCP tracking.
    fn icmp_error(&mut self, slot: u32, p: &Packet<'_>) -> Option<FlowRef> {
        let ip = p.ip?;
        self.tick = self.tick.wrapping_add(1);
        let tick = self.tick;
        let f = self.slots[slot as usize].as_mut()?;
        f.lru = tick;
        f.last = p.ts;
        let dir = if ip.src == f.client.0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        f.account(dir, p.len, false);
        let no_payload = self
            .sessions
            .get(f.ssn as usize)
            .is_some_and(|s| s.no_payload);
        Some(FlowRef {
            slot,
            dir,
            established: f.state == FlowState::Established,
            stream: false,
            no_inspect: false,
            stream_add: false,
            no_payload,
        })
    }

    /// The timeout sweep, one step, at packet time `now` (Suricata's flow manager, which
    /// times flows out whether or not their tuple comes back): once per
    /// `SWEEP_EVERY_SECS` of packet time a pass looks at every slot in use,
    /// `SWEEP_STEP` slots per call, and removes the flows idle longer than their timeout
    /// (counted in `timeouts`). True when it stopped at a removed flow whose streams need
    /// their end-of-flow inspection: take it with `retired`, `drop_retired`, and call again.
    #[inline]
    pub fn sweep(&mut self, now: Timestamp) -> bool {
        // called before every packet: mostly there is nothing to do
        if !self.sweeping && now.secs < self.sweep_next {
            return false;
        }
        self.sweep_step(now)
    }

    #[inline(never)]
    fn sweep_step(&mut self, now: Timestamp) -> bool {
        if !self.sweeping {
            if self.sweep_next == i64::MIN {
                self.sweep_next = now.secs.saturating_add(SWEEP_EVERY_SECS);
            }
            if now.secs < self.sweep_next {
                return false;
            }
            self.sweeping = true;
            self.sweep_hand = 0;
        }
        let end = self.slots.len();
        let stop = self.sweep_hand.saturating_add(SWEEP_STEP).min(end);
        let now_secs = now.secs.clamp(0, i64::from(u32::MAX)) as u32;
        while self.sweep_hand < stop {
            let slot = self.sweep_hand;
            self.sweep_hand += 1;
            if now_secs < self.expires[slot] {
                continue;
            }
            // Suricata's FlowManagerFlowTimeout: timed out once `now` reaches the last
            // packet's time plus the timeout, to the nanosecond
            let expired = match &self.slots[slot] {
                Some(f) => {
                    let t = i64::from(self.timeouts.of(f));
                    (now.secs, now.nanos) >= (f.last.secs.saturating_add(t), f.last.nanos)
                }
                None => false,
            };
            if expired {
                self.stats.timeouts += 1;
                self.retire(slot as u32);
                if self.retired.is_some() {
                    return true;
                }
            }
        }
        if self.sweep_hand >= end {
            self.sweeping = false;
            self.sweep_next = now.secs.saturating_add(SWEEP_EVERY_SECS);
        }
        false
    }

    /// A sweep pass is under way (started, not yet through the table).
    pub fn sweeping(&self) -> bool {
        self.sweeping
    }

    /// Remove a flow that ends (timeout, eviction): when its streams need the end-of-flow
    /// inspection, it is kept aside for `retired` (a previous one still there is
    /// released).
    fn retire(&mut self, slot: u32) {
        let Some(f) = self.slots[slot as usize].take() else {
            return;
        };
        let h = f.key.hash64(self.seed);
        if let Ok(e) = self.index.find_entry(h, |&s| s == slot) {
            e.remove();
        }
        self.free.push(slot);
        self.expires[slot as usize] = u32::MAX;
        if let Some(old) = self.retired.take() {
            self.release_session(old.ssn);
        }
        let flush = f.ssn != NO_SESSION
            && self.stream.needs_flush(&self.sessions[f.ssn as usize]) != [false, false];
        if flush && !f.pass {
            self.retired = Some(f);
        } else {
            self.release_session(f.ssn);
        }
    }

    /// Session `i`'s blocks go back to the pool and the session to the store.
    fn release_session(&mut self, i: u32) {
        if let Some(s) = self.sessions.get_mut(i as usize) {
            self.stream.release(s);
            *s = TcpSession::default();
            self.free_sessions.push(i);
        }
    }

    /// The parts of `f` (a flow of this table, live or retired).
    fn parts_of<'a>(
        f: &'a mut Flow,
        sessions: &'a mut [TcpSession],
        stream: &'a mut StreamEngine,
    ) -> FlowParts<'a> {
        let ssn = sessions.get_mut(f.ssn as usize);
        (f, ssn, stream)
    }

    /// The flow the last `update` ended whose streams still need their end-of-flow
    /// inspection, its session, the stream engine; call `drop_retired` after.
    pub fn retired(&mut self) -> Option<FlowParts<'_>> {
        let FlowTable {
            retired,
            stream,
            sessions,
            ..
        } = self;
        retired
            .as_mut()
            .map(|f| Self::parts_of(f, sessions, stream))
    }

    /// Release the retired flow's streams.
    pub fn drop_retired(&mut self) {
        if let Some(f) = self.retired.take() {
            self.release_session(f.ssn);
        }
    }

    /// A live flow, its session and the stream engine (for stream inspection).
    pub fn parts(&mut self, r: FlowRef) -> FlowParts<'_> {
        let FlowTable {
            slots,
            stream,
            sessions,
            ..
        } = self;
        let f = slots[r.slot as usize]
            .as_mut()
            .expect("FlowRef points at a live slot");
        Self::parts_of(f, sessions, stream)
    }

    /// The flow in `slot`, if any, with its session and the stream engine (end-of-capture
    /// flush).
    pub fn slot_parts(&mut self, slot: usize) -> Option<FlowParts<'_>> {
        let FlowTable {
            slots,
            stream,
            sessions,
            ..
        } = self;
        let f = slots.get_mut(slot)?.as_mut()?;
        Some(Self::parts_of(f, sessions, stream))
    }

    /// Make room when every slot is in use: look at the next few slots from the hand and
    /// evict the least recently used of them. Bounded work per packet, memory stays flat.
    fn evict_one(&mut self) -> u32 {
        let n = self.slots.len();
        let mut victim = self.hand % n;
        let mut oldest = u32::MAX;
        for k in 0..EVICT_SCAN.min(n) {
            let i = (self.hand + k) % n;
            if let Some(f) = &self.slots[i] {
                let age = self.tick.wrapping_sub(f.lru);
                if oldest == u32::MAX || age > self.tick.wrapping_sub(oldest) {
                    oldest = f.lru;
                    victim = i;
                }
            }
        }
        self.hand = (victim + 1) % n;
        self.stats.evicted += 1;
        self.retire(victim as u32);
        victim as u32
    }

    fn create(&mut self, key: FlowKey, client: (IpAddr, u16), p: &Packet<'_>) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => s,
            None if self.slots.len() < self.max_flows => {
                self.slots.push(None);
                self.expires.push(u32::MAX);
                (self.slots.len() - 1) as u32
            }
            None => {
                let v = self.evict_one();
                self.free.pop().unwrap_or(v)
            }
        };
        let server = match p.ip {
            Some(ip) => (ip.dst, p.dst_port().unwrap_or(0)),
            None => client,
        };
        self.stats.total += 1;
        match key.proto() {
            6 => self.stats.tcp += 1,
            17 => self.stats.udp += 1,
            1 => self.stats.icmpv4 += 1,
            58 => self.stats.icmpv6 += 1,
            _ => {}
        }
        let id = flow_id(&key, p.ts, self.next_id);
        self.next_id += 1;
        self.slots[slot as usize] = Some(Flow {
            key,
            id,
            client,
            server,
            proto: key.proto(),
            start: p.ts,
            last: p.ts,
            pkts_toserver: 0,
            pkts_toclient: 0,
            bytes_toserver: 0,
            bytes_toclient: 0,
            state: FlowState::New,
            iponly_toserver: false,
            iponly_toclient: false,
            pass: false,
            alerted: false,
            app: AppProto::Unknown,
            app_ts: AppProto::Unknown,
            app_tc: AppProto::Unknown,
            tcp: TcpState::None,
            fins: 0,
            tcp_client: TcpSide::default(),
            tcp_server: TcpSide::default(),
            seen_toserver: false,
            seen_toclient: false,
            bits: FlowBits::default(),
            ssn: NO_SESSION,
            lru: self.tick,
        });
        let h = key.hash64(self.seed);
        self.hints[Self::hint_index(&self.hints, h)] = slot;
        let (slots, seed) = (&self.slots, self.seed);
        self.index.insert_unique(h, slot, |&s| {
            slots[s as usize].as_ref().map_or(0, |f| f.key.hash64(seed))
        });
        slot
    }

    /// Every live flow, for end-of-run accounting.
    pub fn flows(&self) -> impl Iterator<Item = &Flow> {
        self.slots.iter().flatten()
    }
}

/// SYN and ACK, no RST: a SYN/ACK a session can be picked up at.
fn synack(flags: u8) -> bool {
    use crate::decode::packet::tcpflag::*;
    flags & (SYN | ACK | RST) == SYN | ACK
}

/// A packet on a flow without a TCP session that Suricata's stream engine treats as a
/// midstream exception (`StreamTcpPacketStateNone`: FIN, SYN/ACK or ACK; not RST or SYN).
fn midstream_exception(state: TcpState, flags: u8) -> bool {
    use crate::decode::packet::tcpflag::*;
    if state != TcpState::None || flags & RST != 0 {
        return false;
    }
    flags & FIN != 0 || flags & (SYN | ACK) == SYN | ACK || (flags & SYN == 0 && flags & ACK != 0)
}

/// The TCP state machine, reduced to what detection observes: handshake, establishment,
/// closing, and sequence progress per side.
/// Suricata's AppLayerHandleUdp, protocol detection part: each direction's first packet is
/// probed (whatever its payload); the flow takes the first protocol found, and is "failed"
/// from its first packet on until one is. Not yet: reversing the flow when the probe says
/// the packet came from the server (Suricata's `reverse_flow`).
fn udp_app_detect(f: &mut Flow, dir: Direction, sp: u16, dp: u16, payload: &[u8]) {
    if f.app_ts == AppProto::Failed && f.app_tc == AppProto::Failed {
        return;
    }
    let (this, other) = match dir {
        Direction::ToServer => (f.app_ts, f.app_tc),
        Direction::ToClient => (f.app_tc, f.app_ts),
    };
    if this != AppProto::Unknown {
        return;
    }
    let found = match crate::applayer::probe_udp(sp, dp, payload) {
        Some(name) => AppProto::Known(name),
        None => AppProto::Unknown,
    };
    let this = match found {
        AppProto::Unknown if other != AppProto::Unknown => {
            f.app = other;
            other
        }
        AppProto::Unknown => AppProto::Failed,
        AppProto::Failed => {
            if other != AppProto::Unknown {
                f.app = other;
            }
            AppProto::Failed
        }
        AppProto::Known(_) => {
            // Two different protocols: Suricata keeps the first (and raises an app-layer
            // event ravn does not have yet).
            if !matches!(other, AppProto::Known(_)) {
                f.app = found;
            }
            found
        }
    };
    if other == AppProto::Unknown && f.app == AppProto::Unknown {
        f.app = AppProto::Failed;
    }
    match dir {
        Direction::ToServer => f.app_ts = this,
        Direction::ToClient => f.app_tc = this,
    }
}

#[inline(always)]
fn tcp_track(f: &mut Flow, dir: Direction, t: &crate::decode::TcpHdr, len: u32, pickup: Pickup) {
    use crate::decode::packet::tcpflag::*;
    let syn = t.flags & SYN != 0;
    let ack = t.flags & ACK != 0;
    let fin = t.flags & FIN != 0;
    let rst = t.flags & RST != 0;
    // a plain ACK (no SYN, FIN or RST): what moves a one-sided session to established
    let plain_ack = ack && !syn && !fin && !rst;
    let before = f.tcp;
    match f.tcp {
        TcpState::None => {
            if syn && !ack && dir == Direction::ToServer {
                f.tcp = TcpState::SynSent;
            } else if pickup.synack && synack(t.flags) {
                // picked up at the SYN/ACK (the flow was turned around): the client's
                // side starts at the acknowledged sequence number
                f.tcp = TcpState::SynRecv;
                f.tcp_client = TcpSide {
                    isn: t.ack.wrapping_sub(1),
                    next_seq: t.ack,
                    isn_set: true,
                };
            } else if pickup.midstream && !rst && !syn {
                f.tcp = TcpState::Established;
            }
        }
        TcpState::SynSent => {
            if syn && ack && dir == Direction::ToClient {
                f.tcp = TcpState::SynRecv;
            } else if pickup.async_oneside
                && plain_ack
                && dir == Direction::ToServer
                && t.seq == f.tcp_client.next_seq
            {
                f.tcp = TcpState::Established;
            }
        }
        TcpState::SynRecv => {
            if ack
                && !syn
                && !rst
                && dir == Direction::ToServer
                && t.ack == f.tcp_server.next_seq
                && (t.seq.wrapping_sub(f.tcp_client.next_seq) as i32) >= 0
            {
                // the SYN/ACK acknowledged exactly (`TcpSession::packet` has the same rule)
                f.tcp = TcpState::Established;
            } else if pickup.async_oneside
                && plain_ack
                && dir == Direction::ToClient
                && t.seq == f.tcp_server.next_seq
            {
                f.tcp = TcpState::Established;
            }
        }
        TcpState::Established => {
            if fin {
                f.tcp = TcpState::Closing;
            }
        }
        TcpState::Closing | TcpState::Closed => {}
    }
    // a RST the receiver would discard moves nothing (Suricata's StreamTcpValidateRst)
    let mut rst_discarded = false;
    if rst && f.tcp != TcpState::None {
        if rst_closes(f, before, dir, t.seq, pickup) {
            f.tcp = TcpState::Closed;
        } else {
            rst_discarded = true;
        }
    }
    if fin && f.tcp >= TcpState::Established {
        f.fins |= match dir {
            Direction::ToServer => 1,
            Direction::ToClient => 2,
        };
    }
    // a packet the handshake did not take moves no sequence number (Suricata drops it
    // from the session)
    let refused = matches!(before, TcpState::SynSent | TcpState::SynRecv) && f.tcp == before;
    if f.tcp != TcpState::None && !refused && !rst_discarded {
        let side = match dir {
            Direction::ToServer => &mut f.tcp_client,
            Direction::ToClient => &mut f.tcp_server,
        };
        side.update(t.seq, len, syn || fin);
    }
}

/// Whether a RST going `dir` at `seq` ends a session in state `before`, as in
/// `TcpSession::packet` (Suricata's StreamTcpValidateRst, default OS policy): at the
/// sender's next sequence number; in SYN_SENT only from the server. The session counts as
/// one-sided, with `stream.async-oneside`, until both directions were seen.
fn rst_closes(f: &Flow, before: TcpState, dir: Direction, seq: u32, pickup: Pickup) -> bool {
    let sender = match dir {
        Direction::ToServer => &f.tcp_client,
        Direction::ToClient => &f.tcp_server,
    };
    // a side that sent nothing yet is at 0, as Suricata's zeroed stream
    let next_seq = if sender.isn_set { sender.next_seq } else { 0 };
    let one_sided = pickup.async_oneside && !(f.seen_toserver && f.seen_toclient);
    match before {
        TcpState::None | TcpState::Closed => false,
        TcpState::SynSent if dir == Direction::ToServer => false,
        _ => crate::stream::session::rst_acceptable(next_seq, seq, one_sided),
    }
}

/// FxHash-style hasher for flow keys: the key is not attacker-chosen in a way that
/// matters here (a flood is bounded by the table size), and speed per packet does.
#[derive(Clone, Copy, Default)]
pub struct BuildFastHasher;

impl std::hash::BuildHasher for BuildFastHasher {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // final avalanche so the low bits hashbrown uses are well mixed
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u16(&mut self, i: u16) {
        self.add(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

impl FastHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// A 51-bit flow id (fits a JSON double exactly, like Suricata's).
fn flow_id(key: &FlowKey, ts: Timestamp, seq: u64) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    ts.hash(&mut h);
    seq.hash(&mut h);
    h.finish() & ((1u64 << 51) - 1)
}

/// Ask the kernel for transparent huge pages under `len` bytes at `addr` (where THP is
/// `madvise`, Debian's and Raspberry Pi OS's default): flows are looked up at random, and
/// with 4 KiB pages nearly every lookup of a table of tens of megabytes would also miss
/// the TLB. Only memory already reserved (not yet touched) is advised; failure is harmless.
fn huge_pages(addr: usize, len: usize) {
    const HUGE: usize = 2 << 20;
    let start = addr.next_multiple_of(HUGE);
    let end = (addr + len) & !(HUGE - 1);
    if end > start {
        // SAFETY: the range lies inside an allocation this table owns; MADV_HUGEPAGE
        // changes how it is backed, not its contents or mapping.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Frame, LinkType};
    use crate::decode::{Decoded, Decoder};

    /// Where the kernel offers transparent huge pages on advice (`madvise` or `always`), a
    /// reservation advised by `huge_pages` and then written is backed by 2 MiB pages, as
    /// /proc/self/smaps reports for its mapping.
    #[test]
    fn advised_reservation_gets_huge_pages() {
        // qemu-user takes the advice and ignores it
        let kernel = std::fs::read_to_string("/proc/sys/kernel/arch").unwrap_or_default();
        if kernel.trim() != std::env::consts::ARCH {
            eprintln!(
                "skipped: a {} kernel runs this {} binary",
                kernel.trim(),
                std::env::consts::ARCH
            );
            return;
        }
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !mode.contains("[madvise]") && !mode.contains("[always]") {
            eprintln!(
                "skipped: transparent huge pages are off here ({})",
                mode.trim()
            );
            return;
        }
        let len = 16 << 20;
        let mut v: Vec<u8> = Vec::with_capacity(len);
        huge_pages(v.as_ptr() as usize, len);
        v.resize(len, 1);
        let addr = v.as_ptr() as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        // the AnonHugePages of the mappings over the vector (the advice splits its mapping)
        let range = |line: &str| {
            let (lo, hi) = line.split_once(' ')?.0.split_once('-')?;
            Some((
                usize::from_str_radix(lo, 16).ok()?,
                usize::from_str_radix(hi, 16).ok()?,
            ))
        };
        let (mut huge_kb, mut found, mut inside) = (0, false, false);
        for line in smaps.lines() {
            if let Some((lo, hi)) = range(line) {
                inside = lo < addr + len && addr < hi;
                found |= inside;
            } else if let (true, Some(kb)) = (inside, line.strip_prefix("AnonHugePages:")) {
                huge_kb += kb
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<usize>()
                    .unwrap_or(0);
            }
        }
        assert!(found, "no mapping in /proc/self/smaps holds the vector");
        assert!(
            huge_kb >= 2048,
            "{huge_kb} kB of huge pages under the advised range"
        );
        assert_eq!(v[len - 1], 1);
    }

    /// `bytes` as a raw-IP frame captured at second `secs`, decoded.
    fn decode_raw(dec: &mut Decoder, bytes: Vec<u8>, secs: i64) -> Decoded<'static> {
        let data: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        dec.decode(&Frame {
            ts: Timestamp { secs, nanos: 0 },
            link: LinkType::Raw,
            data,
            orig_len: data.len() as u32,
            offloaded: false,
        })
    }

    /// A raw IPv4 packet (DF, TTL 64, no checksum) from 10.0.0.`a` to 10.0.0.`b` carrying
    /// `l4`, a `proto` header and its payload.
    fn ipv4_raw(proto: u8, a: u8, b: u8, l4: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, a, 10, 0, 0, b,
        ];
        v[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        v.extend_from_slice(l4);
        v
    }

    /// Raw IPv4 + UDP between 10.0.0.1 and 10.0.0.2 (`up`: from .1), as a decoded frame.
    fn udp(dec: &mut Decoder, up: bool, sp: u16, dp: u16, payload: &[u8]) -> Decoded<'static> {
        let (a, b) = if up { (1, 2) } else { (2, 1) };
        let mut v = Vec::with_capacity(8 + payload.len());
        v.extend_from_slice(&sp.to_be_bytes());
        v.extend_from_slice(&dp.to_be_bytes());
        v.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(payload);
        decode_raw(dec, ipv4_raw(17, a, b, &v), 1)
    }

    #[test]
    fn the_sweep_times_out_idle_flows_whose_tuple_never_returns() {
        let mut dec = Decoder::new();
        let mut t = FlowTable::new(16, Timeouts::default());
        // a one-way UDP flow at second 1 (udp new: 30 s), a two-way one (established: 300 s)
        t.update(udp(&mut dec, true, 1000, 53, b"q").root())
            .unwrap();
        t.update(udp(&mut dec, true, 2000, 53, b"q").root())
            .unwrap();
        t.update(udp(&mut dec, false, 53, 2000, b"a").root())
            .unwrap();
        let at = |secs| Timestamp { secs, nanos: 0 };
        let sweep_all = |t: &mut FlowTable, secs| {
            // a pass is spread over calls; none stops at a flow needing a flush here
            for _ in 0..4 {
                assert!(!t.sweep(at(secs)));
            }
        };
        // passes start a second of packet time apart; the flows' last packets were at 1.0
        sweep_all(&mut t, 1);
        sweep_all(&mut t, 30);
        assert_eq!((t.active(), t.stats.timeouts), (2, 0), "29 s idle");
        sweep_all(&mut t, 31);
        assert_eq!(
            (t.active(), t.stats.timeouts),
            (1, 1),
            "30 s idle: timed out"
        );
        sweep_all(&mut t, 300);
        assert_eq!((t.active(), t.stats.timeouts), (1, 1));
        sweep_all(&mut t, 301);
        assert_eq!((t.active(), t.stats.timeouts), (0, 2));
        // the slots are free again
        assert!(t.expires.iter().all(|&e| e == u32::MAX));
    }

    /// A DNS query for example.com.
    const DNS: &[u8] =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";

    #[test]
    fn udp_app_proto_as_suricata_sets_it() {
        let mut dec = Decoder::new();
        let mut t = FlowTable::new(16, Timeouts::default());
        // Not DNS: "failed" from the first packet, whatever the reply.
        let r = t
            .update(udp(&mut dec, true, 40000, 7777, b"hello").root())
            .unwrap();
        assert_eq!(t.get(r).app_names(), [Some("failed"), None, None]);
        let r = t
            .update(udp(&mut dec, false, 7777, 40000, b"").root())
            .unwrap();
        assert_eq!(t.get(r).app_names(), [Some("failed"), None, None]);
        // DNS both ways.
        let r = t
            .update(udp(&mut dec, true, 40001, 53, DNS).root())
            .unwrap();
        assert_eq!(t.get(r).app_names(), [Some("dns"), None, None]);
        let r = t
            .update(udp(&mut dec, false, 53, 40001, DNS).root())
            .unwrap();
        assert_eq!(t.get(r).app_names(), [Some("dns"), None, None]);
        // Not DNS first, then DNS the other way: the flow becomes DNS, the first direction
        // stays "failed" (EVE's app_proto_ts).
        let r = t
            .update(udp(&mut dec, true, 40002, 53, b"garbage").root())
            .unwrap();
        assert_eq!(t.get(r).app_names(), [Some("failed"), None, None]);
        let r = t
            .update(udp(&mut dec, false, 53, 40002, DNS).root())
            .unwrap();
        assert_eq!(t.get(r).app_names(), [Some("dns"), Some("failed"), None]);
    }

    /// With far more flows than hint entries, and a full table evicting, every packet
    /// still finds its own flow (a hint is taken only when its slot holds the key).
    #[test]
    fn stale_and_shared_hints_never_mislead() {
        let mut dec = Decoder::new();
        let mut t = FlowTable::new(8, Timeouts::default());
        assert_eq!(t.hints.len(), 8);
        let mut ids = std::collections::HashMap::new();
        for round in 0..4u16 {
            for port in 0..8u16 {
                let sp = 1000 + port + 8 * (round / 2);
                let r = t.update(udp(&mut dec, true, sp, 53, b"q").root()).unwrap();
                let f = t.get(r);
                assert_eq!(f.client.1, sp);
                let id = *ids.entry(sp).or_insert(f.id);
                // rounds 0/1 and 2/3 see the same 8 flows; round 2 evicts round 1's
                assert_eq!(f.id, id, "round {round} port {sp}");
                assert_eq!(f.pkts_toserver, u64::from(round % 2 + 1));
            }
        }
        assert_eq!(t.stats.evicted, 8);
    }

    #[test]
    fn tunnel_depth_separates_flows() {
        let mut dec = Decoder::new();
        let mut t = FlowTable::new(16, Timeouts::default());
        let plain = udp(&mut dec, true, 1, 2, b"x");
        let mut inner = *plain.root();
        inner.depth = 1;
        let a = t.update(plain.root()).unwrap();
        let b = t.update(&inner).unwrap();
        assert_ne!(t.get(a).id, t.get(b).id);
        let mut no_flow = inner;
        no_flow.wants_flow = false;
        assert!(t.update(&no_flow).is_none());
        assert_eq!(t.stats.total, 2);
    }

    #[test]
    fn a_flood_keeps_the_table_flat_and_counts_evictions() {
        let mut dec = Decoder::new();
        let mut t = FlowTable::new(64, Timeouts::default());
        let reserved = (t.slots.capacity(), t.slots.as_ptr());
        // slots are taken as flows arrive, not at construction
        assert_eq!(t.slots.len(), 0);
        for sp in 0..10_000u16 {
            t.update(udp(&mut dec, true, 1024 + sp, 80, b"x").root())
                .unwrap();
            // a long-lived flow that keeps talking survives the flood
            let r = t.update(udp(&mut dec, true, 7, 9, b"y").root()).unwrap();
            assert_eq!(t.get(r).client.1, 7);
        }
        assert_eq!(t.active(), 64);
        assert_eq!(t.slots.len(), 64);
        assert_eq!((t.slots.capacity(), t.slots.as_ptr()), reserved);
        assert_eq!(t.stats.total, 10_001);
        assert_eq!(t.stats.evicted, 10_001 - 64);
        // the one long-lived flow was never evicted: its packets count on one flow
        let r = t.update(udp(&mut dec, true, 7, 9, b"y").root()).unwrap();
        assert_eq!(t.get(r).pkts_toserver, 10_001);
    }

    /// Raw IPv4 + TCP from 10.0.0.1:`sp` to 10.0.0.2:80 with `flags` and `payload`.
    fn tcp(dec: &mut Decoder, sp: u16, seq: u32, flags: u8, payload: &[u8]) -> Decoded<'static> {
        let mut v = Vec::with_capacity(20 + payload.len());
        v.extend_from_slice(&sp.to_be_bytes());
        v.extend_from_slice(&80u16.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v.extend_from_slice(payload);
        decode_raw(dec, ipv4_raw(6, 1, 2, &v), 1)
    }

    /// A TCP segment between 10.0.0.1:1234 (`up`: from it) and 10.0.0.2:80.
    fn seg(dec: &mut Decoder, up: bool, flags: u8, seq: u32, ack: u32) -> Decoded<'static> {
        let (sp, dp, a, b) = if up {
            (1234u16, 80u16, 1, 2)
        } else {
            (80, 1234, 2, 1)
        };
        let mut v = Vec::new();
        v.extend_from_slice(&sp.to_be_bytes());
        v.extend_from_slice(&dp.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&ack.to_be_bytes());
        v.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        decode_raw(dec, ipv4_raw(6, a, b, &v), 1)
    }

    /// Suricata's StreamTcp skips a segment whose checksum is wrong: the flow counts it, the
    /// TCP state does not move, and the packet is established as the flow was before it.
    #[test]
    fn a_segment_with_a_wrong_checksum_leaves_the_tcp_state_alone() {
        use crate::decode::packet::tcpflag::*;
        // `seg` leaves the checksum zero: wrong, for a decoder that checks
        let mut checking = Decoder::with_config(crate::decode::DecoderConfig {
            tcp_checksums: true,
            ..Default::default()
        });
        let mut plain = Decoder::new();
        let mut t = FlowTable::new(16, Timeouts::default());
        let r = t
            .update(seg(&mut checking, true, SYN, 1, 0).root())
            .unwrap();
        assert_eq!((t.get(r).tcp, r.stream), (TcpState::None, false));
        assert_eq!((t.get(r).pkts_toserver, t.stats.invalid_checksum), (1, 1));
        for (up, flags, seq, ack) in [(true, SYN, 1, 0), (false, SYN | ACK, 100, 2)] {
            t.update(seg(&mut plain, up, flags, seq, ack).root())
                .unwrap();
        }
        // the handshake's ACK, wrong: still SYN_RECV; then the real one
        let r = t
            .update(seg(&mut checking, true, ACK, 2, 101).root())
            .unwrap();
        assert_eq!((t.get(r).tcp, r.established), (TcpState::SynRecv, false));
        let r = t.update(seg(&mut plain, true, ACK, 2, 101).root()).unwrap();
        assert_eq!(t.get(r).tcp, TcpState::Established);
        // a wrong RST ends nothing, and is itself an established packet
        let r = t
            .update(seg(&mut checking, false, RST, 101, 2).root())
            .unwrap();
        assert_eq!((t.get(r).tcp, r.established), (TcpState::Established, true));
        assert_eq!(t.get(r).pkts_toclient, 2);
        assert_eq!(t.stats.invalid_checksum, 3);
    }

    /// The flow's TCP state follows the stream engine's RST check: a RST closes the flow
    /// only at its sender's next sequence number (in SYN_SENT, only the server's).
    #[test]
    fn only_a_rst_at_the_senders_next_sequence_number_closes_the_flow() {
        use crate::decode::packet::tcpflag::*;
        let mut dec = Decoder::new();
        let mut t = FlowTable::new(16, Timeouts::default());
        // SYN_SENT: the client's own RST, and the server's at a number it never reached
        t.update(seg(&mut dec, true, SYN, 1, 0).root()).unwrap();
        t.update(seg(&mut dec, true, RST, 2, 0).root()).unwrap();
        let r = t.update(seg(&mut dec, false, RST, 77, 0).root()).unwrap();
        assert_eq!(t.get(r).tcp, TcpState::SynSent);
        t.update(seg(&mut dec, false, SYN | ACK, 100, 2).root())
            .unwrap();
        t.update(seg(&mut dec, true, ACK, 2, 101).root()).unwrap();
        // established: wrong RSTs both ways leave it established, and established packets
        for (up, seq) in [(true, 3), (true, 1), (false, 100), (false, 102)] {
            let r = t.update(seg(&mut dec, up, RST, seq, 0).root()).unwrap();
            assert_eq!((t.get(r).tcp, r.established), (TcpState::Established, true));
        }
        let r = t.update(seg(&mut dec, false, RST, 101, 0).root()).unwrap();
        assert_eq!(t.get(r).tcp, TcpState::Closed);
        // SYN_SENT: the server refusing at sequence number 0
        let mut t = FlowTable::new(16, Timeouts::default());
        t.update(seg(&mut dec, true, SYN, 1, 0).root()).unwrap();
        let r = t
            .update(seg(&mut dec, false, RST | ACK, 0, 2).root())
            .unwrap();
        assert_eq!(t.get(r).tcp, TcpState::Closed);
    }

    #[test]
    fn a_tcp_flow_closed_by_fins_both_ways_times_out_as_closed() {
        use crate::decode::packet::tcpflag::*;
        let mut dec = Decoder::new();
        let mut t = FlowTable::new(16, Timeouts::default());
        let at = |secs| Timestamp { secs, nanos: 0 };
        // ISNs 1 (client) and 100 (server)
        let handshake = [
            (true, SYN, 1, 0),
            (false, SYN | ACK, 100, 2),
            (true, ACK, 2, 101),
            (true, FIN | ACK, 2, 101),
        ];
        for (up, flags, seq, ack) in handshake {
            t.update(seg(&mut dec, up, flags, seq, ack).root()).unwrap();
        }
        // one FIN: still established (600 s) after 60 s
        t.sweep(at(1));
        t.sweep(at(61));
        assert_eq!((t.active(), t.stats.timeouts), (1, 0));
        // (the packets all carry second 1)
        t.update(seg(&mut dec, false, FIN | ACK, 101, 3).root())
            .unwrap();
        // both FINs: closed, 60 s
        t.sweep(at(62));
        assert_eq!((t.active(), t.stats.timeouts), (0, 1));
    }

    #[test]
    fn a_session_picked_up_at_its_syn_ack_turns_the_flow_around() {
        use crate::decode::packet::tcpflag::*;
        for (midstream, async_oneside) in [(true, false), (false, true)] {
            let mut dec = Decoder::new();
            let mut t = FlowTable::with_options(16, Timeouts::default(), midstream);
            t.set_async_oneside(async_oneside);
            // the server (port 80) answers a SYN we never saw
            let r = t
                .update(seg(&mut dec, false, SYN | ACK, 500, 11).root())
                .unwrap();
            assert_eq!(r.dir, Direction::ToClient);
            assert!(!r.established);
            let f = t.get(r);
            assert_eq!(f.client.1, 1234);
            assert_eq!((f.pkts_toserver, f.pkts_toclient), (0, 1));
            assert_eq!(f.tcp, TcpState::SynRecv);
            // the client's ACK of it completes the handshake; the packet after is established
            let r = t.update(seg(&mut dec, true, ACK, 11, 501).root()).unwrap();
            assert_eq!((r.dir, r.established), (Direction::ToServer, false));
            let r = t.update(seg(&mut dec, true, ACK, 11, 501).root()).unwrap();
            assert!(r.established);
        }
        // neither setting: no pickup, the first packet's sender stays the client
        let mut dec = Decoder::new();
        let mut t = FlowTable::new(16, Timeouts::default());
        let r = t
            .update(seg(&mut dec, false, SYN | ACK, 500, 11).root())
            .unwrap();
        assert_eq!(r.dir, Direction::ToServer);
        assert_eq!(t.get(r).tcp, TcpState::None);
    }

    #[test]
    fn a_syn_flood_keeps_flows_and_sessions_flat() {
        let mut dec = Decoder::new();
        let mut t = FlowTable::new(64, Timeouts::default());
        let reserved = (t.sessions.capacity(), t.sessions.as_ptr());
        // a flow slot without its session stays small (65,536 of them by default)
        assert!(
            std::mem::size_of::<Flow>() <= 384,
            "{}",
            std::mem::size_of::<Flow>()
        );
        // sessions are taken by TCP flows only
        t.update(udp(&mut dec, true, 5, 53, b"q").root()).unwrap();
        assert_eq!(t.sessions.len(), 0);
        for sp in 0..5_000u16 {
            let r = t.update(tcp(&mut dec, 1024 + sp, 7, 0x02, b"").root());
            let (f, ssn, _) = t.parts(r.unwrap());
            assert_eq!(f.proto, 6);
            assert!(ssn.is_some());
            t.drop_retired();
        }
        assert_eq!(t.active(), 64);
        assert!(t.stats.evicted >= 5_000 - 64);
        // every evicted flow gave its session back: at most one per slot
        assert!(t.sessions.len() <= 64, "{}", t.sessions.len());
        assert_eq!((t.sessions.capacity(), t.sessions.as_ptr()), reserved);
        // with the stream off (no signature reads it) no session is taken at all
        let mut t = FlowTable::new(64, Timeouts::default());
        t.stream_enabled = false;
        let r = t.update(tcp(&mut dec, 1, 7, 0x02, b"").root()).unwrap();
        assert!(t.parts(r).1.is_none());
        assert_eq!(t.sessions.len(), 0);
    }

    /// An ICMP port unreachable from 10.0.0.`from` quoting a UDP packet `qs`:`qsp` -> `qd`:`qdp`.
    fn unreach(dec: &mut Decoder, from: u8, q: ([u8; 4], u16, [u8; 4], u16)) -> Decoded<'static> {
        let to = if from == 1 { 2 } else { 1 };
        let mut v = vec![
            0x45, 0, 0, 56, 0, 2, 0, 0, 64, 1, 0, 0, 10, 0, 0, from, 10, 0, 0,
            to, // IPv4, ICMP
            3, 3, 0, 0, 0, 0, 0, 0, // destination unreachable, port unreachable
            0x45, 0, 0, 33, 0, 1, 0, 0, 64, 17, 0, 0, // the quoted IPv4 header
        ];
        v.extend_from_slice(&q.0);
        v.extend_from_slice(&q.2);
        v.extend_from_slice(&q.1.to_be_bytes());
        v.extend_from_slice(&q.3.to_be_bytes());
        v.extend_from_slice(&[0, 13, 0, 0]);
        decode_raw(dec, v, 2)
    }

    #[test]
    fn a_port_unreachable_belongs_to_the_flow_it_quotes() {
        let mut dec = Decoder::new();
        let mut t = FlowTable::new(16, Timeouts::default());
        // 10.0.0.1:40000 -> 10.0.0.2:53, and the reply 10.0.0.2:53 -> 10.0.0.1:40000
        let udp_flow = t
            .update(udp(&mut dec, true, 40000, 53, b"q").root())
            .unwrap();
        t.update(udp(&mut dec, false, 53, 40000, b"r").root())
            .unwrap();
        // 10.0.0.1 says the reply's port is unreachable: the UDP flow's packet, to_server
        let r = t
            .update(unreach(&mut dec, 1, ([10, 0, 0, 2], 53, [10, 0, 0, 1], 40000)).root())
            .unwrap();
        assert_eq!(r.slot, udp_flow.slot);
        assert_eq!(r.dir, Direction::ToServer);
        assert_eq!(t.get(r).pkts_toserver, 2);
        assert_eq!(t.stats.total, 1);
        // quoting a packet of no flow: an ICMP flow of its own
        let other = t
            .update(unreach(&mut dec, 2, ([10, 0, 0, 1], 1, [10, 0, 0, 2], 2)).root())
            .unwrap();
        assert_ne!(other.slot, udp_flow.slot);
        assert_eq!(t.get(other).proto, 1);
        assert_eq!(t.stats.total, 2);
    }
}
