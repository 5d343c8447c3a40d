//! Messaging adapters: text messages (Twilio), e-mail (Amazon SES v2), and a webhook
//! signed with HMAC-SHA256 (push notifications through the app's own service, or any
//! other system), behind one narrow port, [`MessageSend`].

pub mod ses;
pub mod twilio;
pub mod webhook;

use std::future::Future;

use churn_core::playbook::Channel;

use crate::IoError;

/// One message to one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    /// The action's idempotency key.
    pub key: String,
    pub customer_id: String,
    /// The action id (`discount-20-email`).
    pub action: String,
    pub channel: Channel,
    /// Address or number (none for a push or webhook, which go by customer id).
    pub to: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub offer_code: Option<String>,
}

/// Sends messages, one per call.
pub trait MessageSend {
    /// The provider, for logs and outcomes.
    fn provider(&self) -> &'static str;
    /// Whether sending a message twice reaches the customer once (the receiver
    /// deduplicates by the key), so a message a crashed run may have sent can be resent.
    fn idempotent(&self) -> bool;
    /// Sends; the provider's id of the message.
    fn send(
        &self,
        message: &OutboundMessage,
    ) -> impl Future<Output = Result<String, IoError>> + Send;
    /// For a message a crashed run may have sent: its provider id if the provider shows
    /// it was sent, `None` if it shows it was not, or an error when it cannot tell.
    fn find_sent(
        &self,
        message: &OutboundMessage,
    ) -> impl Future<Output = Result<Option<String>, IoError>> + Send;
}

/// Masks an e-mail address or phone number for logs: `j***@example.com`, `+1555***01`.
pub fn mask(contact: &str) -> String {
    if let Some((user, domain)) = contact.split_once('@') {
        let first: String = user.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = contact.chars().collect();
    if chars.len() <= 6 {
        return "***".into();
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}***{tail}")
}

/// Masks every e-mail address and `+`-prefixed phone number in a text (a provider's
/// error message may quote the whole batch it refused).
pub fn mask_all(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let is_email_char = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let mut rest = text;
    while !rest.is_empty() {
        // Phone numbers: '+' and at least seven digits.
        if let Some(digits) = rest.strip_prefix('+') {
            let n = digits.bytes().take_while(u8::is_ascii_digit).count();
            if n >= 7 {
                out.push_str(&mask(&rest[..n + 1]));
                rest = &rest[n + 1..];
                continue;
            }
        }
        // E-mail addresses: a word, '@', a word with a dot.
        let word = rest
            .chars()
            .take_while(|c| is_email_char(*c))
            .map(char::len_utf8)
            .sum::<usize>();
        if word > 0 && rest[word..].starts_with('@') {
            let domain = rest[word + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .map(char::len_utf8)
                .sum::<usize>();
            if domain > 0 && rest[word + 1..word + 1 + domain].contains('.') {
                out.push_str(&mask(&rest[..word + 1 + domain]));
                rest = &rest[word + 1 + domain..];
                continue;
            }
        }
        let step = if word > 0 {
            word
        } else {
            rest.chars().next().map_or(1, char::len_utf8)
        };
        out.push_str(&rest[..step]);
        rest = &rest[step..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{mask, mask_all};

    #[test]
    fn masks_every_contact_in_a_text() {
        assert_eq!(
            mask_all(r#"invalid: "jane.doe@example.com", +15550001234; ok: +12 and a@b"#),
            r#"invalid: "j***@example.com", +1555***34; ok: +12 and a@b"#
        );
    }

    #[test]
    fn masks_addresses_and_numbers() {
        assert_eq!(mask("jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask("+15550001234"), "+1555***34");
        assert_eq!(mask("12345"), "***");
    }
}
