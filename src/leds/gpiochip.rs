//! The Linux GPIO character device, uAPI v2 (`linux/gpio.h`): `/dev/gpiochipN`.
//!
//! The kernel structs are read and written as bytes through checked views, in the style of
//! `smoltcp::wire`: a view (`ChipInfo`, `LineInfo`, `LineRequest`, `LineValuesBuf`) checks
//! the buffer's length once and its accessors never read outside it; a `*Repr` is the parsed
//! (or to-be-emitted) content. Names the kernel did not NUL-terminate are taken whole, bytes
//! that are not UTF-8 are replaced: decoding never fails on content and never panics.
//!
//! `GpioChip` is what the LED backend needs from a chip (line info, one line request, set
//! values); `CdevChip` is the real device, through four ioctls on aligned buffers of exactly
//! the kernel's sizes, and fakes stand in for it in tests. Nothing here knows about LEDs.

use std::fmt;
use std::io;
use std::ops::Range;
#[cfg(target_os = "linux")]
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
#[cfg(target_os = "linux")]
use std::path::{Path, PathBuf};

/// `GPIO_MAX_NAME_SIZE`: chip names, labels, line names and consumers, NUL included.
pub const MAX_NAME_SIZE: usize = 32;
/// `GPIO_V2_LINES_MAX`: lines in one request.
pub const LINES_MAX: usize = 64;
/// `GPIO_V2_LINE_NUM_ATTRS_MAX`: attributes in a line info or a line config.
pub const NUM_ATTRS_MAX: usize = 10;

/// `enum gpio_v2_line_flag`.
pub mod flag {
    /// The line is held by the kernel or by another request (`gpioinfo`: "used").
    pub const USED: u64 = 1 << 0;
    pub const ACTIVE_LOW: u64 = 1 << 1;
    pub const INPUT: u64 = 1 << 2;
    pub const OUTPUT: u64 = 1 << 3;
}

/// `enum gpio_v2_line_attr_id`.
pub mod attr_id {
    pub const FLAGS: u32 = 1;
    pub const OUTPUT_VALUES: u32 = 2;
    pub const DEBOUNCE: u32 = 3;
}

/// The struct layouts: byte ranges as in `linux/gpio.h` (the same on x86_64, aarch64 and
/// armv7: every u64 there is `__aligned_u64`).
pub mod field {
    use std::ops::Range;

    /// `struct gpiochip_info`.
    pub mod chip_info {
        use super::Range;
        pub const NAME: Range<usize> = 0..32;
        pub const LABEL: Range<usize> = 32..64;
        pub const LINES: Range<usize> = 64..68;
        pub const LEN: usize = 68;
    }

    /// `struct gpio_v2_line_attribute` (relative to its start).
    pub mod attr {
        use super::Range;
        pub const ID: Range<usize> = 0..4;
        pub const PADDING: Range<usize> = 4..8;
        /// The union: `flags`, `values` (u64) or `debounce_period_us` (u32).
        pub const VALUE: Range<usize> = 8..16;
        pub const LEN: usize = 16;
    }

    /// `struct gpio_v2_line_config_attribute` (relative to its start).
    pub mod config_attr {
        use super::Range;
        pub const ATTR: Range<usize> = 0..16;
        pub const MASK: Range<usize> = 16..24;
        pub const LEN: usize = 24;
    }

    /// `struct gpio_v2_line_config` (relative to its start).
    pub mod config {
        use super::Range;
        pub const FLAGS: Range<usize> = 0..8;
        pub const NUM_ATTRS: Range<usize> = 8..12;
        pub const PADDING: Range<usize> = 12..32;
        pub const ATTRS: Range<usize> = 32..272;
        pub const LEN: usize = 272;
    }

    /// `struct gpio_v2_line_info`.
    pub mod line_info {
        use super::Range;
        pub const NAME: Range<usize> = 0..32;
        pub const CONSUMER: Range<usize> = 32..64;
        pub const OFFSET: Range<usize> = 64..68;
        pub const NUM_ATTRS: Range<usize> = 68..72;
        pub const FLAGS: Range<usize> = 72..80;
        pub const ATTRS: Range<usize> = 80..240;
        pub const PADDING: Range<usize> = 240..256;
        pub const LEN: usize = 256;
    }

    /// `struct gpio_v2_line_request`.
    pub mod line_request {
        use super::Range;
        pub const OFFSETS: Range<usize> = 0..256;
        pub const CONSUMER: Range<usize> = 256..288;
        pub const CONFIG: Range<usize> = 288..560;
        pub const NUM_LINES: Range<usize> = 560..564;
        pub const EVENT_BUFFER_SIZE: Range<usize> = 564..568;
        pub const PADDING: Range<usize> = 568..588;
        pub const FD: Range<usize> = 588..592;
        pub const LEN: usize = 592;
    }

    /// `struct gpio_v2_line_values`.
    pub mod line_values {
        use super::Range;
        pub const BITS: Range<usize> = 0..8;
        pub const MASK: Range<usize> = 8..16;
        pub const LEN: usize = 16;
    }
}

/// The ioctl argument buffers: exactly the kernel structs' sizes and alignments.
#[repr(C, align(4))]
pub struct ChipInfoBuf(pub [u8; field::chip_info::LEN]);
#[repr(C, align(8))]
pub struct LineInfoBuf(pub [u8; field::line_info::LEN]);
#[repr(C, align(8))]
pub struct LineRequestBuf(pub [u8; field::line_request::LEN]);
#[repr(C, align(8))]
pub struct LineValuesBuf(pub [u8; field::line_values::LEN]);

/// `_IOC(dir, type, nr, size)` of `asm-generic/ioctl.h` (x86, arm, arm64): 2 direction
/// bits, 14 size bits, 8 type bits, 8 number bits.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | (((size as u32) & 0x3fff) << 16) | (ty << 8) | nr
}
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;
const GPIO_IOCTL_TYPE: u32 = 0xB4;

/// `_IOR(0xB4, 0x01, struct gpiochip_info)`.
pub const GPIO_GET_CHIPINFO_IOCTL: u32 = ioc(
    IOC_READ,
    GPIO_IOCTL_TYPE,
    0x01,
    std::mem::size_of::<ChipInfoBuf>(),
);
/// `_IOWR(0xB4, 0x05, struct gpio_v2_line_info)`.
pub const GPIO_V2_GET_LINEINFO_IOCTL: u32 = ioc(
    IOC_READ | IOC_WRITE,
    GPIO_IOCTL_TYPE,
    0x05,
    std::mem::size_of::<LineInfoBuf>(),
);
/// `_IOWR(0xB4, 0x07, struct gpio_v2_line_request)`.
pub const GPIO_V2_GET_LINE_IOCTL: u32 = ioc(
    IOC_READ | IOC_WRITE,
    GPIO_IOCTL_TYPE,
    0x07,
    std::mem::size_of::<LineRequestBuf>(),
);
/// `_IOWR(0xB4, 0x0F, struct gpio_v2_line_values)`, on a line request's fd.
pub const GPIO_V2_LINE_SET_VALUES_IOCTL: u32 = ioc(
    IOC_READ | IOC_WRITE,
    GPIO_IOCTL_TYPE,
    0x0F,
    std::mem::size_of::<LineValuesBuf>(),
);

/// What a view or an emit refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is shorter than the struct.
    Truncated,
    /// More than `LINES_MAX` lines, or none.
    LineCount,
    /// More than `NUM_ATTRS_MAX` config attributes.
    TooManyAttrs,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "buffer shorter than the kernel struct",
            WireError::LineCount => "a line request takes 1 to 64 lines",
            WireError::TooManyAttrs => "a line config takes at most 10 attributes",
        })
    }
}

impl std::error::Error for WireError {}

fn check_len(buf: &[u8], len: usize) -> Result<(), WireError> {
    if buf.len() >= len {
        Ok(())
    } else {
        Err(WireError::Truncated)
    }
}

fn get_u32(buf: &[u8], at: usize) -> u32 {
    buf.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0)
}

fn get_u64(buf: &[u8], at: usize) -> u64 {
    buf.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// A `char[32]` name: up to its first NUL, or all of it when the kernel left none.
fn c_name(buf: &[u8], range: Range<usize>) -> &[u8] {
    let field = buf.get(range).unwrap_or(&[]);
    field.split(|&b| b == 0).next().unwrap_or(&[])
}

/// Writes `name` NUL-terminated into a `char[32]` (truncated to 31 bytes, rest zeroed).
fn put_name(buf: &mut [u8], range: Range<usize>, name: &str) {
    if let Some(dst) = buf.get_mut(range) {
        dst.fill(0);
        let n = name.len().min(dst.len().saturating_sub(1));
        if let (Some(d), Some(s)) = (dst.get_mut(..n), name.as_bytes().get(..n)) {
            d.copy_from_slice(s);
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `struct gpiochip_info` view.
pub struct ChipInfo<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ChipInfo<T> {
    pub fn new_checked(buffer: T) -> Result<ChipInfo<T>, WireError> {
        check_len(buffer.as_ref(), field::chip_info::LEN)?;
        Ok(ChipInfo { buffer })
    }
    /// The driver's name of the chip (`gpiochip0`).
    pub fn name(&self) -> &[u8] {
        c_name(self.buffer.as_ref(), field::chip_info::NAME)
    }
    /// The chip's label (`pinctrl-bcm2711`).
    pub fn label(&self) -> &[u8] {
        c_name(self.buffer.as_ref(), field::chip_info::LABEL)
    }
    pub fn lines(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::chip_info::LINES.start)
    }
}

/// A chip, as `GPIO_GET_CHIPINFO_IOCTL` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipInfoRepr {
    pub name: String,
    pub label: String,
    pub lines: u32,
}

impl ChipInfoRepr {
    pub fn parse<T: AsRef<[u8]>>(v: &ChipInfo<T>) -> ChipInfoRepr {
        ChipInfoRepr {
            name: lossy(v.name()),
            label: lossy(v.label()),
            lines: v.lines(),
        }
    }
}

/// A `struct gpio_v2_line_info` view.
pub struct LineInfo<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LineInfo<T> {
    pub fn new_checked(buffer: T) -> Result<LineInfo<T>, WireError> {
        check_len(buffer.as_ref(), field::line_info::LEN)?;
        Ok(LineInfo { buffer })
    }
    pub fn name(&self) -> &[u8] {
        c_name(self.buffer.as_ref(), field::line_info::NAME)
    }
    /// Who holds the line (a driver's label such as `ACT`, or a process's consumer name).
    pub fn consumer(&self) -> &[u8] {
        c_name(self.buffer.as_ref(), field::line_info::CONSUMER)
    }
    pub fn offset(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::line_info::OFFSET.start)
    }
    pub fn flags(&self) -> u64 {
        get_u64(self.buffer.as_ref(), field::line_info::FLAGS.start)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> LineInfo<T> {
    /// The one input of `GPIO_V2_GET_LINEINFO_IOCTL`: which line (the rest must be zero).
    pub fn set_offset(&mut self, offset: u32) {
        put(
            self.buffer.as_mut(),
            field::line_info::OFFSET.start,
            &offset.to_ne_bytes(),
        );
    }
}

/// One line, as `GPIO_V2_GET_LINEINFO_IOCTL` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineInfoRepr {
    pub name: String,
    pub consumer: String,
    pub offset: u32,
    pub flags: u64,
}

impl LineInfoRepr {
    pub fn parse<T: AsRef<[u8]>>(v: &LineInfo<T>) -> LineInfoRepr {
        LineInfoRepr {
            name: lossy(v.name()),
            consumer: lossy(v.consumer()),
            offset: v.offset(),
            flags: v.flags(),
        }
    }
    /// Held by the kernel or another request.
    pub fn used(&self) -> bool {
        self.flags & flag::USED != 0
    }
}

/// `struct gpio_v2_line_values`: `bits` for the lines in `mask`, bit i being the request's
/// i-th line (logical values: 1 is active, the kernel applies `ACTIVE_LOW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineValues {
    pub bits: u64,
    pub mask: u64,
}

impl LineValues {
    pub fn parse(buf: &[u8]) -> Result<LineValues, WireError> {
        check_len(buf, field::line_values::LEN)?;
        Ok(LineValues {
            bits: get_u64(buf, field::line_values::BITS.start),
            mask: get_u64(buf, field::line_values::MASK.start),
        })
    }
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        check_len(buf, field::line_values::LEN)?;
        put(
            buf,
            field::line_values::BITS.start,
            &self.bits.to_ne_bytes(),
        );
        put(
            buf,
            field::line_values::MASK.start,
            &self.mask.to_ne_bytes(),
        );
        Ok(())
    }
}

/// A `struct gpio_v2_line_request` view.
pub struct LineRequest<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LineRequest<T> {
    pub fn new_checked(buffer: T) -> Result<LineRequest<T>, WireError> {
        check_len(buffer.as_ref(), field::line_request::LEN)?;
        Ok(LineRequest { buffer })
    }
    pub fn num_lines(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::line_request::NUM_LINES.start)
    }
    /// The i-th requested offset (0 past the array).
    pub fn offset(&self, i: usize) -> u32 {
        if i >= LINES_MAX {
            return 0;
        }
        get_u32(
            self.buffer.as_ref(),
            field::line_request::OFFSETS.start + 4 * i,
        )
    }
    pub fn consumer(&self) -> &[u8] {
        c_name(self.buffer.as_ref(), field::line_request::CONSUMER)
    }
    pub fn config_flags(&self) -> u64 {
        get_u64(
            self.buffer.as_ref(),
            field::line_request::CONFIG.start + field::config::FLAGS.start,
        )
    }
    pub fn config_num_attrs(&self) -> u32 {
        get_u32(
            self.buffer.as_ref(),
            field::line_request::CONFIG.start + field::config::NUM_ATTRS.start,
        )
    }
    fn config_attr_start(i: usize) -> usize {
        field::line_request::CONFIG.start + field::config::ATTRS.start + i * field::config_attr::LEN
    }
    /// The i-th config attribute: (id, value, mask); zeros past the array.
    pub fn config_attr(&self, i: usize) -> (u32, u64, u64) {
        if i >= NUM_ATTRS_MAX {
            return (0, 0, 0);
        }
        let at = Self::config_attr_start(i);
        let b = self.buffer.as_ref();
        (
            get_u32(b, at + field::attr::ID.start),
            get_u64(b, at + field::attr::VALUE.start),
            get_u64(b, at + field::config_attr::MASK.start),
        )
    }
    pub fn event_buffer_size(&self) -> u32 {
        get_u32(
            self.buffer.as_ref(),
            field::line_request::EVENT_BUFFER_SIZE.start,
        )
    }
    /// The line request's fd, filled in by the kernel.
    pub fn fd(&self) -> i32 {
        get_u32(self.buffer.as_ref(), field::line_request::FD.start) as i32
    }
}

/// A request for lines: what `GPIO_V2_GET_LINE_IOCTL` is given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineRequestRepr {
    /// Line offsets on the chip; bit i of values and masks is `offsets[i]`.
    pub offsets: Vec<u32>,
    /// Shown by `gpioinfo` as the lines' holder (at most 31 bytes are kept).
    pub consumer: String,
    /// `flag::*` for every line.
    pub flags: u64,
    /// Initial output values (`GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES`), logical.
    pub output_values: Option<LineValues>,
}

impl LineRequestRepr {
    /// Reads a request back (what the kernel would see).
    pub fn parse<T: AsRef<[u8]>>(v: &LineRequest<T>) -> Result<LineRequestRepr, WireError> {
        let n = v.num_lines() as usize;
        if n == 0 || n > LINES_MAX {
            return Err(WireError::LineCount);
        }
        let attrs = v.config_num_attrs() as usize;
        if attrs > NUM_ATTRS_MAX {
            return Err(WireError::TooManyAttrs);
        }
        let output_values = (0..attrs)
            .map(|i| v.config_attr(i))
            .find(|(id, _, _)| *id == attr_id::OUTPUT_VALUES)
            .map(|(_, bits, mask)| LineValues { bits, mask });
        Ok(LineRequestRepr {
            offsets: (0..n).map(|i| v.offset(i)).collect(),
            consumer: lossy(v.consumer()),
            flags: v.config_flags(),
            output_values,
        })
    }

    /// Writes the request into `buf` (zeroing everything else, as the kernel requires of
    /// the padding).
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        use field::line_request as f;
        check_len(buf, f::LEN)?;
        if self.offsets.is_empty() || self.offsets.len() > LINES_MAX {
            return Err(WireError::LineCount);
        }
        if let Some(b) = buf.get_mut(..f::LEN) {
            b.fill(0);
        }
        for (i, o) in self.offsets.iter().enumerate() {
            put(buf, f::OFFSETS.start + 4 * i, &o.to_ne_bytes());
        }
        put_name(buf, f::CONSUMER, &self.consumer);
        let cfg = f::CONFIG.start;
        put(
            buf,
            cfg + field::config::FLAGS.start,
            &self.flags.to_ne_bytes(),
        );
        if let Some(v) = self.output_values {
            put(
                buf,
                cfg + field::config::NUM_ATTRS.start,
                &1u32.to_ne_bytes(),
            );
            let at = LineRequest::<&[u8]>::config_attr_start(0);
            put(
                buf,
                at + field::attr::ID.start,
                &attr_id::OUTPUT_VALUES.to_ne_bytes(),
            );
            put(buf, at + field::attr::VALUE.start, &v.bits.to_ne_bytes());
            put(
                buf,
                at + field::config_attr::MASK.start,
                &v.mask.to_ne_bytes(),
            );
        }
        put(
            buf,
            f::NUM_LINES.start,
            &(self.offsets.len() as u32).to_ne_bytes(),
        );
        Ok(())
    }
}

/// What the LED backend does with a GPIO chip: the real `CdevChip`, or a fake in tests.
pub trait GpioChip: Send {
    /// The line at `offset`: its name, who holds it, its flags.
    fn line_info(&mut self, offset: u32) -> io::Result<LineInfoRepr>;
    /// Requests the lines, all at once; they stay held until the chip is dropped (a second
    /// request releases the first).
    fn request_lines(&mut self, req: &LineRequestRepr) -> io::Result<()>;
    /// Sets the requested lines in `values.mask` to `values.bits`.
    fn set_values(&mut self, values: LineValues) -> io::Result<()>;
}

/// `ioctl(fd, request, buf)`, retried on EINTR. The caller passes a buffer of exactly the
/// size `request` encodes (each request constant is computed from its buffer type's size).
#[cfg(target_os = "linux")]
fn ioctl(fd: RawFd, request: u32, buf: *mut u8) -> io::Result<libc::c_int> {
    loop {
        // SAFETY: `buf` points to a live, writable, suitably aligned buffer of the size the
        // request encodes (see the callers); the kernel reads and writes only that many bytes.
        let r = unsafe { libc::ioctl(fd, request as libc::Ioctl, buf) };
        if r >= 0 {
            return Ok(r);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A GPIO chip device (`/dev/gpiochipN`), opened read-write; the requested lines are
/// released when it is dropped (their fd closes).
#[cfg(target_os = "linux")]
pub struct CdevChip {
    path: PathBuf,
    file: std::fs::File,
    info: ChipInfoRepr,
    lines: Option<OwnedFd>,
}

#[cfg(target_os = "linux")]
impl CdevChip {
    /// Opens `path` and reads its chip info. ENOTTY: not a GPIO chip.
    pub fn open(path: &Path) -> io::Result<CdevChip> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        let mut buf = ChipInfoBuf([0; field::chip_info::LEN]);
        ioctl(
            file.as_raw_fd(),
            GPIO_GET_CHIPINFO_IOCTL,
            buf.0.as_mut_ptr(),
        )?;
        let info = ChipInfo::new_checked(&buf.0[..])
            .map(|v| ChipInfoRepr::parse(&v))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(CdevChip {
            path: path.to_path_buf(),
            file,
            info,
            lines: None,
        })
    }

    pub fn info(&self) -> &ChipInfoRepr {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(target_os = "linux")]
impl GpioChip for CdevChip {
    fn line_info(&mut self, offset: u32) -> io::Result<LineInfoRepr> {
        let mut buf = LineInfoBuf([0; field::line_info::LEN]);
        let mut v = LineInfo::new_checked(&mut buf.0[..])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        v.set_offset(offset);
        ioctl(
            self.file.as_raw_fd(),
            GPIO_V2_GET_LINEINFO_IOCTL,
            buf.0.as_mut_ptr(),
        )?;
        LineInfo::new_checked(&buf.0[..])
            .map(|v| LineInfoRepr::parse(&v))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    fn request_lines(&mut self, req: &LineRequestRepr) -> io::Result<()> {
        let mut buf = LineRequestBuf([0; field::line_request::LEN]);
        req.emit(&mut buf.0)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        ioctl(
            self.file.as_raw_fd(),
            GPIO_V2_GET_LINE_IOCTL,
            buf.0.as_mut_ptr(),
        )?;
        let fd = LineRequest::new_checked(&buf.0[..])
            .map(|v| v.fd())
            .unwrap_or(-1);
        if fd < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the kernel returned no line request fd",
            ));
        }
        // SAFETY: the kernel just created this fd for us; nothing else owns it.
        self.lines = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        Ok(())
    }

    fn set_values(&mut self, values: LineValues) -> io::Result<()> {
        let Some(lines) = &self.lines else {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "no GPIO lines requested",
            ));
        };
        let mut buf = LineValuesBuf([0; field::line_values::LEN]);
        values
            .emit(&mut buf.0)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        ioctl(
            lines.as_raw_fd(),
            GPIO_V2_LINE_SET_VALUES_IOCTL,
            buf.0.as_mut_ptr(),
        )?;
        Ok(())
    }
}

/// The GPIO chip devices in `dev` (`gpiochip<N>`), in number order.
#[cfg(target_os = "linux")]
pub fn chip_paths(dev: &Path) -> Vec<PathBuf> {
    let mut chips: Vec<(u32, PathBuf)> = std::fs::read_dir(dev)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = name.to_str()?.strip_prefix("gpiochip")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    chips.sort();
    chips.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, size_of};

    #[test]
    fn ioctl_numbers_follow_the_ioc_formula_and_match_the_header() {
        // _IOC as asm-generic/ioctl.h computes it, from the struct sizes in linux/gpio.h
        assert_eq!(ioc(IOC_READ, 0xB4, 0x01, 68), 0x8044_B401);
        assert_eq!(GPIO_GET_CHIPINFO_IOCTL, 0x8044_B401);
        assert_eq!(GPIO_V2_GET_LINEINFO_IOCTL, 0xC100_B405);
        assert_eq!(GPIO_V2_GET_LINE_IOCTL, 0xC250_B407);
        assert_eq!(GPIO_V2_LINE_SET_VALUES_IOCTL, 0xC010_B40F);
        assert_eq!(size_of::<ChipInfoBuf>(), 68);
        assert_eq!(size_of::<LineInfoBuf>(), 256);
        assert_eq!(size_of::<LineRequestBuf>(), 592);
        assert_eq!(size_of::<LineValuesBuf>(), 16);
        assert_eq!(align_of::<LineInfoBuf>(), 8);
        assert_eq!(align_of::<LineRequestBuf>(), 8);
        assert_eq!(align_of::<LineValuesBuf>(), 8);
        // the nested structs fill their places exactly
        assert_eq!(
            field::attr::LEN * NUM_ATTRS_MAX,
            field::line_info::ATTRS.len()
        );
        assert_eq!(
            field::config_attr::LEN * NUM_ATTRS_MAX,
            field::config::ATTRS.len()
        );
        assert_eq!(field::config::LEN, field::line_request::CONFIG.len());
        assert_eq!(4 * LINES_MAX, field::line_request::OFFSETS.len());
        assert_eq!(field::line_request::FD.end, field::line_request::LEN);
        assert_eq!(field::line_info::PADDING.end, field::line_info::LEN);
    }

    /// Every offset and size against the installed linux/gpio.h, through the C compiler
    /// (skipped without `cc` or linux-libc-dev).
    #[test]
    fn layout_matches_linux_gpio_h() {
        let header = std::path::Path::new("/usr/include/linux/gpio.h");
        if !header.exists() {
            println!("SKIPPED: no /usr/include/linux/gpio.h (apt-get install linux-libc-dev)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("ravn-gpio-h-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = String::from(
            "#include <stdio.h>\n#include <stddef.h>\n#include <linux/gpio.h>\n\
             #define F(s, f) printf(#s \".\" #f \" %zu %zu\\n\", offsetof(struct s, f), sizeof(((struct s *)0)->f))\n\
             #define S(s) printf(#s \" 0 %zu\\n\", sizeof(struct s))\n\
             #define I(i) printf(#i \" %lu 0\\n\", (unsigned long)(i))\n\
             int main(void) {\n",
        );
        let r = |r: Range<usize>| (r.start, r.len());
        let mut want: Vec<(String, (usize, usize))> = Vec::new();
        let mut f = |s: &str, name: &str, v: (usize, usize)| {
            c.push_str(&format!("F({s}, {name});\n"));
            want.push((format!("{s}.{name}"), v));
        };
        use field::*;
        f("gpiochip_info", "name", r(chip_info::NAME));
        f("gpiochip_info", "label", r(chip_info::LABEL));
        f("gpiochip_info", "lines", r(chip_info::LINES));
        f("gpio_v2_line_attribute", "id", r(attr::ID));
        f("gpio_v2_line_attribute", "padding", r(attr::PADDING));
        f("gpio_v2_line_attribute", "values", r(attr::VALUE));
        f(
            "gpio_v2_line_config_attribute",
            "attr",
            r(config_attr::ATTR),
        );
        f(
            "gpio_v2_line_config_attribute",
            "mask",
            r(config_attr::MASK),
        );
        f("gpio_v2_line_config", "flags", r(config::FLAGS));
        f("gpio_v2_line_config", "num_attrs", r(config::NUM_ATTRS));
        f("gpio_v2_line_config", "padding", r(config::PADDING));
        f("gpio_v2_line_config", "attrs", r(config::ATTRS));
        f("gpio_v2_line_info", "name", r(line_info::NAME));
        f("gpio_v2_line_info", "consumer", r(line_info::CONSUMER));
        f("gpio_v2_line_info", "offset", r(line_info::OFFSET));
        f("gpio_v2_line_info", "num_attrs", r(line_info::NUM_ATTRS));
        f("gpio_v2_line_info", "flags", r(line_info::FLAGS));
        f("gpio_v2_line_info", "attrs", r(line_info::ATTRS));
        f("gpio_v2_line_info", "padding", r(line_info::PADDING));
        f("gpio_v2_line_request", "offsets", r(line_request::OFFSETS));
        f(
            "gpio_v2_line_request",
            "consumer",
            r(line_request::CONSUMER),
        );
        f("gpio_v2_line_request", "config", r(line_request::CONFIG));
        f(
            "gpio_v2_line_request",
            "num_lines",
            r(line_request::NUM_LINES),
        );
        f(
            "gpio_v2_line_request",
            "event_buffer_size",
            r(line_request::EVENT_BUFFER_SIZE),
        );
        f("gpio_v2_line_request", "padding", r(line_request::PADDING));
        f("gpio_v2_line_request", "fd", r(line_request::FD));
        f("gpio_v2_line_values", "bits", r(line_values::BITS));
        f("gpio_v2_line_values", "mask", r(line_values::MASK));
        for (s, len) in [
            ("gpiochip_info", chip_info::LEN),
            ("gpio_v2_line_attribute", attr::LEN),
            ("gpio_v2_line_config_attribute", config_attr::LEN),
            ("gpio_v2_line_config", config::LEN),
            ("gpio_v2_line_info", line_info::LEN),
            ("gpio_v2_line_request", line_request::LEN),
            ("gpio_v2_line_values", line_values::LEN),
        ] {
            c.push_str(&format!("S({s});\n"));
            want.push((s.to_string(), (0, len)));
        }
        for (name, v) in [
            ("GPIO_GET_CHIPINFO_IOCTL", GPIO_GET_CHIPINFO_IOCTL),
            ("GPIO_V2_GET_LINEINFO_IOCTL", GPIO_V2_GET_LINEINFO_IOCTL),
            ("GPIO_V2_GET_LINE_IOCTL", GPIO_V2_GET_LINE_IOCTL),
            (
                "GPIO_V2_LINE_SET_VALUES_IOCTL",
                GPIO_V2_LINE_SET_VALUES_IOCTL,
            ),
            ("GPIO_V2_LINE_FLAG_USED", flag::USED as u32),
            ("GPIO_V2_LINE_FLAG_ACTIVE_LOW", flag::ACTIVE_LOW as u32),
            ("GPIO_V2_LINE_FLAG_INPUT", flag::INPUT as u32),
            ("GPIO_V2_LINE_FLAG_OUTPUT", flag::OUTPUT as u32),
            ("GPIO_V2_LINE_ATTR_ID_FLAGS", attr_id::FLAGS),
            ("GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES", attr_id::OUTPUT_VALUES),
            ("GPIO_V2_LINE_ATTR_ID_DEBOUNCE", attr_id::DEBOUNCE),
            ("GPIO_MAX_NAME_SIZE", MAX_NAME_SIZE as u32),
            ("GPIO_V2_LINES_MAX", LINES_MAX as u32),
            ("GPIO_V2_LINE_NUM_ATTRS_MAX", NUM_ATTRS_MAX as u32),
        ] {
            c.push_str(&format!("I({name});\n"));
            want.push((name.to_string(), (v as usize, 0)));
        }
        c.push_str("return 0;\n}\n");
        let src = dir.join("layout.c");
        let exe = dir.join("layout");
        std::fs::write(&src, c).unwrap();
        let built = std::process::Command::new("cc")
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .output();
        let built = match built {
            Ok(o) => o,
            Err(e) => {
                println!("SKIPPED: no C compiler (cc: {e})");
                let _ = std::fs::remove_dir_all(&dir);
                return;
            }
        };
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let out = std::process::Command::new(&exe).output().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let out = String::from_utf8(out.stdout).unwrap();
        let got: Vec<(String, (usize, usize))> = out
            .lines()
            .map(|l| {
                let mut w = l.split(' ');
                let name = w.next().unwrap().to_string();
                let a = w.next().unwrap().parse().unwrap();
                let b = w.next().unwrap().parse().unwrap();
                (name, (a, b))
            })
            .collect();
        assert_eq!(got, want);
    }

    /// A line info as the kernel fills it in.
    fn line_info_bytes(name: &[u8], consumer: &[u8], offset: u32, flags: u64) -> Vec<u8> {
        let mut b = vec![0u8; field::line_info::LEN];
        b[..name.len()].copy_from_slice(name);
        b[32..32 + consumer.len()].copy_from_slice(consumer);
        b[64..68].copy_from_slice(&offset.to_ne_bytes());
        b[72..80].copy_from_slice(&flags.to_ne_bytes());
        b
    }

    #[test]
    fn line_info_decodes_names_offset_and_flags() {
        let b = line_info_bytes(b"GPIO42", b"ACT\0junk", 42, flag::USED | flag::OUTPUT);
        let v = LineInfo::new_checked(&b[..]).unwrap();
        let r = LineInfoRepr::parse(&v);
        assert_eq!(r.name, "GPIO42");
        assert_eq!(r.consumer, "ACT", "up to the NUL");
        assert_eq!(r.offset, 42);
        assert!(r.used());
        // a consumer that fills all 32 bytes without a NUL is taken whole, no more
        let b = line_info_bytes(b"", &[b'x'; 32], 3, 0);
        let mut b2 = b.clone();
        b2[64] = b'y'; // the offset's first byte right after the consumer
        let r = LineInfoRepr::parse(&LineInfo::new_checked(&b2[..]).unwrap());
        assert_eq!(r.consumer, "x".repeat(32));
        assert!(!r.used());
        // not UTF-8: replaced, not refused
        let b = line_info_bytes(b"\xff\xfe", b"a\x80b", 0, 0);
        let r = LineInfoRepr::parse(&LineInfo::new_checked(&b[..]).unwrap());
        assert_eq!(r.name, "\u{fffd}\u{fffd}");
        assert_eq!(r.consumer, "a\u{fffd}b");
        // short buffers are refused, not read
        assert_eq!(
            LineInfo::new_checked(&b[..255]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            ChipInfo::new_checked(&b[..67]).err(),
            Some(WireError::Truncated)
        );
    }

    #[test]
    fn chip_info_decodes() {
        let mut b = [0u8; 68];
        b[..9].copy_from_slice(b"gpiochip0");
        b[32..47].copy_from_slice(b"pinctrl-bcm2711");
        b[64..68].copy_from_slice(&58u32.to_ne_bytes());
        let r = ChipInfoRepr::parse(&ChipInfo::new_checked(&b[..]).unwrap());
        assert_eq!(
            r,
            ChipInfoRepr {
                name: "gpiochip0".into(),
                label: "pinctrl-bcm2711".into(),
                lines: 58
            }
        );
    }

    #[test]
    fn line_request_emits_offsets_consumer_flags_and_output_values() {
        let req = LineRequestRepr {
            offsets: vec![17, 27, 22],
            consumer: "ravn".into(),
            flags: flag::OUTPUT | flag::ACTIVE_LOW,
            output_values: Some(LineValues {
                bits: 0b010,
                mask: 0b111,
            }),
        };
        let mut buf = [0xAAu8; 600];
        req.emit(&mut buf).unwrap();
        let ne32 = |at: usize| u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap());
        let ne64 = |at: usize| u64::from_ne_bytes(buf[at..at + 8].try_into().unwrap());
        assert_eq!((ne32(0), ne32(4), ne32(8), ne32(12)), (17, 27, 22, 0));
        assert_eq!(&buf[256..261], b"ravn\0");
        assert_eq!(ne64(288), flag::OUTPUT | flag::ACTIVE_LOW, "config.flags");
        assert_eq!(ne32(296), 1, "config.num_attrs");
        assert_eq!(ne32(320), attr_id::OUTPUT_VALUES, "attrs[0].attr.id");
        assert_eq!(ne64(328), 0b010, "attrs[0].attr.values");
        assert_eq!(ne64(336), 0b111, "attrs[0].mask");
        assert_eq!(ne32(560), 3, "num_lines");
        assert_eq!(ne32(564), 0, "event_buffer_size");
        // padding zeroed, bytes past the struct untouched
        assert!(buf[568..592].iter().all(|&b| b == 0));
        assert!(buf[592..].iter().all(|&b| b == 0xAA));
        let back = LineRequestRepr::parse(&LineRequest::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(back, req);
        // limits
        let mut long = req.clone();
        long.consumer = "c".repeat(40);
        long.emit(&mut buf).unwrap();
        assert_eq!(
            &buf[256..288],
            [b'c'; 31].iter().chain(&[0]).copied().collect::<Vec<_>>()
        );
        long.offsets = (0..65).collect();
        assert_eq!(long.emit(&mut buf), Err(WireError::LineCount));
        long.offsets.clear();
        assert_eq!(long.emit(&mut buf), Err(WireError::LineCount));
        assert_eq!(req.emit(&mut [0u8; 591]), Err(WireError::Truncated));
        let mut v = [0u8; 16];
        LineValues { bits: 1, mask: 4 }.emit(&mut v).unwrap();
        assert_eq!(LineValues::parse(&v), Ok(LineValues { bits: 1, mask: 4 }));
        assert_eq!(LineValues::parse(&v[..15]), Err(WireError::Truncated));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..2000 {
            let len = (next() % 700) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 3 == 0 {
                // plausible counts, to reach the attribute and offset loops
                if let Some(n) = b.get_mut(560) {
                    *n = (round % 70) as u8;
                }
                if let Some(n) = b.get_mut(296) {
                    *n = (round % 12) as u8;
                }
                for at in [561, 562, 563, 297, 298, 299] {
                    if let Some(n) = b.get_mut(at) {
                        *n = 0;
                    }
                }
            }
            if let Ok(v) = ChipInfo::new_checked(&b[..]) {
                let _ = ChipInfoRepr::parse(&v);
            }
            if let Ok(v) = LineInfo::new_checked(&b[..]) {
                let _ = LineInfoRepr::parse(&v);
            }
            if let Ok(v) = LineRequest::new_checked(&b[..]) {
                let _ = LineRequestRepr::parse(&v);
                let _ = (v.fd(), v.event_buffer_size(), v.offset(usize::MAX));
                let _ = v.config_attr(usize::MAX);
            }
            let _ = LineValues::parse(&b);
            let mut out = b.clone();
            let _ = LineValues::default().emit(&mut out);
            let _ = LineRequestRepr {
                offsets: vec![1],
                ..Default::default()
            }
            .emit(&mut out);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn chip_paths_are_gpiochip_n_in_number_order() {
        let dir = std::env::temp_dir().join(format!("ravn-gpiochips-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for n in [
            "gpiochip10",
            "gpiochip2",
            "gpiochip0",
            "gpiochipX",
            "gpiomem",
        ] {
            std::fs::write(dir.join(n), "").unwrap();
        }
        let names: Vec<String> = chip_paths(&dir)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["gpiochip0", "gpiochip2", "gpiochip10"]);
        // a file that is not a GPIO chip: an error from the ioctl (ENOTTY), no panic
        let e = CdevChip::open(&dir.join("gpiochip0")).err().unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY), "{e}");
        assert!(chip_paths(&dir.join("nonexistent")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
