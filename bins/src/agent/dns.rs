//! DNS service discovery: a service catalog served over DNS, the way
//! Consul serves `redis.service.consul`. A server agent answers from the
//! cluster's catalog (every client's instances, as the servers store
//! them); any [`ServiceDirectory`] will do, a client's own catalog too.
//!
//! Names answered (case-insensitively), under the configured domain:
//! - `NAME.service.DOMAIN` and `TAG.NAME.service.DOMAIN`;
//! - RFC 2782 `_NAME._tcp.service.DOMAIN` (no tag) and
//!   `_NAME._TAG.service.DOMAIN`;
//! - `HEX.addr.DOMAIN`, the SRV targets: an IPv4 address as 8 hex digits or
//!   an IPv6 one as 32, as Consul names them.
//!
//! Only instances whose checks all pass are answered. A/AAAA/ANY queries get
//! the instances' addresses (A for IPv4, AAAA for IPv6); SRV queries get
//! priority 1, weight 1, the port and the `HEX.addr.DOMAIN` target, with the
//! target's address record in the additional section. A service that is
//! unknown or has no passing instance is NXDOMAIN with the zone's SOA in the
//! authority section; names outside the domain are REFUSED.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{
    Edns, Header, HeaderCounts, LowerQuery, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_server::proto::rr::rdata::{A, AAAA, SOA, SRV};
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use scheduler_drivers::catalog::{ServiceCatalog, ServiceInstance};
use tokio::net::{TcpListener, UdpSocket};
use tracing::{debug, warn};

/// A TCP client that sends nothing for this long is dropped, so idle
/// connections cannot pile up.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Responses queued per TCP connection before the sender waits.
const TCP_RESPONSE_BUFFER: usize = 32;

/// With port 0 the OS picks a free UDP port, which may already be taken for
/// TCP: that many tries at finding a port free for both.
const PORT_ZERO_ATTEMPTS: usize = 16;

/// The SOA timers, Consul's defaults (seconds).
const SOA_REFRESH: i32 = 3600;
const SOA_RETRY: i32 = 600;
const SOA_EXPIRE: i32 = 86400;

/// Where the DNS server finds service instances.
pub trait ServiceDirectory: fmt::Debug + Send + Sync + 'static {
    /// Every instance whose checks all pass.
    fn passing_instances(&self) -> Vec<ServiceInstance>;
}

impl ServiceDirectory for ServiceCatalog {
    fn passing_instances(&self) -> Vec<ServiceInstance> {
        self.instances()
            .into_iter()
            .filter(ServiceInstance::passing)
            .collect()
    }
}

/// The cluster's catalog as this server applied it: live instances
/// (running allocations on nodes that are up) whose checks pass.
impl ServiceDirectory for scheduler_raft::Server {
    fn passing_instances(&self) -> Vec<ServiceInstance> {
        let snapshot = self.read_stale();
        self.services_stale()
            .live(&snapshot)
            .into_iter()
            .filter(|service| service.passing)
            .map(|service| {
                let registration = service.registration;
                ServiceInstance {
                    id: registration.id,
                    service_name: registration.service_name,
                    tags: registration.tags,
                    alloc_id: registration.alloc_id,
                    node_id: registration.node_id,
                    address: registration.address,
                    port: registration.port,
                    checks: Default::default(),
                }
            })
            .collect()
    }
}

/// How the DNS server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Where it listens, UDP and TCP on the same port (port 0: any free one,
    /// see [`DnsServer::local_addr`]).
    pub bind: SocketAddr,
    /// The domain it is authoritative for (`consul`, as Consul).
    pub domain: String,
    /// The TTL of its answers, also the SOA's negative-caching TTL
    /// (0 s by default, as Consul: health changes show at once).
    pub ttl: Duration,
}

impl Default for DnsConfig {
    /// Consul's: `127.0.0.1:8600`, domain `consul`, TTL 0.
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 8600)),
            domain: "consul".to_owned(),
            ttl: Duration::ZERO,
        }
    }
}

/// A running DNS server. Dropping it, or [`DnsServer::shutdown`], stops it.
pub struct DnsServer {
    local_addr: SocketAddr,
    // Owns the UDP and TCP tasks: dropping it aborts them.
    server: Server<CatalogResponder>,
}

impl fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Binds UDP and TCP on `config.bind` and answers from `catalog`, read
    /// afresh on every query. Must be called within a Tokio runtime.
    pub async fn start(
        config: DnsConfig,
        catalog: Arc<dyn ServiceDirectory>,
    ) -> Result<DnsServer, String> {
        let responder = CatalogResponder::new(&config, catalog)?;
        let (udp, tcp) = bind_udp_and_tcp(config.bind).await?;
        let local_addr = udp
            .local_addr()
            .map_err(|e| format!("DNS UDP socket address: {e}"))?;
        let mut server = Server::new(responder);
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
        debug!(%local_addr, domain = %config.domain, "DNS server listening");
        Ok(DnsServer { local_addr, server })
    }

    /// Where it listens, UDP and TCP (the port the OS picked if asked for 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting queries and waits for the listeners to end.
    pub async fn shutdown(mut self) {
        if let Err(error) = self.server.shutdown_gracefully().await {
            warn!(%error, "DNS server stopped with an error");
        }
    }
}

/// Binds UDP, then TCP on the same address and port.
async fn bind_udp_and_tcp(bind: SocketAddr) -> Result<(UdpSocket, TcpListener), String> {
    let attempts = if bind.port() == 0 {
        PORT_ZERO_ATTEMPTS
    } else {
        1
    };
    let mut last_error = String::new();
    for _ in 0..attempts {
        let udp = UdpSocket::bind(bind)
            .await
            .map_err(|e| format!("binding DNS UDP on {bind}: {e}"))?;
        let udp_addr = udp
            .local_addr()
            .map_err(|e| format!("DNS UDP socket address: {e}"))?;
        match TcpListener::bind(udp_addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last_error = format!("binding DNS TCP on {udp_addr}: {e}"),
        }
    }
    Err(last_error)
}

/// What a query name under the domain asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// The domain itself.
    Apex,
    /// Instances of a service, with a tag if given.
    Service { name: String, tag: Option<String> },
    /// A `HEX.addr` name.
    Address(IpAddr),
}

/// Reads the labels left of the domain (lowercase, leftmost first); `None`
/// for names this server does not have.
fn parse_target(labels: &[&[u8]]) -> Option<Target> {
    let labels = labels
        .iter()
        .map(|label| std::str::from_utf8(label).ok())
        .collect::<Option<Vec<&str>>>()?;
    match labels.as_slice() {
        [] => Some(Target::Apex),
        [hex, "addr"] => decode_address(hex).map(Target::Address),
        [name, "service"] => service_target(name, None),
        [first, second, "service"] => {
            match (first.strip_prefix('_'), second.strip_prefix('_')) {
                // RFC 2782: `_tcp` is the protocol, not a tag (as Consul).
                (Some(name), Some("tcp")) => service_target(name, None),
                (Some(name), Some(tag)) => service_target(name, Some(tag)),
                _ => service_target(second, Some(first)),
            }
        }
        _ => None,
    }
}

fn service_target(name: &str, tag: Option<&str>) -> Option<Target> {
    if name.is_empty() || tag.is_some_and(str::is_empty) {
        return None;
    }
    Some(Target::Service {
        name: name.to_owned(),
        tag: tag.map(str::to_owned),
    })
}

/// The label of an address in `HEX.addr.DOMAIN`, as Consul writes it.
fn encode_address(address: IpAddr) -> String {
    let octets = match address {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    octets.iter().map(|octet| format!("{octet:02x}")).collect()
}

/// The reverse of [`encode_address`]: 8 hex digits (IPv4) or 32 (IPv6).
fn decode_address(hex: &str) -> Option<IpAddr> {
    if !hex.is_ascii() {
        return None;
    }
    let octets = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    if let Ok(v4) = <[u8; 4]>::try_from(octets.as_slice()) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    let v6 = <[u8; 16]>::try_from(octets.as_slice()).ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(v6)))
}

/// An instance's address as an IP (`[v6]` brackets allowed); `None` for
/// host names, which only SRV answers carry (a CNAME cannot share its name
/// with the other instances' A records).
fn instance_ip(instance: &ServiceInstance) -> Option<IpAddr> {
    let address = instance.address.trim();
    let address = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address);
    address.parse().ok()
}

/// What a lookup found.
#[derive(Debug, Default)]
struct Found {
    answers: Vec<Record>,
    additionals: Vec<Record>,
}

/// The outcome of a lookup, before it becomes a response.
#[derive(Debug)]
enum Outcome {
    /// The name exists: these records (none: no data of the asked type).
    Records(Found),
    /// The name does not exist.
    NxDomain,
    /// Not ours to answer.
    Refused,
    /// A request this server does not take (another opcode).
    NotImplemented,
    /// A malformed request (not exactly one question).
    FormatError,
    /// An EDNS version above 0 (RFC 6891 BADVERS).
    BadEdnsVersion,
}

/// Answers queries from the catalog.
#[derive(Debug)]
struct CatalogResponder {
    catalog: Arc<dyn ServiceDirectory>,
    /// Fully qualified, lowercase.
    domain: Name,
    ttl: u32,
    soa: Record,
}

impl CatalogResponder {
    fn new(config: &DnsConfig, catalog: Arc<dyn ServiceDirectory>) -> Result<Self, String> {
        let domain_text = config.domain.trim().trim_end_matches('.');
        if domain_text.is_empty() {
            return Err("the DNS domain is empty".to_owned());
        }
        let mut domain = Name::from_ascii(domain_text)
            .map_err(|e| format!("the DNS domain {domain_text:?}: {e}"))?
            .to_lowercase();
        domain.set_fqdn(true);
        // Saturates: a TTL beyond 136 years is as good as forever.
        let ttl = u32::try_from(config.ttl.as_secs()).unwrap_or(u32::MAX);
        let soa = soa_record(&domain, ttl)?;
        Ok(Self {
            catalog,
            domain,
            ttl,
            soa,
        })
    }

    /// Decides the response to a request.
    fn outcome(&self, request: &Request) -> Outcome {
        if request.metadata.op_code != OpCode::Query
            || request.metadata.message_type != MessageType::Query
        {
            return Outcome::NotImplemented;
        }
        let [query] = request.queries.queries() else {
            return Outcome::FormatError;
        };
        if !matches!(query.query_class(), DNSClass::IN | DNSClass::ANY) {
            return Outcome::Refused;
        }
        self.lookup(query)
    }

    fn lookup(&self, query: &LowerQuery) -> Outcome {
        let asked = Name::from(query.name());
        if !self.domain.zone_of(&asked) {
            return Outcome::Refused;
        }
        let below_domain = asked.num_labels().saturating_sub(self.domain.num_labels());
        let labels: Vec<&[u8]> = asked.iter().take(usize::from(below_domain)).collect();
        let Some(target) = parse_target(&labels) else {
            return Outcome::NxDomain;
        };
        // Answers carry the name as asked, in the asker's case.
        let owner = query.original().name().clone();
        let record_type = query.query_type();
        match target {
            Target::Apex => {
                let mut found = Found::default();
                if matches!(record_type, RecordType::SOA | RecordType::ANY) {
                    found.answers.push(self.soa.clone());
                }
                Outcome::Records(found)
            }
            Target::Address(ip) => {
                let mut found = Found::default();
                found
                    .answers
                    .extend(self.address_record(&owner, ip, record_type));
                Outcome::Records(found)
            }
            Target::Service { name, tag } => {
                let instances = self.passing_instances(&name, tag.as_deref());
                if instances.is_empty() {
                    return Outcome::NxDomain;
                }
                Outcome::Records(self.service_records(&owner, &instances, record_type))
            }
        }
    }

    /// Passing instances of `name` (with `tag`), both matched regardless of
    /// case as DNS names are.
    fn passing_instances(&self, name: &str, tag: Option<&str>) -> Vec<ServiceInstance> {
        self.catalog
            .passing_instances()
            .into_iter()
            .filter(|instance| instance.service_name.eq_ignore_ascii_case(name))
            .filter(|instance| {
                tag.is_none_or(|tag| {
                    instance
                        .tags
                        .iter()
                        .any(|own| own.eq_ignore_ascii_case(tag))
                })
            })
            .collect()
    }

    fn service_records(
        &self,
        owner: &Name,
        instances: &[ServiceInstance],
        record_type: RecordType,
    ) -> Found {
        let mut found = Found::default();
        if record_type == RecordType::SRV {
            let mut seen = BTreeSet::new();
            let mut targets_with_address = BTreeSet::new();
            for instance in instances {
                let Some((target, ip)) = self.srv_target(instance) else {
                    continue;
                };
                if !seen.insert((target.clone(), instance.port)) {
                    continue;
                }
                let srv = SRV::new(1, 1, instance.port, target.clone());
                found.answers.push(self.record(owner, RData::SRV(srv)));
                if let Some(ip) = ip
                    && targets_with_address.insert(target.clone())
                {
                    found
                        .additionals
                        .extend(self.address_record(&target, ip, RecordType::ANY));
                }
            }
        } else {
            // One record per address: an RRset holds no duplicates.
            let addresses: BTreeSet<IpAddr> = instances.iter().filter_map(instance_ip).collect();
            for ip in addresses {
                found
                    .answers
                    .extend(self.address_record(owner, ip, record_type));
            }
        }
        found
    }

    /// The SRV target of an instance, with its IP when it has one: an IP
    /// becomes `HEX.addr.DOMAIN.`, a host name is the target itself.
    fn srv_target(&self, instance: &ServiceInstance) -> Option<(Name, Option<IpAddr>)> {
        if let Some(ip) = instance_ip(instance) {
            let target = Name::from_ascii(format!("{}.addr", encode_address(ip)))
                .ok()?
                .append_domain(&self.domain)
                .ok()?;
            return Some((target, Some(ip)));
        }
        let mut host = Name::from_ascii(instance.address.trim()).ok()?;
        if host.num_labels() == 0 {
            return None;
        }
        host.set_fqdn(true);
        Some((host, None))
    }

    /// The A (IPv4) or AAAA (IPv6) record of `ip` if the query asks for it.
    fn address_record(&self, owner: &Name, ip: IpAddr, record_type: RecordType) -> Option<Record> {
        let rdata = match (ip, record_type) {
            (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => RData::A(A(v4)),
            (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => RData::AAAA(AAAA(v6)),
            _ => return None,
        };
        Some(self.record(owner, rdata))
    }

    fn record(&self, owner: &Name, rdata: RData) -> Record {
        Record::from_rdata(owner.clone(), self.ttl, rdata)
    }
}

/// The zone's SOA; its minimum is the TTL so that negative answers are
/// cached no longer than positive ones.
fn soa_record(domain: &Name, ttl: u32) -> Result<Record, String> {
    let under_domain = |label: &str| {
        Name::from_ascii(label)
            .and_then(|name| name.append_domain(domain))
            .map_err(|e| format!("the DNS domain {domain}: {e}"))
    };
    // The serial stays 1: the zone is generated per query, never transferred.
    let soa = SOA::new(
        under_domain("ns")?,
        under_domain("hostmaster")?,
        1,
        SOA_REFRESH,
        SOA_RETRY,
        SOA_EXPIRE,
        ttl,
    );
    Ok(Record::from_rdata(domain.clone(), ttl, RData::SOA(soa)))
}

/// The EDNS of the response when the request had one (RFC 6891): version
/// 0, and the asker's UDP payload size (512 at least) so that answers fit
/// what it can take.
fn response_edns(request: &Request) -> Option<Edns> {
    let asked = request.edns.as_ref()?;
    let mut edns = Edns::new();
    edns.set_max_payload(asked.max_payload().max(512));
    edns.set_version(0);
    Some(edns)
}

#[async_trait]
impl RequestHandler for CatalogResponder {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let edns = response_edns(request);
        let outcome = if request
            .edns
            .as_ref()
            .is_some_and(|asked| asked.version() > 0)
        {
            Outcome::BadEdnsVersion
        } else {
            self.outcome(request)
        };
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let mut found = Found::default();
        let mut authority = Vec::new();
        metadata.response_code = match outcome {
            Outcome::Records(records) => {
                // No data of the asked type: the SOA says for how long.
                if records.answers.is_empty() {
                    authority.push(self.soa.clone());
                }
                found = records;
                metadata.authoritative = true;
                ResponseCode::NoError
            }
            Outcome::NxDomain => {
                authority.push(self.soa.clone());
                metadata.authoritative = true;
                ResponseCode::NXDomain
            }
            Outcome::Refused => ResponseCode::Refused,
            Outcome::NotImplemented => ResponseCode::NotImp,
            Outcome::FormatError => ResponseCode::FormErr,
            // Sent as EDNS's extended code; the request had EDNS to carry it.
            Outcome::BadEdnsVersion => ResponseCode::BADVERS,
        };
        let response = MessageResponseBuilder::new(&request.queries, edns.as_ref()).build(
            metadata,
            &found.answers,
            std::iter::empty(),
            &authority,
            &found.additionals,
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, "sending a DNS response failed");
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> Option<Target> {
        let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
        parse_target(&labels)
    }

    fn service(name: &str, tag: Option<&str>) -> Option<Target> {
        service_target(name, tag)
    }

    #[test]
    fn names_parse_into_services_tags_and_addresses() {
        assert_eq!(target("redis.service"), service("redis", None));
        assert_eq!(
            target("primary.redis.service"),
            service("redis", Some("primary"))
        );
        assert_eq!(target("_redis._tcp.service"), service("redis", None));
        assert_eq!(
            target("_redis._primary.service"),
            service("redis", Some("primary"))
        );
        assert_eq!(
            target("7f000001.addr"),
            Some(Target::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)))
        );
        assert_eq!(parse_target(&[]), Some(Target::Apex));
        for unknown in [
            "service",
            "a.b.c.service",
            "redis.node",
            "_._tcp.service",
            "_redis._.service",
            "7f00001.addr",
            "zz000001.addr",
            "7f0000011.addr",
        ] {
            assert_eq!(target(unknown), None, "{unknown}");
        }
        assert_eq!(parse_target(&[b"\xff\xfe", b"service"]), None);
    }

    #[test]
    fn addresses_round_trip_through_their_labels() {
        for ip in [
            "127.0.0.2",
            "10.1.2.255",
            "::1",
            "2001:db8::8:800:200c:417a",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(decode_address(&encode_address(ip)), Some(ip));
        }
        assert_eq!(encode_address("127.0.0.2".parse().unwrap()), "7f000002");
        assert_eq!(decode_address("é0000001"), None);
    }

    #[test]
    fn bad_domains_are_refused_at_start() {
        let catalog = Arc::new(ServiceCatalog::new());
        for domain in ["", ".", "a..b"] {
            let config = DnsConfig {
                domain: domain.to_owned(),
                ..DnsConfig::default()
            };
            assert!(
                CatalogResponder::new(&config, catalog.clone()).is_err(),
                "{domain:?}"
            );
        }
    }
}
