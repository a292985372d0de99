//! The reassembly memory: fixed-size blocks carved out of one buffer sized by
//! `stream.reassembly.memcap`, handed out from a free list. Nothing is allocated after
//! construction; the buffer is zeroed by the allocator (pages are touched only when a block
//! is first used), so an idle sensor does not pay for the budget in resident memory.

/// Bytes per block. A stream holds its data in blocks chained by stream offset.
pub const BLOCK: usize = 2048;

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
    free: Vec<u32>,
}

impl BlockPool {
    /// A pool of `memcap / BLOCK` blocks (at least one).
    pub fn new(memcap: u64) -> BlockPool {
        let n = (memcap / BLOCK as u64).clamp(1, u32::MAX as u64 - 1) as usize;
        BlockPool {
            data: vec![0; n * BLOCK],
            offset: vec![0; n],
            next: vec![NONE; n],
            used: vec![false; n],
            free: (0..n as u32).rev().collect(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.offset.len()
    }

    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// Bytes in blocks that are in use (Suricata's `tcp.reassembly_memuse`).
    pub fn memuse(&self) -> u64 {
        ((self.capacity() - self.free.len()) * BLOCK) as u64
    }

    pub fn alloc(&mut self, offset: u64, next: u32) -> Option<u32> {
        let b = self.free.pop()?;
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
