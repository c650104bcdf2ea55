//! The forms of the login and password pages, with Django's labels and
//! messages.

use crate::forms::{Form, FormErrors};

/// Django's `AuthenticationForm`.
#[derive(Form, Debug)]
pub struct LoginForm {
    /// The username.
    #[form(max_length = 150, label = "Username")]
    pub username: String,
    /// The password (not stripped of spaces).
    #[form(widget = "password", label = "Password")]
    pub password: String,
}

/// Django's message for a failed login.
pub(crate) const INVALID_LOGIN: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

/// Django's message when the two new passwords differ.
pub(crate) const MISMATCH: &str = "The two password fields didn’t match.";

fn new_passwords_match(new1: &str, new2: &str) -> Result<(), FormErrors> {
    if new1 != new2 {
        return Err(FormErrors::field("new_password2", MISMATCH));
    }
    Ok(())
}

fn set_password_match(form: &SetPasswordForm) -> Result<(), FormErrors> {
    new_passwords_match(&form.new_password1, &form.new_password2)
}

fn change_password_match(form: &PasswordChangeForm) -> Result<(), FormErrors> {
    new_passwords_match(&form.new_password1, &form.new_password2)
}

/// Django's `SetPasswordForm`: a new password, twice.
#[derive(Form, Debug)]
#[form(clean = "set_password_match")]
pub struct SetPasswordForm {
    /// The new password.
    #[form(widget = "password", label = "New password")]
    pub new_password1: String,
    /// The same again.
    #[form(widget = "password", label = "New password confirmation")]
    pub new_password2: String,
}

/// Django's `PasswordChangeForm`: the old password and a new one, twice.
#[derive(Form, Debug)]
#[form(clean = "change_password_match")]
pub struct PasswordChangeForm {
    /// The current password.
    #[form(widget = "password", label = "Old password")]
    pub old_password: String,
    /// The new password.
    #[form(widget = "password", label = "New password")]
    pub new_password1: String,
    /// The same again.
    #[form(widget = "password", label = "New password confirmation")]
    pub new_password2: String,
}

/// Django's `PasswordResetForm`.
#[derive(Form, Debug)]
pub struct PasswordResetForm {
    /// Where to send the link.
    #[form(email, max_length = 254, label = "Email")]
    pub email: String,
}

fn creation_passwords_match(form: &UserCreationForm) -> Result<(), FormErrors> {
    new_passwords_match(&form.password1, &form.password2)
        .map_err(|_| FormErrors::field("password2", MISMATCH))
}

// Form validators take the field's type by reference: here `&String`.
#[allow(clippy::ptr_arg)]
fn valid_username(username: &String) -> Result<(), String> {
    super::validate_username(username)
}

/// Django's `UserCreationForm`: a username and a password, twice (the
/// password validators are applied by the page, which knows the user).
#[derive(Form, Debug)]
#[form(clean = "creation_passwords_match")]
pub struct UserCreationForm {
    /// The login name.
    #[form(
        max_length = 150,
        validator = "valid_username",
        help_text = "Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only."
    )]
    pub username: String,
    /// The password.
    #[form(widget = "password", label = "Password")]
    pub password1: String,
    /// The same again.
    #[form(
        widget = "password",
        label = "Password confirmation",
        help_text = "Enter the same password as before, for verification."
    )]
    pub password2: String,
}
