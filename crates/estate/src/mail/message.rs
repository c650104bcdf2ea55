//! [`EmailMessage`], built field by field and turned into a MIME message
//! (by lettre) when sent; [`OutgoingEmail`], what backends receive.

use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};

use super::error::MailError;

/// Headers set through the builder's own methods; refused as extra headers.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// An email: subject, plain-text body, an optional HTML alternative,
/// addresses, extra headers and attachments (Django's `EmailMessage` and
/// `EmailMultiAlternatives`).
///
/// ```
/// use estate::mail::EmailMessage;
///
/// let message = EmailMessage::new()
///     .subject("Your order")
///     .text("Thanks! Your order ships today.")
///     .html("<p>Thanks! Your order <b>ships today</b>.</p>")
///     .to("Ann <ann@example.com>")
///     .bcc("orders@example.com")
///     .header("X-Order", "1234")
///     .attach("invoice.txt", "text/plain", b"Total: 10 EUR".to_vec());
/// ```
///
/// Nothing is checked until the message is sent: then a malformed
/// address, a line break in a header (header injection) or a message
/// without recipients is a [`MailError`] naming the field.
///
/// The MIME structure follows the content: `text/plain` alone;
/// `multipart/alternative` (text, then HTML) with an HTML body; both inside
/// `multipart/mixed` with the attachments.
#[derive(Clone, Debug, Default)]
pub struct EmailMessage {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Vec<String>,
    pub(crate) cc: Vec<String>,
    pub(crate) bcc: Vec<String>,
    pub(crate) reply_to: Vec<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) attachments: Vec<Attachment>,
}

/// A file attached to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    filename: String,
    content_type: String,
    content: Vec<u8>,
}

impl Attachment {
    /// An attachment named `filename`, of MIME type `content_type`
    /// (`application/pdf`, `text/csv; charset=utf-8`).
    pub fn new(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        content: impl Into<Vec<u8>>,
    ) -> Self {
        Attachment {
            filename: filename.into(),
            content_type: content_type.into(),
            content: content.into(),
        }
    }

    /// The file name the recipient sees.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The MIME type.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The bytes.
    pub fn content(&self) -> &[u8] {
        &self.content
    }
}

impl EmailMessage {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the subject (one line).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Sets the plain-text body.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    /// Adds an HTML alternative to the text body (the message becomes
    /// `multipart/alternative`; mail readers show the HTML, or the text when
    /// they cannot).
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    /// Sets the sender; without it the mailer's `mail.default_from_email`.
    pub fn from(mut self, address: impl Into<String>) -> Self {
        self.from = Some(address.into());
        self
    }

    /// Adds a recipient.
    pub fn to(mut self, address: impl Into<String>) -> Self {
        self.to.push(address.into());
        self
    }

    /// Adds a copy recipient.
    pub fn cc(mut self, address: impl Into<String>) -> Self {
        self.cc.push(address.into());
        self
    }

    /// Adds a blind-copy recipient: it receives the message, but no
    /// header shows it.
    pub fn bcc(mut self, address: impl Into<String>) -> Self {
        self.bcc.push(address.into());
        self
    }

    /// Adds an address replies should go to.
    pub fn reply_to(mut self, address: impl Into<String>) -> Self {
        self.reply_to.push(address.into());
        self
    }

    /// Adds a header, such as `X-Campaign` or `List-Unsubscribe` (`Date` and
    /// `Message-ID` replace the generated ones). Addresses, subject and
    /// content headers are set by their own methods and refused here.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Attaches a file: its name, MIME type and bytes.
    pub fn attach(
        self,
        filename: impl Into<String>,
        content_type: impl Into<String>,
        content: impl Into<Vec<u8>>,
    ) -> Self {
        self.attachment(Attachment::new(filename, content_type, content))
    }

    /// Attaches an [`Attachment`].
    pub fn attachment(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Checks the message and builds its MIME form, with `default_from`
    /// as the sender when it names none.
    pub(crate) fn prepare(mut self, default_from: &str) -> Result<OutgoingEmail, MailError> {
        let from = self.from.get_or_insert_with(|| default_from.to_owned());
        let from_box = parse_mailbox("from", from)?;
        single_line("subject", &self.subject)?;
        if self.to.is_empty() && self.cc.is_empty() && self.bcc.is_empty() {
            return Err(MailError::InvalidMessage {
                reason: "it has no recipients (add one with .to(), .cc() or .bcc())".to_owned(),
            });
        }
        let mut builder = lettre::Message::builder()
            .from(from_box.clone())
            .subject(self.subject.clone());
        for address in &self.to {
            builder = builder.to(parse_mailbox("to", address)?);
        }
        for address in &self.cc {
            builder = builder.cc(parse_mailbox("cc", address)?);
        }
        for address in &self.bcc {
            builder = builder.bcc(parse_mailbox("bcc", address)?);
        }
        for address in &self.reply_to {
            builder = builder.reply_to(parse_mailbox("reply_to", address)?);
        }
        let mut has_message_id = false;
        for (name, value) in &self.headers {
            let header = header_name(name)?;
            single_line(&format!("header {name}"), value)?;
            has_message_id |= name.eq_ignore_ascii_case("message-id");
            builder = builder.raw_header(HeaderValue::new(header, value.clone()));
        }
        if !has_message_id {
            builder = builder.message_id(Some(message_id(from_box.email.domain())));
        }

        let body = match &self.html {
            None => Body::Single(SinglePart::plain(self.text.clone())),
            Some(html) => Body::Alternative(MultiPart::alternative_plain_html(
                self.text.clone(),
                html.clone(),
            )),
        };
        let built = if self.attachments.is_empty() {
            match body {
                Body::Single(part) => builder.singlepart(part),
                Body::Alternative(parts) => builder.multipart(parts),
            }
        } else {
            let mut mixed = match body {
                Body::Single(part) => MultiPart::mixed().singlepart(part),
                Body::Alternative(parts) => MultiPart::mixed().multipart(parts),
            };
            for attachment in &self.attachments {
                mixed = mixed.singlepart(attachment.mime_part()?);
            }
            builder.multipart(mixed)
        };
        let message = built.map_err(|err| MailError::InvalidMessage {
            reason: err.to_string(),
        })?;
        let envelope = message.envelope().clone();
        Ok(OutgoingEmail {
            envelope_from: envelope.from().map(ToString::to_string).unwrap_or_default(),
            recipients: envelope.to().iter().map(ToString::to_string).collect(),
            raw: message.formatted(),
            envelope,
            message: self,
        })
    }
}

enum Body {
    Single(SinglePart),
    Alternative(MultiPart),
}

impl Attachment {
    fn mime_part(&self) -> Result<SinglePart, MailError> {
        single_line("attachment file name", &self.filename)?;
        single_line("attachment content type", &self.content_type)?;
        if self.filename.is_empty() {
            return Err(MailError::InvalidMessage {
                reason: "an attachment has an empty file name".to_owned(),
            });
        }
        let content_type =
            ContentType::parse(&self.content_type).map_err(|_| MailError::InvalidMessage {
                reason: format!(
                    "the attachment {:?} has the content type {:?}, which is not a MIME type \
                     such as \"application/pdf\"",
                    self.filename, self.content_type
                ),
            })?;
        Ok(MimeAttachment::new(self.filename.clone()).body(self.content.clone(), content_type))
    }
}

/// A checked message in its MIME form, with its envelope: what a
/// [`MailBackend`](super::MailBackend) receives, and what the memory
/// backend keeps (as [`SentEmail`](super::SentEmail)).
#[derive(Clone, Debug)]
pub struct OutgoingEmail {
    message: EmailMessage,
    pub(crate) envelope: lettre::address::Envelope,
    envelope_from: String,
    recipients: Vec<String>,
    raw: Vec<u8>,
}

impl OutgoingEmail {
    /// The subject, as given (without MIME encoding).
    pub fn subject(&self) -> &str {
        &self.message.subject
    }

    /// The `From` address, as given (or the default sender).
    pub fn from(&self) -> &str {
        self.message.from.as_deref().unwrap_or_default()
    }

    /// The `To` addresses, as given.
    pub fn to(&self) -> &[String] {
        &self.message.to
    }

    /// The `Cc` addresses, as given.
    pub fn cc(&self) -> &[String] {
        &self.message.cc
    }

    /// The blind-copy addresses (in the envelope, not in the headers).
    pub fn bcc(&self) -> &[String] {
        &self.message.bcc
    }

    /// The `Reply-To` addresses, as given.
    pub fn reply_to(&self) -> &[String] {
        &self.message.reply_to
    }

    /// The plain-text body.
    pub fn text(&self) -> &str {
        &self.message.text
    }

    /// The HTML alternative, if any.
    pub fn html(&self) -> Option<&str> {
        self.message.html.as_deref()
    }

    /// The attachments.
    pub fn attachments(&self) -> &[Attachment] {
        &self.message.attachments
    }

    /// An extra header given with [`EmailMessage::header`] (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.message
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The envelope sender (`MAIL FROM`): the bare address of `from`.
    pub fn envelope_from(&self) -> &str {
        &self.envelope_from
    }

    /// Every envelope recipient (`RCPT TO`): to, cc and bcc, bare addresses.
    pub fn recipients(&self) -> &[String] {
        &self.recipients
    }

    /// The whole message as sent: headers and MIME body, CRLF line ends.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// [`raw`](Self::raw) as text (the MIME form is ASCII, or UTF-8 where a
    /// body needs 8 bits).
    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// Why `address` is not an email address, or its parsed form.
pub(crate) fn check_address(address: &str) -> Result<Mailbox, String> {
    if address.chars().any(char::is_control) {
        return Err("it contains a line break or control character".to_owned());
    }
    address.trim().parse::<Mailbox>().map_err(|err| {
        let text = err.to_string();
        if text.is_empty() {
            "it is not an email address".to_owned()
        } else {
            text
        }
    })
}

fn parse_mailbox(field: &'static str, address: &str) -> Result<Mailbox, MailError> {
    if address.contains(['\r', '\n']) {
        return Err(MailError::HeaderInjection {
            field: format!("{field} address {:?}", address),
        });
    }
    check_address(address).map_err(|reason| MailError::InvalidAddress {
        field,
        address: address.to_owned(),
        reason,
    })
}

/// Refuses line breaks and other control characters (tab aside) in a
/// header value.
fn single_line(field: &str, value: &str) -> Result<(), MailError> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(MailError::HeaderInjection {
            field: field.to_owned(),
        });
    }
    Ok(())
}

fn header_name(name: &str) -> Result<HeaderName, MailError> {
    let printable = !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    if !printable {
        if name.contains(['\r', '\n']) {
            return Err(MailError::HeaderInjection {
                field: format!("header name {name:?}"),
            });
        }
        return Err(MailError::InvalidMessage {
            reason: format!(
                "{name:?} is not a header name (printable ASCII without spaces or `:`, \
                 such as \"X-Campaign\")"
            ),
        });
    }
    if RESERVED_HEADERS
        .iter()
        .any(|reserved| name.eq_ignore_ascii_case(reserved))
    {
        return Err(MailError::InvalidMessage {
            reason: format!(
                "the {name} header is set by the message itself: use .from(), .to(), .cc(), \
                 .bcc(), .reply_to(), .subject(), .html() or .attach() instead"
            ),
        });
    }
    HeaderName::new_from_ascii(name.to_owned()).map_err(|_| MailError::InvalidMessage {
        reason: format!("{name:?} is not a header name (at most 76 characters)"),
    })
}

/// A new `Message-ID`: time, randomness and the sender's domain.
fn message_id(domain: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!(
        "<{millis}.{}@{domain}>",
        crate::crypto::random_string_from(20, b"abcdefghijklmnopqrstuvwxyz0123456789")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare(message: EmailMessage) -> Result<OutgoingEmail, MailError> {
        message.prepare("Site <site@example.com>")
    }

    fn headers_of(raw: &str) -> &str {
        raw.split("\r\n\r\n").next().unwrap()
    }

    #[test]
    fn a_text_message_is_a_single_text_part_with_the_default_sender() {
        let email = prepare(
            EmailMessage::new()
                .subject("Hello")
                .text("Plain body")
                .to("Ann <ann@example.com>")
                .cc("bob@example.com")
                .bcc("hidden@example.com")
                .reply_to("replies@example.com"),
        )
        .unwrap();
        let raw = email.raw_text();
        let head = headers_of(&raw);
        assert!(head.contains("From: Site <site@example.com>\r\n"), "{raw}");
        assert!(head.contains("To: Ann <ann@example.com>\r\n"), "{raw}");
        assert!(head.contains("Cc: bob@example.com\r\n"), "{raw}");
        assert!(head.contains("Reply-To: replies@example.com\r\n"), "{raw}");
        assert!(head.contains("Subject: Hello\r\n"), "{raw}");
        assert!(
            head.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(head.contains("Date: "), "{raw}");
        assert!(head.contains("Message-ID: <"), "{raw}");
        assert!(head.contains("@example.com>"), "{raw}");
        // Bcc reaches the envelope, never a header.
        assert!(!raw.contains("hidden@example.com"), "{raw}");
        assert!(!raw.contains("Bcc"), "{raw}");
        assert_eq!(
            email.recipients(),
            ["ann@example.com", "bob@example.com", "hidden@example.com"]
        );
        assert_eq!(email.envelope_from(), "site@example.com");
        assert_eq!(email.from(), "Site <site@example.com>");
        assert_eq!(email.bcc(), ["hidden@example.com"]);
        assert!(raw.contains("\r\n\r\nPlain body"), "{raw}");
        assert_eq!(email.html(), None);
    }

    #[test]
    fn html_makes_an_alternative_and_attachments_a_mixed_message() {
        let email = prepare(
            EmailMessage::new()
                .subject("Report")
                .text("See the report.")
                .html("<p>See the <b>report</b>.</p>")
                .from("reports@example.com")
                .to("ann@example.com")
                .attach("report.csv", "text/csv", b"a,b\n1,2\n".to_vec())
                .attach(
                    "logo.png",
                    "image/png",
                    vec![0x89, b'P', b'N', b'G', 0, 1, 2],
                ),
        )
        .unwrap();
        let raw = email.raw_text();
        let mixed = raw.find("Content-Type: multipart/mixed").expect(&raw);
        let alternative = raw.find("Content-Type: multipart/alternative").expect(&raw);
        let plain = raw
            .find("Content-Type: text/plain; charset=utf-8")
            .expect(&raw);
        let html = raw
            .find("Content-Type: text/html; charset=utf-8")
            .expect(&raw);
        let csv = raw.find("filename=\"report.csv\"").expect(&raw);
        let png = raw.find("filename=\"logo.png\"").expect(&raw);
        assert!(
            mixed < alternative && alternative < plain && plain < html,
            "{raw}"
        );
        assert!(html < csv && csv < png, "{raw}");
        assert!(raw.contains("<p>See the <b>report</b>.</p>"), "{raw}");
        assert!(raw.contains("Content-Type: image/png"), "{raw}");
        assert!(
            headers_of(&raw).contains("From: reports@example.com\r\n"),
            "{raw}"
        );
        assert_eq!(email.attachments().len(), 2);
        assert_eq!(email.attachments()[0].filename(), "report.csv");
        assert_eq!(
            email.attachments()[1].content(),
            [0x89, b'P', b'N', b'G', 0, 1, 2]
        );
        assert_eq!(email.html(), Some("<p>See the <b>report</b>.</p>"));

        let alone = prepare(
            EmailMessage::new()
                .text("t")
                .html("<i>h</i>")
                .to("ann@example.com"),
        )
        .unwrap()
        .raw_text();
        assert!(
            alone.contains("Content-Type: multipart/alternative"),
            "{alone}"
        );
        assert!(!alone.contains("multipart/mixed"), "{alone}");
    }

    #[test]
    fn extra_headers_are_added_and_a_given_message_id_is_kept() {
        let email = prepare(
            EmailMessage::new()
                .subject("s")
                .to("ann@example.com")
                .header("X-Campaign", "spring")
                .header("Message-ID", "<fixed@example.com>"),
        )
        .unwrap();
        let raw = email.raw_text();
        assert!(raw.contains("X-Campaign: spring\r\n"), "{raw}");
        assert!(raw.contains("Message-ID: <fixed@example.com>\r\n"), "{raw}");
        assert_eq!(raw.matches("Message-ID").count(), 1, "{raw}");
        assert_eq!(email.header("x-campaign"), Some("spring"));
    }

    #[test]
    fn non_ascii_subjects_and_names_are_encoded() {
        let email = prepare(
            EmailMessage::new()
                .subject("Grüße aus Köln")
                .text("Schöne Grüße")
                .to("Jürgen <juergen@example.com>"),
        )
        .unwrap();
        let raw = email.raw_text();
        let head = headers_of(&raw);
        assert!(head.is_ascii(), "{head}");
        assert!(head.contains("Subject: =?utf-8?"), "{head}");
        assert_eq!(email.subject(), "Grüße aus Köln");
    }

    #[test]
    fn header_injection_is_refused() {
        let base = || {
            EmailMessage::new()
                .subject("ok")
                .text("t")
                .to("ann@example.com")
        };
        let cases = [
            (base().subject("Hi\r\nBcc: victim@example.com"), "subject"),
            (base().subject("Hi\nX-Evil: 1"), "subject"),
            (
                base().to("ann@example.com\r\nBcc: victim@example.com"),
                "to address",
            ),
            (base().cc("a@example.com\nb"), "cc address"),
            (base().from("a@example.com\r\nX: y"), "from address"),
            (base().reply_to("a@example.com\r\n"), "reply_to address"),
            (
                base().header("X-Tag", "a\r\nBcc: victim@example.com"),
                "header X-Tag",
            ),
            (base().header("X-Tag\r\nBcc", "v"), "header name"),
            (
                base().attach("a.txt\r\nX: y", "text/plain", b"x".to_vec()),
                "attachment file name",
            ),
        ];
        for (message, field) in cases {
            match prepare(message) {
                Err(MailError::HeaderInjection { field: found }) => {
                    assert!(found.starts_with(field), "{found} vs {field}")
                }
                other => panic!("{field}: expected HeaderInjection, got {other:?}"),
            }
        }
        let text = prepare(base().subject("a\nb")).unwrap_err().to_string();
        assert_eq!(
            text,
            "refused to send: the subject contains a line break or control character \
             (header injection)"
        );
    }

    #[test]
    fn bad_addresses_and_incomplete_messages_are_named() {
        let err = prepare(EmailMessage::new().to("not an address")).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, MailError::InvalidAddress { field: "to", .. }),
            "{err:?}"
        );
        assert!(
            text.contains("invalid email address \"not an address\" in to"),
            "{text}"
        );

        let err = EmailMessage::new()
            .to("ann@example.com")
            .prepare("nobody")
            .unwrap_err();
        assert!(
            matches!(err, MailError::InvalidAddress { field: "from", .. }),
            "{err:?}"
        );

        let err = prepare(EmailMessage::new().subject("s")).unwrap_err();
        assert!(err.to_string().contains("no recipients"), "{err}");

        let err = prepare(
            EmailMessage::new()
                .to("a@example.com")
                .header("Subject", "x"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("use .from(), .to()"), "{err}");

        let err =
            prepare(EmailMessage::new().to("a@example.com").header("X Tag", "x")).unwrap_err();
        assert!(err.to_string().contains("is not a header name"), "{err}");

        let err = prepare(
            EmailMessage::new()
                .to("a@example.com")
                .attach("a", "nonsense", vec![]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a MIME type"), "{err}");
    }

    #[test]
    fn addresses_of_the_usual_forms_are_accepted() {
        for address in [
            "ann@example.com",
            "Ann <ann@example.com>",
            "\"Doe, Ann\" <ann@example.com>",
            "webmaster@localhost",
            " ann@example.com ",
        ] {
            assert!(check_address(address).is_ok(), "{address}");
        }
        for address in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "Ann <ann@example.com",
            "a\nb@c.d",
        ] {
            assert!(check_address(address).is_err(), "{address:?}");
        }
    }
}
