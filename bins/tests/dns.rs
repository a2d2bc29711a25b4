//! DNS service discovery asked by the real `dig` (Debian's `bind9-dnsutils`,
//! installed by `scripts/setup`): a `DnsServer` on 127.0.0.1, port 0, over a
//! catalog of two passing redis instances (one tagged `primary`), a failing
//! one, a service without checks and an IPv6 one. Every query is bounded by
//! `+time=2 +tries=1` and an outer timeout.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bins::agent::dns::{DnsConfig, DnsServer};
use scheduler_drivers::catalog::{ServiceCatalog, ServiceInstance};
use scheduler_drivers::checks::{CheckStatus, CheckUpdate};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

/// Beyond dig's own `+time=2 +tries=1`, in case it hangs anyway.
const DIG_DEADLINE: Duration = Duration::from_secs(10);

const REDIS_PRIMARY_CHECK: &str = "a1/cache/redis/alive";
const REDIS_REPLICA_CHECK: &str = "a2/cache/redis/alive";

fn instance(
    alloc: &str,
    service: &str,
    tags: &[&str],
    address: &str,
    port: u16,
    check: Option<CheckStatus>,
) -> ServiceInstance {
    ServiceInstance {
        id: format!("{alloc}/cache/{service}/db"),
        service_name: service.to_owned(),
        tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
        alloc_id: alloc.to_owned(),
        node_id: "node-1".to_owned(),
        address: address.to_owned(),
        port,
        checks: check
            .map(|status| BTreeMap::from([(format!("{alloc}/cache/{service}/alive"), status)]))
            .unwrap_or_default(),
    }
}

/// A server over the catalog the module doc describes.
async fn start_server() -> (DnsServer, Arc<ServiceCatalog>) {
    let catalog = Arc::new(ServiceCatalog::new());
    let passing = Some(CheckStatus::Passing);
    catalog.register(instance(
        "a1",
        "redis",
        &["primary"],
        "127.0.0.1",
        6379,
        passing,
    ));
    catalog.register(instance(
        "a2",
        "redis",
        &["replica"],
        "127.0.0.2",
        6380,
        passing,
    ));
    // Failing, and tagged primary too: no query may return it.
    let critical = Some(CheckStatus::Critical);
    catalog.register(instance(
        "a3",
        "redis",
        &["primary"],
        "127.0.0.3",
        6381,
        critical,
    ));
    catalog.register(instance("a4", "web", &[], "127.0.0.4", 8080, None));
    catalog.register(instance("a5", "metrics", &[], "::1", 9090, None));
    let config = DnsConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..DnsConfig::default()
    };
    let server = DnsServer::start(config, catalog.clone())
        .await
        .expect("the DNS server starts");
    assert_ne!(server.local_addr().port(), 0, "the bound port is reported");
    (server, catalog)
}

/// `dig @127.0.0.1 -p PORT +time=2 +tries=1 ARGS...`: its standard output.
/// Fails the test when dig is missing or gets no reply (exit 9).
async fn dig(server: &DnsServer, args: &[&str]) -> String {
    let port = server.local_addr().port().to_string();
    let mut command = tokio::process::Command::new("dig");
    command
        .args(["@127.0.0.1", "-p", &port, "+time=2", "+tries=1"])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(DIG_DEADLINE, command.output()).await {
        Err(_) => panic!("dig {args:?} did not finish in {DIG_DEADLINE:?}"),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`dig` is not installed: these tests need it; run scripts/setup \
             or `apt-get install -y bind9-dnsutils`"
        ),
        Ok(Err(e)) => panic!("running dig: {e}"),
        Ok(Ok(output)) => output,
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "dig {args:?} failed ({}): {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The lines of a `+short` answer, sorted (answer order is not promised).
async fn dig_short(server: &DnsServer, args: &[&str]) -> Vec<String> {
    let mut all_args = args.to_vec();
    all_args.push("+short");
    let mut lines: Vec<String> = dig(server, &all_args)
        .await
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// The response code from dig's header comments (`status: NXDOMAIN`).
fn status(output: &str) -> &str {
    output
        .split("status: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no status in dig's output: {output}"))
}

/// The records of dig's output, whitespace collapsed, comments dropped.
fn records(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|line| !line.starts_with(';') && !line.trim().is_empty())
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn check_update(id: &str, status: CheckStatus) -> CheckUpdate {
    CheckUpdate {
        id: id.to_owned(),
        status,
        output: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_records_list_passing_instances_only() {
    let (server, _catalog) = start_server().await;
    let redis = ["127.0.0.1", "127.0.0.2"];
    assert_eq!(
        dig_short(&server, &["redis.service.consul", "A"]).await,
        redis
    );
    assert_eq!(
        dig_short(&server, &["redis.service.consul", "ANY"]).await,
        redis
    );
    assert_eq!(
        dig_short(&server, &["REDIS.Service.CONSUL", "A"]).await,
        redis
    );
    // No checks at all counts as passing.
    assert_eq!(
        dig_short(&server, &["web.service.consul", "A"]).await,
        ["127.0.0.4"]
    );
    // IPv6 addresses are AAAA records; an A query for them has no data.
    assert_eq!(
        dig_short(&server, &["metrics.service.consul", "AAAA"]).await,
        ["::1"]
    );
    let no_data = dig(&server, &["metrics.service.consul", "A"]).await;
    assert_eq!(status(&no_data), "NOERROR");
    assert!(no_data.contains("ANSWER: 0"), "{no_data}");
    assert!(no_data.contains("flags: qr aa"), "authoritative: {no_data}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srv_records_name_address_targets_resolved_in_additional() {
    let (server, _catalog) = start_server().await;
    let srv = [
        "1 1 6379 7f000001.addr.consul.",
        "1 1 6380 7f000002.addr.consul.",
    ];
    assert_eq!(
        dig_short(&server, &["redis.service.consul", "SRV"]).await,
        srv
    );
    let full = dig(
        &server,
        &[
            "_redis._tcp.service.consul",
            "SRV",
            "+noall",
            "+answer",
            "+additional",
        ],
    )
    .await;
    let mut found = records(&full);
    found.sort();
    assert_eq!(
        found,
        [
            "7f000001.addr.consul. 0 IN A 127.0.0.1",
            "7f000002.addr.consul. 0 IN A 127.0.0.2",
            "_redis._tcp.service.consul. 0 IN SRV 1 1 6379 7f000001.addr.consul.",
            "_redis._tcp.service.consul. 0 IN SRV 1 1 6380 7f000002.addr.consul.",
        ],
        "{full}"
    );
    // The targets resolve on their own too.
    assert_eq!(
        dig_short(&server, &["7f000002.addr.consul", "A"]).await,
        ["127.0.0.2"]
    );
    let ipv6_target = "00000000000000000000000000000001.addr.consul.";
    assert_eq!(
        dig_short(&server, &["metrics.service.consul", "SRV"]).await,
        [format!("1 1 9090 {ipv6_target}")]
    );
    assert_eq!(dig_short(&server, &[ipv6_target, "AAAA"]).await, ["::1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_answers_as_udp_does() {
    let (server, _catalog) = start_server().await;
    assert_eq!(
        dig_short(&server, &["+tcp", "redis.service.consul", "A"]).await,
        ["127.0.0.1", "127.0.0.2"]
    );
    assert_eq!(
        dig_short(&server, &["+tcp", "_redis._tcp.service.consul", "SRV"]).await,
        [
            "1 1 6379 7f000001.addr.consul.",
            "1 1 6380 7f000002.addr.consul."
        ]
    );
    let missing = dig(&server, &["+tcp", "nosuch.service.consul", "A"]).await;
    assert_eq!(status(&missing), "NXDOMAIN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_select_passing_instances() {
    let (server, _catalog) = start_server().await;
    // The failing instance is tagged primary as well.
    assert_eq!(
        dig_short(&server, &["primary.redis.service.consul", "A"]).await,
        ["127.0.0.1"]
    );
    assert_eq!(
        dig_short(&server, &["PRIMARY.redis.service.consul", "A"]).await,
        ["127.0.0.1"]
    );
    assert_eq!(
        dig_short(&server, &["_redis._replica.service.consul", "SRV"]).await,
        ["1 1 6380 7f000002.addr.consul."]
    );
    let untagged = dig(&server, &["nosuchtag.redis.service.consul", "A"]).await;
    assert_eq!(status(&untagged), "NXDOMAIN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_are_nxdomain_with_soa_and_foreign_names_refused() {
    let (server, _catalog) = start_server().await;
    let args = ["+noall", "+comments", "+authority"];
    let unknown = dig(
        &server,
        &[&["nosuch.service.consul", "A"], &args[..]].concat(),
    )
    .await;
    assert_eq!(status(&unknown), "NXDOMAIN");
    let authority = records(&unknown);
    assert_eq!(authority.len(), 1, "{unknown}");
    assert!(
        authority[0].starts_with("consul. 0 IN SOA ns.consul. hostmaster.consul. 1 "),
        "{unknown}"
    );
    for name in [
        "redis.node.consul",
        "a.b.redis.service.consul",
        "zz.addr.consul",
    ] {
        let output = dig(&server, &[name, "A"]).await;
        assert_eq!(status(&output), "NXDOMAIN", "{name}: {output}");
    }
    for foreign in [
        &["example.com", "A"][..],
        &["redis.service.other", "A"],
        &["-c", "CH", "redis.service.consul", "A"],
    ] {
        let output = dig(&server, foreign).await;
        assert_eq!(status(&output), "REFUSED", "{foreign:?}: {output}");
    }
    // An EDNS version this server does not speak (RFC 6891).
    let future_edns = dig(
        &server,
        &["+edns=1", "+noednsnegotiation", "redis.service.consul", "A"],
    )
    .await;
    assert_eq!(status(&future_edns), "BADVERS", "{future_edns}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_turning_critical_removes_the_instance() {
    let (server, catalog) = start_server().await;
    let query = ["redis.service.consul", "A"];
    assert_eq!(dig_short(&server, &query).await, ["127.0.0.1", "127.0.0.2"]);

    assert!(catalog.apply(&check_update(REDIS_REPLICA_CHECK, CheckStatus::Critical)));
    assert_eq!(dig_short(&server, &query).await, ["127.0.0.1"]);
    assert_eq!(
        dig_short(&server, &["redis.service.consul", "SRV"]).await,
        ["1 1 6379 7f000001.addr.consul."]
    );

    // Warning is not passing either; with none passing the name is gone.
    assert!(catalog.apply(&check_update(REDIS_PRIMARY_CHECK, CheckStatus::Warning)));
    let gone = dig(&server, &query).await;
    assert_eq!(status(&gone), "NXDOMAIN");

    assert!(catalog.apply(&check_update(REDIS_PRIMARY_CHECK, CheckStatus::Passing)));
    assert_eq!(dig_short(&server, &query).await, ["127.0.0.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_leave_the_server_answering() {
    let (server, _catalog) = start_server().await;
    let address = server.local_addr();
    let header = |flags: [u8; 2], questions: u8| {
        let mut packet = vec![0x12, 0x34];
        packet.extend(flags);
        packet.extend([0, questions, 0, 0, 0, 0, 0, 0]);
        packet
    };
    // A question whose name is a compression pointer to itself.
    let mut pointer_loop = header([0x01, 0x00], 1);
    pointer_loop.extend([0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]);
    // A label running past the end of the packet.
    let mut overlong_label = header([0x01, 0x00], 1);
    overlong_label.extend([63, b'r', b'e']);
    // Two questions: a server answers one.
    let mut two_questions = header([0x01, 0x00], 2);
    for _ in 0..2 {
        two_questions.extend(b"\x05redis\x07service\x06consul\x00\x00\x01\x00\x01");
    }
    // A deterministic spray of bytes.
    let noise: Vec<u8> = (0..600u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let packets = [
        Vec::new(),
        vec![0xff; 5],
        header([0x01, 0x00], 9),
        header([0x81, 0x80], 1),
        header([0x79, 0x00], 0),
        pointer_loop,
        overlong_label,
        two_questions,
        noise,
    ];

    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for packet in &packets {
        socket.send_to(packet, address).await.unwrap();
    }
    for packet in &packets {
        let mut stream = TcpStream::connect(address).await.unwrap();
        let length = u16::try_from(packet.len()).unwrap();
        // Half of them claim more bytes than they send, then hang up.
        let claimed = if packet.len() % 2 == 0 {
            length
        } else {
            u16::MAX
        };
        stream.write_all(&claimed.to_be_bytes()).await.unwrap();
        stream.write_all(packet).await.unwrap();
        stream.shutdown().await.unwrap();
    }

    assert_eq!(
        dig_short(&server, &["redis.service.consul", "A"]).await,
        ["127.0.0.1", "127.0.0.2"]
    );
    assert_eq!(
        dig_short(&server, &["+tcp", "redis.service.consul", "A"]).await,
        ["127.0.0.1", "127.0.0.2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_drop_release_the_port() {
    let (server, _catalog) = start_server().await;
    let address = server.local_addr();
    TcpStream::connect(address).await.expect("listening");
    server.shutdown().await;
    assert!(
        TcpStream::connect(address).await.is_err(),
        "closed after shutdown"
    );

    let (server, _catalog) = start_server().await;
    let address = server.local_addr();
    drop(server);
    // Dropping aborts the listener tasks; they end at their next poll.
    let mut closed = false;
    for _ in 0..100 {
        if TcpStream::connect(address).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "closed within 2 s of the drop");
}
