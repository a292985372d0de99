//! The flow table: packets grouped into bidirectional flows by 5-tuple (and VLAN ids).
//!
//! Memory is fixed at construction: `max_flows` slots are preallocated and the index never
//! grows past them. When the table is full, the least recently seen flow is evicted and
//! counted. A flow whose last packet is older than its protocol's timeout is replaced by a
//! new one. The first packet of a flow defines its "client" (Suricata's to_server side).
//!
//! Detection keeps per-flow state here (IP-only rules are inspected once per direction;
//! a matched pass rule can pass the whole flow). TCP reassembly and app-layer state are meant
//! to hang off `Flow` next.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::capture::Timestamp;
use crate::decode::{Packet, L4};

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

/// A normalised flow key: the lower endpoint first, so both directions hash alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: (IpAddr, u16),
    pub hi: (IpAddr, u16),
    pub proto: u8,
    pub vlan: [u16; 2],
}

impl FlowKey {
    pub fn of(p: &Packet<'_>) -> Option<FlowKey> {
        let ip = p.ip?;
        let (sp, dp) = match p.l4 {
            L4::Tcp(t) => (t.src_port, t.dst_port),
            L4::Udp(u) => (u.src_port, u.dst_port),
            _ => (0, 0),
        };
        let a = (ip.src, sp);
        let b = (ip.dst, dp);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let vlan = [
            if p.vlan_count > 0 { p.vlan[0] } else { 0 },
            if p.vlan_count > 1 { p.vlan[1] } else { 0 },
        ];
        Some(FlowKey {
            lo,
            hi,
            proto: ip.proto,
            vlan,
        })
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
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub key: FlowKey,
    pub id: u64,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub proto: u8,
    pub start: Timestamp,
    pub last: Timestamp,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub state: FlowState,
    /// IP-only rules were already inspected in this direction.
    pub iponly_toserver: bool,
    pub iponly_toclient: bool,
    /// A pass rule matched for the whole flow: no more inspection.
    pub pass: bool,
    pub alerted: bool,
    /// The application protocol, once identified (`applayer`).
    pub app_proto: Option<&'static str>,
    /// Identification was tried (and, if `app_proto` is None, failed).
    pub app_probed: bool,
    tcp_syn_seen: bool,
    tcp_synack_seen: bool,
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
}

/// What `FlowTable::update` tells the caller about a packet.
#[derive(Debug, Clone, Copy)]
pub struct FlowRef {
    pub slot: u32,
    pub dir: Direction,
}

pub struct FlowTable {
    slots: Vec<Option<Flow>>,
    index: HashMap<FlowKey, u32>,
    free: Vec<u32>,
    timeouts: Timeouts,
    pub stats: FlowStats,
    next_id: u64,
}

impl FlowTable {
    pub fn new(max_flows: usize, timeouts: Timeouts) -> FlowTable {
        let max_flows = max_flows.max(1);
        FlowTable {
            slots: (0..max_flows).map(|_| None).collect(),
            index: HashMap::with_capacity(max_flows),
            free: (0..max_flows as u32).rev().collect(),
            timeouts,
            stats: FlowStats::default(),
            next_id: 1,
        }
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

    pub fn active(&self) -> usize {
        self.index.len()
    }

    fn timeout_for(&self, f: &Flow) -> u32 {
        let t = &self.timeouts;
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

    /// Find or create the packet's flow and account the packet to it.
    pub fn update(&mut self, p: &Packet<'_>) -> Option<FlowRef> {
        let key = FlowKey::of(p)?;
        let ip = p.ip?;
        let src = (ip.src, p.src_port().unwrap_or(0));
        let slot = match self.index.get(&key).copied() {
            Some(s) => {
                let expired = {
                    let f = self.slots[s as usize].as_ref()?;
                    p.ts.secs - f.last.secs > self.timeout_for(f) as i64
                };
                if expired {
                    self.stats.timeouts += 1;
                    self.remove(s);
                    self.create(key, src, p)
                } else {
                    s
                }
            }
            None => self.create(key, src, p),
        };
        let f = self.slots[slot as usize].as_mut()?;
        let dir = if src == f.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        f.last = p.ts;
        match dir {
            Direction::ToServer => {
                f.pkts_toserver += 1;
                f.bytes_toserver += p.len as u64;
            }
            Direction::ToClient => {
                f.pkts_toclient += 1;
                f.bytes_toclient += p.len as u64;
            }
        }
        if let L4::Tcp(t) = p.l4 {
            use crate::decode::packet::tcpflag::*;
            if t.flags & (RST | FIN) != 0 {
                f.state = FlowState::Closed;
            } else if t.flags & SYN != 0 && t.flags & ACK == 0 {
                f.tcp_syn_seen = true;
            } else if t.flags & (SYN | ACK) == SYN | ACK {
                f.tcp_synack_seen = true;
            } else if t.flags & ACK != 0
                && f.tcp_syn_seen
                && f.tcp_synack_seen
                && f.state == FlowState::New
            {
                f.state = FlowState::Established;
            }
        } else if f.pkts_toserver > 0 && f.pkts_toclient > 0 && f.state == FlowState::New {
            f.state = FlowState::Established;
        }
        if let L4::Udp(u) = p.l4 {
            if !f.app_probed && !p.payload.is_empty() {
                f.app_probed = true;
                f.app_proto = crate::applayer::probe_udp(u.src_port, u.dst_port, p.payload);
            }
        }
        Some(FlowRef { slot, dir })
    }

    fn remove(&mut self, slot: u32) {
        if let Some(f) = self.slots[slot as usize].take() {
            self.index.remove(&f.key);
            self.free.push(slot);
        }
    }

    fn create(&mut self, key: FlowKey, client: (IpAddr, u16), p: &Packet<'_>) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                // Full: evict the least recently seen flow.
                let victim = self
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, f)| f.as_ref().map(|f| (f.last, i)))
                    .min()
                    .map(|(_, i)| i as u32)
                    .unwrap_or(0);
                self.stats.evicted += 1;
                self.remove(victim);
                self.free.pop().unwrap_or(victim)
            }
        };
        let server = if key.lo == client { key.hi } else { key.lo };
        self.stats.total += 1;
        match key.proto {
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
            proto: key.proto,
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
            app_proto: None,
            app_probed: false,
            tcp_syn_seen: false,
            tcp_synack_seen: false,
        });
        self.index.insert(key, slot);
        slot
    }

    /// Every live flow, for end-of-run accounting.
    pub fn flows(&self) -> impl Iterator<Item = &Flow> {
        self.slots.iter().flatten()
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
