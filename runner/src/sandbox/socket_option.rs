//! Reading a socket's `SOL_SOCKET` options that nix does not wrap (`SO_DOMAIN`,
//! `SO_PROTOCOL`, `SO_NETNS_COOKIE`) or wraps too narrowly (its `SO_TYPE` fails on the types
//! its `SockType` does not list): one raw `getsockopt`, for the plain integer types these
//! options return.

use std::os::fd::{AsRawFd, BorrowedFd};

/// An integer type a `SOL_SOCKET` option returns. Sealed: only types for which every bit
/// pattern the kernel writes is a valid value.
pub(crate) trait OptionValue: Copy + Default + sealed::Sealed {}
impl OptionValue for i32 {}
impl OptionValue for u64 {}

mod sealed {
    pub(crate) trait Sealed {}
    impl Sealed for i32 {}
    impl Sealed for u64 {}
}

/// The value of `SOL_SOCKET` option `option` of `socket`, if the kernel gives one of the
/// expected size.
pub(crate) fn socket_option<T: OptionValue>(socket: BorrowedFd<'_>, option: i32) -> Option<T> {
    let mut value = T::default();
    let size = std::mem::size_of::<T>() as libc::socklen_t;
    let mut len = size;
    // SAFETY: value/len describe a writable T, an integer type any bytes are valid for.
    let r = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    };
    (r == 0 && len == size).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn reads_a_sockets_domain_type_and_namespace_cookie() {
        let (a, _b) = UnixDatagram::pair().unwrap();
        let fd = a.as_fd();
        assert_eq!(
            socket_option::<i32>(fd, libc::SO_DOMAIN),
            Some(libc::AF_UNIX)
        );
        assert_eq!(
            socket_option::<i32>(fd, libc::SO_TYPE),
            Some(libc::SOCK_DGRAM)
        );
        // Linux 5.14+; the same namespace gives the same cookie.
        let (c, _d) = UnixDatagram::pair().unwrap();
        assert_eq!(
            socket_option::<u64>(fd, libc::SO_NETNS_COOKIE),
            socket_option::<u64>(c.as_fd(), libc::SO_NETNS_COOKIE)
        );
        // A u64 option read as an i32 is refused rather than cut short.
        assert_eq!(socket_option::<i32>(fd, libc::SO_NETNS_COOKIE), None);
    }
}
