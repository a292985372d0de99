//! The reassembly memory: fixed-size blocks carved out of one buffer sized by
//! `stream.reassembly.memcap`, handed out from a free list. Nothing is allocated after
//! construction; the buffer is zeroed by the allocator (pages are touched only when a block
//! is first used), so an idle sensor does not pay for the budget in resident memory.

/// Bytes per block. A stream holds its data in blocks chained by stream offset.
pub const BLOCK: usize = 512;

/// No block (end of a chain).
pub const NONE: u32 = u32::MAX;

pub struct BlockPool {
    data: Vec<u8>,
    /// Stream offset of each block's first byte (a multiple of `BLOCK`).
    offset: Vec<u64>,
    /// The next block of the same stream, by offset, or `NONE`.
    next: Vec<u32>,
    /// Handed out (a release of a free block is ignored: the free list stays exact).
    used: Vec<bool>,
    /// Released blocks, reused first (most recently released on top: warm pages).
    free: Vec<u32>,
    /// Blocks at and above this index were never handed out. Every vector here is
    /// zero-allocated and written only as blocks are first used, so the pool's resident
    /// memory follows what the streams hold, not `memcap`.
    fresh: u32,
}

impl BlockPool {
    /// A pool of `memcap / BLOCK` blocks (at least one).
    pub fn new(memcap: u64) -> BlockPool {
        let n = (memcap / BLOCK as u64).clamp(1, u32::MAX as u64 - 1) as usize;
        BlockPool {
            data: vec![0; n * BLOCK],
            offset: vec![0; n],
            next: vec![0; n],
            used: vec![false; n],
            free: Vec::with_capacity(n),
            fresh: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.offset.len()
    }

    pub fn available(&self) -> usize {
        self.free.len() + (self.capacity() - self.fresh as usize)
    }

    /// Bytes in blocks that are in use (Suricata's `tcp.reassembly_memuse`).
    pub fn memuse(&self) -> u64 {
        ((self.capacity() - self.available()) * BLOCK) as u64
    }

    pub fn alloc(&mut self, offset: u64, next: u32) -> Option<u32> {
        let b = match self.free.pop() {
            Some(b) => b,
            None if (self.fresh as usize) < self.capacity() => {
                self.fresh += 1;
                self.fresh - 1
            }
            None => return None,
        };
        self.used[b as usize] = true;
        self.offset[b as usize] = offset;
        self.next[b as usize] = next;
        Some(b)
    }

    pub fn release(&mut self, b: u32) {
        if self.used.get(b as usize) == Some(&true) {
            self.used[b as usize] = false;
            self.next[b as usize] = NONE;
            self.free.push(b);
        }
    }

    pub fn offset(&self, b: u32) -> u64 {
        self.offset[b as usize]
    }

    pub fn next(&self, b: u32) -> u32 {
        self.next[b as usize]
    }

    pub fn set_next(&mut self, b: u32, next: u32) {
        self.next[b as usize] = next;
    }

    pub fn bytes(&self, b: u32) -> &[u8] {
        let s = b as usize * BLOCK;
        &self.data[s..s + BLOCK]
    }

    pub fn bytes_mut(&mut self, b: u32) -> &mut [u8] {
        let s = b as usize * BLOCK;
        &mut self.data[s..s + BLOCK]
    }
}
