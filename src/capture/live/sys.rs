//! Small wrappers over the Linux calls the live sources share, with errors that say which
//! interface or capability is missing.

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use super::LiveError;
use crate::capture::Timestamp;

/// The index of interface `name`, or an error naming it.
pub fn ifindex(name: &str) -> Result<u32, LiveError> {
    let c =
        CString::new(name).map_err(|_| LiveError(format!("interface `{name}`: invalid name")))?;
    // SAFETY: c is a valid C string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(LiveError(format!("interface `{name}` not found")));
    }
    Ok(i)
}

/// Explains a failed socket()/bind()/setsockopt() on a capture socket: a permission error
/// names the capability it needs.
pub fn socket_error(what: &str, iface: &str, cap: &str, e: io::Error) -> LiveError {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => LiveError(format!(
            "{what} on interface `{iface}`: permission denied: ravn needs {cap} (run as root or grant it, e.g. AmbientCapabilities={cap})"
        )),
        Some(libc::ENODEV) | Some(libc::ENXIO) => {
            LiveError(format!("{what}: interface `{iface}` not found ({e})"))
        }
        Some(libc::ENETDOWN) => LiveError(format!("{what}: interface `{iface}` is down ({e})")),
        _ => LiveError(format!("{what} on interface `{iface}`: {e}")),
    }
}

/// socket(2) as an owned fd.
pub fn socket(domain: i32, ty: i32, proto: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned from here on.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// setsockopt(2) with a plain-data value.
pub fn setsockopt<T>(fd: i32, level: i32, name: i32, v: &T) -> io::Result<()> {
    // SAFETY: v points to size_of::<T>() readable bytes.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            v as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// getsockopt(2) into a plain-data value.
pub fn getsockopt<T: Default>(fd: i32, level: i32, name: i32) -> io::Result<T> {
    let mut v = T::default();
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: v has size_of::<T>() writable bytes; len says so.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            &mut v as *mut T as *mut libc::c_void,
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(v)
}

/// Waits up to `ms` for `fd` to become readable; true when it is.
pub fn wait_readable(fd: i32, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// The wall clock now.
pub fn realtime() -> Timestamp {
    crate::replay::now()
}
