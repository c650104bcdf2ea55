//! The auth app's models, with Django's tables and columns: `User`
//! (`auth_user`), `Group` (`auth_group`), `Permission` (`auth_permission`),
//! and the links between them (`auth_user_groups`,
//! `auth_user_user_permissions`, `auth_group_permissions`).

use estate_orm::chrono::{DateTime, Utc};
use estate_orm::{Auto, ManyToMany};

use super::hashers::{PasswordCheck, PasswordHashers, make_unusable_password};

/// Something a user may do: `polls.change_question` is app `polls`,
/// codename `change_question`. `migrate` creates `add_`, `change_`,
/// `delete_` and `view_` permissions for every model of every app.
#[derive(estate_macros::Model, Debug, Clone, PartialEq, Eq)]
#[model(
    crate = "crate::orm",
    table = "auth_permission",
    verbose_name = "permission",
    verbose_name_plural = "permissions",
    unique_together = "app_label, codename",
    ordering = "app_label, model, codename"
)]
pub struct Permission {
    /// The key.
    pub id: Auto<i64>,
    /// What people read: "Can change question".
    #[model(max_length = 255)]
    pub name: String,
    /// The app the permission belongs to: `polls`.
    #[model(max_length = 100)]
    pub app_label: String,
    /// The model it is about, lower-case (`question`), or empty.
    #[model(max_length = 100)]
    pub model: String,
    /// The code checked in `has_perm`: `change_question`.
    #[model(max_length = 100)]
    pub codename: String,
}

impl Permission {
    /// `app_label.codename`, as `has_perm` takes it.
    pub fn natural_key(&self) -> String {
        format!("{}.{}", self.app_label, self.codename)
    }
}

/// A named set of permissions; a user in the group has them all.
#[derive(estate_macros::Model, Debug, Clone)]
#[model(
    crate = "crate::orm",
    table = "auth_group",
    verbose_name = "group",
    verbose_name_plural = "groups",
    ordering = "name"
)]
pub struct Group {
    /// The key.
    pub id: Auto<i64>,
    /// The group's name.
    #[model(max_length = 150, unique)]
    pub name: String,
    /// The group's permissions.
    pub permissions: ManyToMany<Permission>,
}

/// Someone who can log in. Fields as in Django's `auth.User`; add your
/// own through a profile model with a `OneToOne<User>` (see
/// `docs/auth.md`).
#[derive(estate_macros::Model, Debug, Clone)]
#[model(
    crate = "crate::orm",
    table = "auth_user",
    verbose_name = "user",
    verbose_name_plural = "users"
)]
pub struct User {
    /// The key.
    pub id: Auto<i64>,
    /// The hashed password (`argon2$...`), or `!...` when none is usable.
    #[model(max_length = 128)]
    pub password: String,
    /// When the user last logged in.
    pub last_login: Option<DateTime<Utc>>,
    /// Has every permission without being given them.
    #[model(
        default = false,
        verbose_name = "superuser status",
        help_text = "Designates that this user has all permissions without explicitly assigning them."
    )]
    pub is_superuser: bool,
    /// The login name, unique.
    #[model(
        max_length = 150,
        unique,
        help_text = "Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only."
    )]
    pub username: String,
    /// Given name (may be empty).
    #[model(max_length = 150)]
    pub first_name: String,
    /// Family name (may be empty).
    #[model(max_length = 150)]
    pub last_name: String,
    /// Email address (may be empty).
    #[model(max_length = 254, verbose_name = "email address")]
    pub email: String,
    /// May log into the admin.
    #[model(
        default = false,
        verbose_name = "staff status",
        help_text = "Designates whether the user can log into this admin site."
    )]
    pub is_staff: bool,
    /// May log in at all (unset this instead of deleting accounts).
    #[model(
        default = true,
        verbose_name = "active",
        help_text = "Designates whether this user should be treated as active. Unselect this instead of deleting accounts."
    )]
    pub is_active: bool,
    /// When the account was created.
    pub date_joined: DateTime<Utc>,
    /// The groups the user belongs to.
    pub groups: ManyToMany<Group>,
    /// Permissions given to the user directly.
    pub user_permissions: ManyToMany<Permission>,
}

impl User {
    /// A new, active, unsaved user without a usable password: set one with
    /// [`User::set_password`] (with the site's hashers) before saving, or
    /// create users with `estate::auth::create_user`.
    pub fn new(username: impl Into<String>, email: impl Into<String>) -> User {
        User {
            id: Auto::new(),
            password: make_unusable_password(),
            last_login: None,
            is_superuser: false,
            username: username.into(),
            first_name: String::new(),
            last_name: String::new(),
            email: normalize_email(&email.into()),
            is_staff: false,
            is_active: true,
            date_joined: Utc::now(),
            groups: ManyToMany::default(),
            user_permissions: ManyToMany::default(),
        }
    }

    /// Hashes and sets `raw` as the password (not saved until `save`).
    pub fn set_password(&mut self, hashers: &PasswordHashers, raw: &str) {
        self.password = hashers.make(raw);
    }

    /// Makes the password unusable (for accounts that log in elsewhere).
    pub fn set_unusable_password(&mut self) {
        self.password = make_unusable_password();
    }

    /// Whether `raw` is the user's password (not upgrading the hash; the
    /// login does that).
    pub fn check_password(&self, hashers: &PasswordHashers, raw: &str) -> bool {
        hashers.check(raw, &self.password) != PasswordCheck::Wrong
    }

    /// Whether the user has a password that can match.
    pub fn has_usable_password(&self) -> bool {
        super::hashers::is_password_usable(&self.password)
    }

    /// First and last name with a space between them, trimmed.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }

    /// The first name (Django's `get_short_name`).
    pub fn short_name(&self) -> &str {
        &self.first_name
    }
}

/// Lower-cases the domain part of an address, as Django's
/// `normalize_email` (the local part may be case-sensitive).
pub fn normalize_email(email: &str) -> String {
    match email.trim().rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => email.trim().to_owned(),
    }
}

/// Django's `UnicodeUsernameValidator`: letters, digits and `@.+-_`.
///
/// # Errors
/// Django's message, when the name has other characters or is empty.
pub fn validate_username(username: &str) -> Result<(), String> {
    if !username.is_empty()
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        Ok(())
    } else {
        Err(
            "Enter a valid username. This value may contain only letters, numbers, and \
             @/./+/-/_ characters."
                .to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_keep_the_local_part_and_usernames_follow_django() {
        assert_eq!(normalize_email(" Ann@Example.COM "), "Ann@example.com");
        assert_eq!(normalize_email("nobody"), "nobody");
        assert!(validate_username("ann.smith+1@x").is_ok());
        assert!(validate_username("Zoë_99").is_ok());
        assert!(validate_username("ann smith").is_err());
        assert!(validate_username("").is_err());
        assert!(validate_username("<script>").is_err());
    }

    #[test]
    fn users_are_named_by_username_never_by_their_password_hash() {
        use estate_orm::Model as _;
        assert_eq!(User::META.label_field().map(|f| f.name), Some("username"));
        assert_eq!(Group::META.label_field().map(|f| f.name), Some("name"));
        assert_eq!(Permission::META.label_field().map(|f| f.name), Some("name"));
    }

    #[test]
    fn new_users_are_active_without_a_usable_password() {
        let mut user = User::new("ann", "ann@EXAMPLE.com");
        assert!(user.is_active && !user.is_staff && !user.is_superuser);
        assert_eq!(user.email, "ann@example.com");
        assert!(!user.has_usable_password());
        let hashers =
            PasswordHashers::new(super::super::hashers::Pbkdf2Hasher::sha256().iterations(1));
        user.set_password(&hashers, "s3cret-pass");
        assert!(user.check_password(&hashers, "s3cret-pass"));
        assert!(!user.check_password(&hashers, "wrong"));
        user.first_name = "Ann".into();
        user.last_name = "Smith".into();
        assert_eq!(user.full_name(), "Ann Smith");
    }
}
