//! Small cryptographic helpers shared by CSRF, sessions, signing and
//! passwords, as Django's `django.utils.crypto`: random strings from the
//! operating system's generator and constant-time comparison.

/// Letters and digits: the alphabet of [`get_random_string`] (Django's
/// `RANDOM_STRING_CHARS`).
pub const RANDOM_STRING_CHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `length` random letters and digits (Django's `get_random_string`).
pub fn get_random_string(length: usize) -> String {
    random_string_from(length, RANDOM_STRING_CHARS)
}

/// `length` characters drawn uniformly from `alphabet` (at most 256 ASCII
/// characters). Random bytes past the largest multiple of the alphabet's
/// size are drawn again, so no character is likelier than another.
///
/// # Panics
/// If `alphabet` is empty or longer than 256 characters, or the operating
/// system has no random source.
pub fn random_string_from(length: usize, alphabet: &[u8]) -> String {
    assert!(
        !alphabet.is_empty() && alphabet.len() <= 256,
        "random_string_from needs 1 to 256 characters"
    );
    let limit = 256 / alphabet.len() * alphabet.len();
    let mut out = String::with_capacity(length);
    while out.len() < length {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        for b in bytes.into_iter().filter(|b| usize::from(*b) < limit) {
            if out.len() == length {
                break;
            }
            out.push(alphabet[usize::from(b) % alphabet.len()] as char);
        }
    }
    out
}

/// Whether two byte strings are equal, in a time that depends only on their
/// lengths (not on where they differ), so an attacker cannot guess a secret
/// one byte at a time by timing the answers.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_use_the_whole_alphabet_evenly() {
        let sample: String = (0..200).map(|_| get_random_string(50)).collect();
        let mut counts = [0usize; 62];
        for c in sample.bytes() {
            counts[RANDOM_STRING_CHARS.iter().position(|a| *a == c).unwrap()] += 1;
        }
        // 10 000 draws over 62 letters: about 161 each.
        assert!(counts.iter().all(|n| (100..230).contains(n)), "{counts:?}");
        assert_ne!(get_random_string(32), get_random_string(32));
        assert_eq!(random_string_from(5, b"x"), "xxxxx");
    }

    #[test]
    fn comparison_needs_equal_lengths_and_bytes() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(constant_time_eq(b"", b""));
    }
}
