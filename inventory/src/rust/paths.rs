//! What paths name: the crates, modules and functions that make a capability (`net`, `process`,
//! `fs`, `env`), and the `use` trees that say whether `Command` is std's.

use syn::visit::Visit;

use crate::model::CapabilityKind;

/// HTTP and socket crates whose use is network access.
pub(super) const NET_CRATES: &[&str] = &[
    "reqwest",
    "ureq",
    "hyper",
    "curl",
    "isahc",
    "attohttpc",
    "surf",
    "minreq",
    "http_req",
    "awc",
    "socket2",
    "tungstenite",
    "tokio_tungstenite",
    "websocket",
    "ssh2",
    "russh",
    "lettre",
    "trust_dns_resolver",
    "hickory_resolver",
];
/// Socket types and resolver calls.
pub(super) const SOCKET_ITEMS: &[&str] = &[
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "UnixStream",
    "UnixListener",
    "UnixDatagram",
    "ToSocketAddrs",
    "lookup_host",
];
/// Runtimes with a `net` module of sockets.
pub(super) const NET_MODULES: &[&str] =
    &["tokio", "async_std", "mio", "smol", "async_net", "async_io"];
/// libc socket calls.
pub(super) const LIBC_NET: &[&str] = &[
    "socket",
    "connect",
    "bind",
    "listen",
    "accept",
    "sendto",
    "recvfrom",
    "getaddrinfo",
    "gethostbyname",
];
/// Calls that start programs (libc, nix, Windows).
pub(super) const EXEC_CALLS: &[&str] = &[
    "execv",
    "execve",
    "execvp",
    "execvpe",
    "execl",
    "execlp",
    "execle",
    "fexecve",
    "posix_spawn",
    "posix_spawnp",
    "fork",
    "vfork",
    "system",
    "popen",
    "CreateProcessA",
    "CreateProcessW",
    "CreateProcessAsUserW",
    "ShellExecuteA",
    "ShellExecuteW",
    "ShellExecuteExW",
    "WinExec",
];
/// Environment-variable functions of `std::env`.
pub(super) const ENV_FNS: &[&str] = &["var", "var_os", "vars", "vars_os", "set_var", "remove_var"];

#[derive(Default)]
pub(super) struct Imports {
    /// `Command` imported from a `process` module.
    pub(super) process_command: bool,
}

impl<'ast> Visit<'ast> for Imports {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        for path in flatten_use(&u.tree) {
            let process = path.iter().any(|s| s == "process");
            if process
                && matches!(
                    path.last().map(String::as_str),
                    Some("Command" | "*" | "{self}")
                )
            {
                self.process_command = true;
            }
        }
    }
}

/// Every path a `use` tree imports, as segments.
pub(super) fn flatten_use(tree: &syn::UseTree) -> Vec<Vec<String>> {
    fn go(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                go(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut p = prefix.clone();
                p.push(n.ident.to_string());
                out.push(p);
            }
            syn::UseTree::Rename(r) => {
                let mut p = prefix.clone();
                p.push(r.ident.to_string());
                out.push(p);
            }
            syn::UseTree::Glob(_) => {
                let mut p = prefix.clone();
                p.push("*".into());
                out.push(p);
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    go(t, prefix, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    go(tree, &mut Vec::new(), &mut out);
    out
}

/// What a path names, as a capability (`Command` is std's when `command_imported`).
pub(super) fn classify(
    segs: &[String],
    command_imported: bool,
) -> Option<(CapabilityKind, Option<String>)> {
    let first = segs.first()?.as_str();
    let last = segs.last()?.as_str();
    if NET_CRATES.contains(&first) && segs.len() > 1 {
        return Some((CapabilityKind::Net, Some(first.to_owned())));
    }
    if segs.iter().any(|s| SOCKET_ITEMS.contains(&s.as_str())) {
        return Some((CapabilityKind::Net, None));
    }
    if segs.len() > 1 && NET_MODULES.contains(&first) && segs[1] == "net" {
        return Some((CapabilityKind::Net, None));
    }
    if first == "libc" && segs.len() == 2 && LIBC_NET.contains(&last) {
        return Some((CapabilityKind::Net, None));
    }
    let process_command = segs
        .windows(2)
        .any(|w| w[0] == "process" && w[1] == "Command")
        || (first == "Command" && command_imported && segs.len() == 2 && last == "new")
        || segs.iter().any(|s| s == "CommandExt");
    if process_command {
        return Some((CapabilityKind::Process, None));
    }
    if segs.len() >= 2
        && matches!(
            first,
            "libc" | "nix" | "windows" | "windows_sys" | "winapi" | "unistd"
        )
        && EXEC_CALLS.contains(&last)
    {
        return Some((CapabilityKind::Process, None));
    }
    if matches!(
        last,
        "CreateProcessW" | "CreateProcessA" | "ShellExecuteW" | "ShellExecuteA" | "WinExec"
    ) {
        return Some((CapabilityKind::Process, None));
    }
    if segs.len() >= 2 {
        let env_fn = segs
            .windows(2)
            .any(|w| w[0] == "env" && ENV_FNS.contains(&w[1].as_str()));
        if env_fn || matches!(first, "dotenv" | "dotenvy") {
            return Some((CapabilityKind::Env, None));
        }
        let fs = segs.windows(2).any(|w| {
            matches!(
                w[0].as_str(),
                "std" | "tokio" | "async_std" | "async_fs" | "fs_err"
            ) && w[1] == "fs"
        }) || (first == "fs" && segs.len() == 2)
            || matches!(first, "fs_err")
            || (matches!(first, "File")
                && matches!(last, "open" | "create" | "create_new" | "options"))
            || first == "OpenOptions";
        if fs {
            return Some((CapabilityKind::Fs, None));
        }
    }
    None
}
