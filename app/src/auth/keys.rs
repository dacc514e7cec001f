//! Keyed hashes derived from the server secret: the audit trail's address
//! keys, the device cookie's MACs, the signature on error redirects.

/// HMAC-SHA256 of `value` under `key`, as lower-case hex.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(value.as_bytes());
    crate::domain::to_hex(&mac.finalize().into_bytes())
}

/// Equal, without the time taken saying where they first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hashes_depend_on_key_and_value() {
        assert_eq!(keyed_hash(b"k", "v"), keyed_hash(b"k", "v"));
        assert_ne!(keyed_hash(b"k", "v"), keyed_hash(b"K", "v"));
        assert_ne!(keyed_hash(b"k", "v"), keyed_hash(b"k", "w"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
