//! Checking credentials and creating users.

use estate_orm::chrono::Utc;
use estate_orm::{DbError, ErrorKind, Executor, Model};

use super::Auth;
use super::hashers::PasswordCheck;
use super::models::{User, normalize_email, validate_username};
use crate::error::Error;

impl Auth {
    /// The active user with this username and password, or `None`.
    /// A correct password stored with an outdated hash is re-hashed with
    /// the preferred hasher and saved. An unknown username costs the same
    /// time as a wrong password (one hash is computed either way).
    ///
    /// # Errors
    /// Database errors.
    pub async fn authenticate<E: Executor + ?Sized>(
        &self,
        db: &E,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, DbError> {
        let found = User::objects()
            .filter(User::USERNAME.eq(username))
            .first(db)
            .await?;
        let Some(mut user) = found else {
            let _ = self.hashers().make(password);
            return Ok(None);
        };
        match self.hashers().check(password, &user.password) {
            PasswordCheck::Wrong => return Ok(None),
            PasswordCheck::Correct => {}
            PasswordCheck::CorrectOutdated => {
                user.password = self.hashers().make(password);
                User::objects()
                    .filter(User::ID.eq(user.id))
                    .update(db, [User::PASSWORD.set(user.password.clone())])
                    .await?;
            }
        }
        // Django's ModelBackend: inactive users cannot log in.
        Ok(user.is_active.then_some(user))
    }
}

async fn create<E: Executor + ?Sized>(
    auth: &Auth,
    db: &E,
    username: &str,
    email: &str,
    password: Option<&str>,
    superuser: bool,
) -> Result<User, Error> {
    validate_username(username)
        .map_err(|message| Error::bad_request(format!("username: {message}")))?;
    let mut user = User::new(username, normalize_email(email));
    user.is_staff = superuser;
    user.is_superuser = superuser;
    if let Some(password) = password {
        user.set_password(auth.hashers(), password);
    }
    user.date_joined = Utc::now();
    match user.insert(db).await {
        Ok(()) => Ok(user),
        Err(err) if err.kind() == ErrorKind::UniqueViolation => Err(Error::conflict(format!(
            "username: a user with the username {username:?} already exists"
        ))),
        Err(err) => Err(err.into()),
    }
}

/// Creates and saves an active user (Django's `create_user`); without a
/// password the account cannot log in until one is set. The password is
/// not checked against the validators: forms and commands do that.
///
/// # Errors
/// An invalid or taken username (naming it), or a database error.
pub async fn create_user<E: Executor + ?Sized>(
    auth: &Auth,
    db: &E,
    username: &str,
    email: &str,
    password: Option<&str>,
) -> Result<User, Error> {
    create(auth, db, username, email, password, false).await
}

/// Creates and saves a superuser: active, staff, every permission.
///
/// # Errors
/// As [`create_user`].
pub async fn create_superuser<E: Executor + ?Sized>(
    auth: &Auth,
    db: &E,
    username: &str,
    email: &str,
    password: Option<&str>,
) -> Result<User, Error> {
    create(auth, db, username, email, password, true).await
}
