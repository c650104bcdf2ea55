//! API tokens: what a script or another service sends as
//! `Authorization: Bearer <key>` instead of logging in.
//!
//! Only a SHA-256 digest of each key is stored (a leaked table leaks no
//! usable key); the key itself is shown once, when the token is created
//! with [`ApiToken::create`] or the `createtoken` command. A user may hold
//! several tokens (one per client, each with a name), and deleting a token
//! revokes it at once.

use std::io::Write as _;

use clap::Arg;
use estate::auth::User;
use estate::cli::{CommandContext, ManagementCommand};
use estate::db::Database;
use estate::orm::chrono::{DateTime, Utc};
use estate::orm::{ForeignKey, Model as _};
use estate::prelude::*;
use sha2::{Digest as _, Sha256};

/// What every key starts with, so a leaked key is easy to recognise (and
/// to scan for) as an Estate API token.
pub const KEY_PREFIX: &str = "est_";

/// Random characters in a key after the prefix (about 238 bits).
const KEY_RANDOM_CHARS: usize = 40;

/// Characters of the key kept in clear, to tell tokens apart in listings.
const SHOWN_CHARS: usize = 8;

/// An API token of a user (Django REST Framework's `Token`, hashed).
#[derive(Model, Clone, Debug)]
#[model(
    table = "api_token",
    ordering = "-created",
    verbose_name = "API token",
    verbose_name_plural = "API tokens"
)]
pub struct ApiToken {
    /// The key.
    pub id: Auto<i64>,
    /// SHA-256 of the key, hex.
    #[model(max_length = 64, unique)]
    pub key_digest: String,
    /// The key's first characters, for listings (`est_AbCd`).
    #[model(max_length = 16)]
    pub shown: String,
    /// What the token is for ("deploy script").
    #[model(max_length = 100)]
    pub name: String,
    /// Whose token it is: requests made with it act as this user.
    #[model(on_delete = Cascade, related_name = "api_tokens")]
    pub user: ForeignKey<User>,
    /// When it was created.
    pub created: DateTime<Utc>,
}

/// The stored digest of a key.
fn digest(key: &str) -> String {
    let hash = Sha256::digest(key.as_bytes());
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl ApiToken {
    /// Creates a token for `user` named `name`; returns it with its key,
    /// which is not stored and cannot be shown again.
    ///
    /// # Errors
    /// An unsaved user, or a database error.
    pub async fn create(
        db: &Database,
        user: &User,
        name: &str,
    ) -> Result<(ApiToken, String), Error> {
        let user_id = user
            .id
            .get()
            .ok_or_else(|| Error::msg("ApiToken::create needs a saved user"))?;
        let key = format!(
            "{KEY_PREFIX}{}",
            estate::crypto::get_random_string(KEY_RANDOM_CHARS)
        );
        let mut token = ApiToken {
            id: Auto::new(),
            key_digest: digest(&key),
            shown: key.chars().take(SHOWN_CHARS).collect(),
            name: name.to_owned(),
            user: ForeignKey::new(user_id),
            created: Utc::now(),
        };
        token.insert(db).await?;
        Ok((token, key))
    }

    /// The active user a key belongs to, or `None` for an unknown key or
    /// an inactive user.
    ///
    /// # Errors
    /// Database errors.
    pub async fn authenticate(db: &Database, key: &str) -> Result<Option<User>, Error> {
        if !key.starts_with(KEY_PREFIX) || key.len() > 200 {
            return Ok(None);
        }
        // Looked up by digest: equal digests mean equal keys, and timing
        // reveals nothing about a key from its digest's comparison.
        let user = User::objects()
            .filter(User::ID.in_query(
                ApiToken::USER,
                &ApiToken::objects().filter(ApiToken::KEY_DIGEST.eq(digest(key))),
            ))
            .first(db)
            .await?;
        Ok(user.filter(|user| user.is_active))
    }
}

/// `createtoken USERNAME [--name NAME]`: prints a new key for the user.
pub(crate) fn createtoken() -> ManagementCommand {
    ManagementCommand::new(
        "createtoken",
        "Create an API token for a user and print its key (shown only once)",
        |ctx: CommandContext| async move {
            let db = ctx
                .app
                .context()
                .get::<Database>()
                .cloned()
                .ok_or_else(|| {
                    Error::msg("no database: set DATABASE_URL (or database_url in estate.toml)")
                })?;
            let username = ctx
                .args
                .get_one::<String>("username")
                .cloned()
                .unwrap_or_default();
            let name = ctx
                .args
                .get_one::<String>("name")
                .cloned()
                .unwrap_or_else(|| "createtoken".to_owned());
            let user = User::objects()
                .filter(User::USERNAME.eq(username.as_str()))
                .first(&db)
                .await?
                .ok_or_else(|| {
                    Error::msg(format!(
                        "user {username:?} does not exist: create it first (createsuperuser)"
                    ))
                })?;
            let (_, key) = ApiToken::create(&db, &user, &name).await?;
            writeln!(ctx.out(), "{key}")?;
            Ok(())
        },
    )
    .arg(
        Arg::new("username")
            .required(true)
            .help("The user the token acts as"),
    )
    .arg(
        Arg::new("name")
            .long("name")
            .help("What the token is for (default: createtoken)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_as_sha256_digests() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(digest("est_abc"), digest("est_abd"));
    }
}
