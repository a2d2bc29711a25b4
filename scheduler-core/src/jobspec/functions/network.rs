//! CIDR functions for IPv4 and IPv6 prefixes. Addresses are handled as
//! integers of 32 or 128 bits.

use super::{FunctionContext, int_arg, number_arg, number_to_i128, string_arg, truncate};
use crate::jobspec::value::Value;
use std::net::{Ipv4Addr, Ipv6Addr};

type Res = Result<Value, String>;

/// A parsed prefix: the network address (host bits cleared), its length in
/// bits and the address width (32 or 128).
#[derive(Debug, Clone, Copy)]
struct Prefix {
    addr: u128,
    len: u32,
    bits: u32,
}

impl Prefix {
    fn parse(text: &str) -> Result<Prefix, String> {
        let bad = || format!("invalid CIDR prefix {:?}", truncate(text));
        let (ip, len) = text.split_once('/').ok_or_else(bad)?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let len: u32 = len.parse().map_err(|_| bad())?;
        let (addr, bits) = if let Ok(v4) = ip.parse::<Ipv4Addr>() {
            (u128::from(u32::from(v4)), 32)
        } else if let Ok(v6) = ip.parse::<Ipv6Addr>() {
            (u128::from(v6), 128)
        } else {
            return Err(bad());
        };
        if len > bits {
            return Err(bad());
        }
        Ok(Prefix {
            addr: addr & mask(len, bits),
            len,
            bits,
        })
    }

    fn host_bits(&self) -> u32 {
        self.bits - self.len
    }

    /// The last address in the prefix.
    fn last(&self) -> u128 {
        self.addr | (all_ones(self.bits) & !mask(self.len, self.bits))
    }

    fn render(&self) -> String {
        format!("{}/{}", render_addr(self.addr, self.bits), self.len)
    }
}

fn all_ones(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// The netmask with `len` leading ones in a `bits`-wide address.
fn mask(len: u32, bits: u32) -> u128 {
    if len == 0 {
        0
    } else {
        all_ones(bits) & !all_ones(bits - len)
    }
}

fn render_addr(addr: u128, bits: u32) -> String {
    if bits == 32 {
        Ipv4Addr::from(u32::try_from(addr).unwrap_or(u32::MAX)).to_string()
    } else {
        Ipv6Addr::from(addr).to_string()
    }
}

fn big_int_arg(args: &[Value], i: usize) -> Result<i128, String> {
    let n = number_arg(args, i)?;
    number_to_i128(&n).ok_or_else(|| format!("argument {} must be a whole number", i + 1))
}

/// `cidrhost(prefix, hostnum)`: the address of host `hostnum` in the prefix;
/// negative numbers count back from the end.
pub(super) fn cidrhost(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let prefix = Prefix::parse(&string_arg(&args, 0)?)?;
    let hostnum = big_int_arg(&args, 1)?;
    let host_bits = prefix.host_bits();
    let size: Option<u128> = 1u128.checked_shl(host_bits).filter(|_| host_bits < 128);
    let out_of_range = || {
        format!(
            "a prefix of {} bits has no host numbered {hostnum}",
            prefix.len
        )
    };
    let offset: u128 = if hostnum >= 0 {
        let h = hostnum.unsigned_abs();
        if size.is_some_and(|size| h >= size) {
            return Err(out_of_range());
        }
        h
    } else {
        let back = hostnum.unsigned_abs();
        match size {
            Some(size) if back > size => return Err(out_of_range()),
            Some(size) => size - back,
            None => u128::MAX - (back - 1),
        }
    };
    Ok(Value::String(render_addr(
        prefix.addr | offset,
        prefix.bits,
    )))
}

/// `cidrnetmask(prefix)`: the prefix's netmask in address notation.
pub(super) fn cidrnetmask(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let prefix = Prefix::parse(&string_arg(&args, 0)?)?;
    Ok(Value::String(render_addr(
        mask(prefix.len, prefix.bits),
        prefix.bits,
    )))
}

/// The `netnum`th subnet of `prefix` that is `newbits` longer.
fn subnet(prefix: Prefix, newbits: i64, netnum: i128) -> Result<Prefix, String> {
    let newbits = u32::try_from(newbits)
        .map_err(|_| "the number of new bits must not be negative".to_owned())?;
    let len = prefix
        .len
        .checked_add(newbits)
        .filter(|l| *l <= prefix.bits)
        .ok_or_else(|| {
            format!(
                "there is not enough address space to extend a prefix of {} bits by {newbits}",
                prefix.len
            )
        })?;
    let netnum =
        u128::try_from(netnum).map_err(|_| "the network number must not be negative".to_owned())?;
    if newbits < 128 && netnum >> newbits != 0 {
        return Err(format!(
            "extending by {newbits} bits gives no subnet numbered {netnum}"
        ));
    }
    let shift = prefix.bits - len;
    let offset = if shift >= 128 { 0 } else { netnum << shift };
    Ok(Prefix {
        addr: prefix.addr | offset,
        len,
        bits: prefix.bits,
    })
}

/// `cidrsubnet(prefix, newbits, netnum)`.
pub(super) fn cidrsubnet(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let prefix = Prefix::parse(&string_arg(&args, 0)?)?;
    let newbits = int_arg(&args, 1)?;
    let netnum = big_int_arg(&args, 2)?;
    Ok(Value::String(subnet(prefix, newbits, netnum)?.render()))
}

/// `cidrsubnets(prefix, newbits...)`: consecutive, non-overlapping subnets
/// of the given sizes, each aligned to its own size.
pub(super) fn cidrsubnets(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let prefix = Prefix::parse(&string_arg(&args, 0)?)?;
    // The first address not yet allocated; None once the prefix is used up.
    let mut next: Option<u128> = Some(prefix.addr);
    let mut out = Vec::with_capacity(args.len() - 1);
    for i in 1..args.len() {
        let newbits = int_arg(&args, i)?;
        if newbits < 1 {
            return Err(format!(
                "argument {} must extend the prefix by at least one bit",
                i + 1
            ));
        }
        let len = u32::try_from(newbits)
            .ok()
            .and_then(|n| prefix.len.checked_add(n))
            .filter(|l| *l <= prefix.bits)
            .ok_or_else(|| {
                format!(
                    "argument {} would extend the prefix to more than {} bits",
                    i + 1,
                    prefix.bits
                )
            })?;
        let no_space = || {
            format!(
                "not enough address space remains in {} for a subnet with a prefix of {len} bits",
                prefix.render()
            )
        };
        let start = next.ok_or_else(no_space)?;
        // Round up to the subnet's alignment.
        let align_mask = mask(len, prefix.bits);
        let aligned = if start & !align_mask & all_ones(prefix.bits) == 0 {
            start
        } else {
            (start | (!align_mask & all_ones(prefix.bits)))
                .checked_add(1)
                .ok_or_else(no_space)?
        };
        let sub = Prefix {
            addr: aligned,
            len,
            bits: prefix.bits,
        };
        if aligned > prefix.last() || sub.last() > prefix.last() {
            return Err(no_space());
        }
        next = sub
            .last()
            .checked_add(1)
            .filter(|n| *n <= all_ones(prefix.bits));
        out.push(Value::String(sub.render()));
    }
    Ok(Value::List(out))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;

    #[test]
    fn host() {
        assert_eq!(
            run("cidrhost", vec![s("10.12.112.0/20"), n(16)]),
            Ok(s("10.12.112.16"))
        );
        assert_eq!(
            run("cidrhost", vec![s("10.12.112.0/20"), n(268)]),
            Ok(s("10.12.113.12"))
        );
        assert_eq!(
            run("cidrhost", vec![s("10.12.112.0/20"), n(-1)]),
            Ok(s("10.12.127.255"))
        );
        assert_eq!(
            run("cidrhost", vec![s("fd00:fd12:3456:7890:00a2::/72"), n(34)]),
            Ok(s("fd00:fd12:3456:7890::22"))
        );
        assert_eq!(
            run("cidrhost", vec![s("::/0"), n(-1)]),
            Ok(s("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        );
        fails(
            "cidrhost",
            vec![s("10.0.0.0/30"), n(4)],
            "has no host numbered 4",
        );
        fails(
            "cidrhost",
            vec![s("10.0.0.0/30"), n(-5)],
            "has no host numbered -5",
        );
        fails("cidrhost", vec![s("10.0.0.0"), n(1)], "invalid CIDR prefix");
        fails(
            "cidrhost",
            vec![s("10.0.0.0/33"), n(1)],
            "invalid CIDR prefix",
        );
    }

    #[test]
    fn netmask() {
        assert_eq!(
            run("cidrnetmask", vec![s("172.16.0.0/12")]),
            Ok(s("255.240.0.0"))
        );
        assert_eq!(run("cidrnetmask", vec![s("0.0.0.0/0")]), Ok(s("0.0.0.0")));
        assert_eq!(run("cidrnetmask", vec![s("::/16")]), Ok(s("ffff::")));
        fails("cidrnetmask", vec![s("nope/8")], "invalid CIDR prefix");
    }

    #[test]
    fn subnet() {
        assert_eq!(
            run("cidrsubnet", vec![s("172.16.0.0/12"), n(4), n(2)]),
            Ok(s("172.18.0.0/16"))
        );
        assert_eq!(
            run("cidrsubnet", vec![s("10.1.2.0/24"), n(4), n(15)]),
            Ok(s("10.1.2.240/28"))
        );
        assert_eq!(
            run(
                "cidrsubnet",
                vec![s("fd00:fd12:3456:7890::/56"), n(16), n(162)]
            ),
            Ok(s("fd00:fd12:3456:7800:a200::/72"))
        );
        assert_eq!(
            run("cidrsubnet", vec![s("10.0.0.0/8"), n(0), n(0)]),
            Ok(s("10.0.0.0/8"))
        );
        fails(
            "cidrsubnet",
            vec![s("10.1.2.0/24"), n(4), n(16)],
            "no subnet numbered 16",
        );
        fails(
            "cidrsubnet",
            vec![s("10.1.2.0/24"), n(9), n(0)],
            "not enough address space",
        );
        fails(
            "cidrsubnet",
            vec![s("10.1.2.0/24"), n(-1), n(0)],
            "must not be negative",
        );
        fails(
            "cidrsubnet",
            vec![s("10.1.2.0/24"), n(2), n(-1)],
            "must not be negative",
        );
    }

    #[test]
    fn subnets() {
        assert_eq!(
            run(
                "cidrsubnets",
                vec![s("10.1.0.0/16"), n(4), n(4), n(8), n(4)]
            ),
            Ok(strs(&[
                "10.1.0.0/20",
                "10.1.16.0/20",
                "10.1.32.0/24",
                "10.1.48.0/20"
            ]))
        );
        assert_eq!(
            run(
                "cidrsubnets",
                vec![s("fd00:fd12:3456:7890::/56"), n(16), n(16), n(16), n(32)]
            ),
            Ok(strs(&[
                "fd00:fd12:3456:7800::/72",
                "fd00:fd12:3456:7800:100::/72",
                "fd00:fd12:3456:7800:200::/72",
                "fd00:fd12:3456:7800:300::/88",
            ]))
        );
        assert_eq!(run("cidrsubnets", vec![s("10.0.0.0/8")]), Ok(list(vec![])));
        assert_eq!(
            run("cidrsubnets", vec![s("0.0.0.0/0"), n(1), n(1)]),
            Ok(strs(&["0.0.0.0/1", "128.0.0.0/1"]))
        );
        fails(
            "cidrsubnets",
            vec![s("10.0.0.0/30"), n(1), n(1), n(1)],
            "not enough address space",
        );
        fails(
            "cidrsubnets",
            vec![s("10.0.0.0/30"), n(0)],
            "at least one bit",
        );
        fails(
            "cidrsubnets",
            vec![s("10.0.0.0/30"), n(3)],
            "more than 32 bits",
        );
        fails(
            "cidrsubnets",
            vec![s("10.0.0.0/30"), Value::Null],
            "argument 2 must be a number",
        );
    }
}
