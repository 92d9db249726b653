//! The engine of cargo-airlock: the kernel sandbox (Landlock, seccomp with user notification,
//! namespaces, capabilities, limits), the event vocabulary it records, and the profiles that
//! configure it.
