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
            let password = password.to_owned();
            self.hashing(move |hashers| drop(hashers.make(&password)))
                .await;
            return Ok(None);
        };
        let (given, encoded) = (password.to_owned(), user.password.clone());
        let check = self
            .hashing(move |hashers| hashers.check(&given, &encoded))
            .await;
        match check {
            PasswordCheck::Wrong => return Ok(None),
            PasswordCheck::Correct => {}
            PasswordCheck::CorrectOutdated => {
                user.password = self.hash_password(password).await;
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

/// What a throttled login attempt came to.
pub(crate) enum LoginOutcome {
    /// Logged in.
    LoggedIn,
    /// Wrong credentials (or refused by the page's rule, e.g. not staff).
    Refused,
    /// Over a limit: wait this long.
    Throttled(std::time::Duration),
}

impl Auth {
    /// The key the login limits count an account under: the user's id
    /// when the username exists (so spellings the database treats as the
    /// same name share one count), else the name as typed, lower-cased.
    async fn account_key<E: Executor + ?Sized>(
        &self,
        db: &E,
        username: &str,
    ) -> Result<String, DbError> {
        let id = User::objects()
            .filter(User::USERNAME.eq(username))
            .values(User::ID)
            .first(db)
            .await?;
        Ok(match id.and_then(|id| id.get()) {
            Some(id) => format!("user:{id}"),
            None => format!("name:{}", username.trim().to_lowercase()),
        })
    }

    /// A login attempt as the login pages make it: counted against the
    /// limits first, then the credentials checked, and the user logged in
    /// when `allowed` (say, staff only) accepts them.
    pub(crate) async fn throttled_login(
        &self,
        db: &estate_orm::Database,
        current: &super::CurrentUser,
        username: &str,
        password: &str,
        address: Option<&str>,
        allowed: impl Fn(&User) -> bool,
    ) -> Result<LoginOutcome, Error> {
        let account = self.account_key(db, username).await?;
        if let Err(wait) = self.throttle().attempt(&account, address).await {
            return Ok(LoginOutcome::Throttled(wait));
        }
        match self.authenticate(db, username, password).await? {
            Some(mut user) if allowed(&user) => {
                self.throttle().succeeded(&account, address).await;
                current.login(&mut user).await?;
                Ok(LoginOutcome::LoggedIn)
            }
            _ => Ok(LoginOutcome::Refused),
        }
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
        user.password = auth.hash_password(password).await;
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
