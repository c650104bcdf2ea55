//! `sendtestemail`: checks that the project can send mail.

use std::io::Write as _;

use clap::{Arg, ArgAction};

use super::{EmailMessage, Mailer, mail_admins};
use crate::cli::ManagementCommand;
use crate::error::Error;

/// Django's `sendtestemail ADDRESS... [--admins]`.
pub(crate) fn sendtestemail() -> ManagementCommand {
    ManagementCommand::new(
        "sendtestemail",
        "Send a test email to the given addresses (--admins: to mail.admins)",
        |ctx| async move {
            let recipients: Vec<String> = ctx
                .args
                .get_many::<String>("email")
                .map(|values| values.cloned().collect())
                .unwrap_or_default();
            let admins = ctx.args.get_flag("admins");
            if recipients.is_empty() && !admins {
                return Err(Error::msg(
                    "sendtestemail: give at least one address (sendtestemail ann@example.com) \
                     or --admins",
                ));
            }
            let mailer = ctx.app.context().get::<Mailer>().cloned().ok_or_else(|| {
                Error::msg("sendtestemail: the app has no Mailer (its startup did not make one)")
            })?;
            let subject = format!(
                "Test email from {} on {}",
                host_name(),
                crate::orm::chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
            );
            if !recipients.is_empty() {
                let mut message = EmailMessage::new()
                    .subject(subject.as_str())
                    .text("If you're reading this, it was successful.");
                for recipient in &recipients {
                    message = message.to(recipient.as_str());
                }
                mailer
                    .send(message)
                    .await
                    .map_err(|err| Error::msg(format!("sendtestemail: {err}")).with_source(err))?;
                writeln!(
                    ctx.out(),
                    "Sent a test email to {} (backend: {}).",
                    recipients.join(", "),
                    mailer.backend_name()
                )?;
            }
            if admins {
                if mailer.admins().is_empty() {
                    return Err(Error::msg(
                        "sendtestemail --admins: mail.admins is empty; set admins = \
                         [\"ops@example.com\"] under [mail] in estate.toml (or \
                         ESTATE_MAIL__ADMINS=ops@example.com)",
                    ));
                }
                mail_admins(
                    &mailer,
                    &subject,
                    "This email was sent to the site admins.",
                    None,
                )
                .await
                .map_err(|err| Error::msg(format!("sendtestemail: {err}")).with_source(err))?;
                writeln!(
                    ctx.out(),
                    "Sent a test email to the admins: {} (backend: {}).",
                    mailer.admins().join(", "),
                    mailer.backend_name()
                )?;
            }
            Ok(())
        },
    )
    .arg(
        Arg::new("email")
            .num_args(0..)
            .value_name("ADDRESS")
            .help("Addresses to send the test email to"),
    )
    .arg(
        Arg::new("admins")
            .long("admins")
            .action(ArgAction::SetTrue)
            .help("Also send it to the site admins (mail.admins)"),
    )
}

/// This machine's name, for the subject (as Django's `socket.gethostname()`).
fn host_name() -> String {
    lettre::transport::smtp::extension::ClientId::default().to_string()
}
