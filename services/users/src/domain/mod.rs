//! The users service's own values; email addresses and topics come from `common::domain`.

mod display_name;
mod password;

pub use display_name::DisplayName;
pub use password::Password;
