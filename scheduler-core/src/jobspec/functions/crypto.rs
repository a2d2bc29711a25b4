//! Hashes and UUIDs. `bcrypt` and `rsadecrypt` are declared by Nomad but
//! would need a bcrypt and an RSA implementation; they fail with a message.

use super::{FunctionContext, string_arg, truncate};
use crate::jobspec::value::Value;
use md5::Digest as _;
use rand::RngCore as _;

type Res = Result<Value, String>;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn md5(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::String(hex(&md5::Md5::digest(
        string_arg(&args, 0)?.as_bytes(),
    ))))
}

pub(super) fn sha1(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::String(hex(&sha1::Sha1::digest(
        string_arg(&args, 0)?.as_bytes(),
    ))))
}

pub(super) fn sha256(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::String(hex(&sha2::Sha256::digest(
        string_arg(&args, 0)?.as_bytes(),
    ))))
}

pub(super) fn sha512(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::String(hex(&sha2::Sha512::digest(
        string_arg(&args, 0)?.as_bytes(),
    ))))
}

/// `uuidv4()`: a random UUID drawn from the context's seeded RNG.
pub(super) fn uuidv4(ctx: &FunctionContext<'_>, _: Vec<Value>) -> Res {
    let mut bytes = [0u8; 16];
    ctx.rng.borrow_mut().fill_bytes(&mut bytes);
    Ok(Value::String(
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string(),
    ))
}

/// `uuidv5(namespace, name)`: the namespace is `dns`, `url`, `oid`, `x500`
/// or a UUID.
pub(super) fn uuidv5(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let namespace = string_arg(&args, 0)?;
    let name = string_arg(&args, 1)?;
    let ns = match namespace.as_str() {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other).map_err(|_| {
            format!(
                "the namespace must be \"dns\", \"url\", \"oid\", \"x500\" or a UUID, got {:?}",
                truncate(other)
            )
        })?,
    };
    let mut hasher = sha1::Sha1::new();
    hasher.update(ns.as_bytes());
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Ok(Value::String(
        uuid::Builder::from_sha1_bytes(bytes)
            .into_uuid()
            .to_string(),
    ))
}

pub(super) fn bcrypt(_: &FunctionContext<'_>, _: Vec<Value>) -> Res {
    Err(
        "bcrypt hashing is not supported by this scheduler; hash the secret before writing the job"
            .to_owned(),
    )
}

pub(super) fn rsadecrypt(_: &FunctionContext<'_>, _: Vec<Value>) -> Res {
    Err("RSA decryption is not supported by this scheduler; decrypt the value before writing the job".to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;

    #[test]
    fn hashes() {
        assert_eq!(
            run("md5", vec![s("hello world")]),
            Ok(s("5eb63bbbe01eeed093cb22bb8f5acdc3"))
        );
        assert_eq!(
            run("sha1", vec![s("hello world")]),
            Ok(s("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"))
        );
        assert_eq!(
            run("sha256", vec![s("hello world")]),
            Ok(s(
                "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
            ))
        );
        assert_eq!(
            run("sha512", vec![s("hello world")]),
            Ok(s(
                "309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f\
                  989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f"
            ))
        );
        for f in ["md5", "sha1", "sha256", "sha512"] {
            fails(f, vec![list(vec![])], "must be a string");
        }
    }

    #[test]
    fn uuids() {
        let a = run("uuidv4", vec![]).unwrap();
        let b = run("uuidv4", vec![]).unwrap();
        assert_eq!(a, b, "the same seed gives the same UUID");
        let text = a.as_str().unwrap();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        assert_eq!(
            run("uuidv5", vec![s("dns"), s("www.terraform.io")]),
            Ok(s("a5008fae-b28c-5ba5-96cd-82b4c53552d6"))
        );
        assert_eq!(
            run(
                "uuidv5",
                vec![
                    s("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
                    s("www.terraform.io")
                ]
            ),
            Ok(s("a5008fae-b28c-5ba5-96cd-82b4c53552d6"))
        );
        fails("uuidv5", vec![s("bogus"), s("x")], "namespace must be");
        fails("uuidv5", vec![s("dns"), Value::Null], "argument 2");
    }

    #[test]
    fn unsupported() {
        fails("bcrypt", vec![s("x")], "not supported");
        fails("rsadecrypt", vec![s("x"), s("y")], "not supported");
    }
}
