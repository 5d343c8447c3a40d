//! A small, stable, dependency-free hash (64-bit FNV-1a) for content fingerprints.
//!
//! Used for the feature-spec hash and data lineage. It is not cryptographic: it detects
//! accidental mismatches (a model trained on other features), not tampering. Its output is
//! part of stored artifacts, so it must never change.

/// Incremental 64-bit FNV-1a hasher.
#[derive(Debug, Clone)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// Feeds bytes into the hash.
    pub fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Feeds a string followed by a separator byte that cannot occur in UTF-8, so that
    /// `["ab", "c"]` and `["a", "bc"]` hash differently.
    pub fn write_str(&mut self, text: &str) {
        self.write(text.as_bytes());
        self.write(&[0xff]);
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }

    /// The hash so far as 16 lowercase hex digits.
    pub fn finish_hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The FNV-1a hash of `bytes` as 16 lowercase hex digits.
pub fn fnv64_hex(bytes: &[u8]) -> String {
    let mut hasher = Fnv64::default();
    hasher.write(bytes);
    hasher.finish_hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_published_fnv1a_vectors() {
        assert_eq!(fnv64_hex(b""), "cbf29ce484222325");
        assert_eq!(fnv64_hex(b"a"), "af63dc4c8601ec8c");
        assert_eq!(fnv64_hex(b"foobar"), "85944171f73967e8");
    }

    #[test]
    fn separators_keep_field_boundaries() {
        let mut left = Fnv64::default();
        left.write_str("ab");
        left.write_str("c");
        let mut right = Fnv64::default();
        right.write_str("a");
        right.write_str("bc");
        assert_ne!(left.finish(), right.finish());
    }
}
