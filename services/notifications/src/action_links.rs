//! Links in a reminder mail that act on that reminder without a login: "snooze 1 hour",
//! "snooze until tomorrow 09:00", "cancel". Each is signed by this service for one reminder
//! and one action, and expires; the page it opens asks before anything changes, so a mail
//! scanner that follows links changes nothing.
//!
//! A token is `<reminder id>.<action>.<expiry, Unix seconds>.<HMAC-SHA256 of the three>`: the
//! signature is the only secret, so a link cannot be turned into another reminder's, another
//! action or a later expiry, and nothing needs storing per mail.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use common::{
    config::Secret,
    domain::{EventId, ReminderId},
    messages::ReminderLinks,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

/// How long the links in a mail keep working.
pub const LINK_LIFETIME: TimeDelta = TimeDelta::days(7);

/// What a link does to its reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Again in an hour from the click.
    SnoozeHour,
    /// Again tomorrow (from the click) at 09:00 on the owner's clock.
    SnoozeTomorrow,
    /// Not at all.
    Cancel,
}

impl Action {
    const ALL: [Self; 3] = [Self::SnoozeHour, Self::SnoozeTomorrow, Self::Cancel];

    fn code(self) -> &'static str {
        match self {
            Self::SnoozeHour => "snooze-hour",
            Self::SnoozeTomorrow => "snooze-tomorrow",
            Self::Cancel => "cancel",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.code() == code)
    }
}

/// What a valid token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionLink {
    pub reminder_id: ReminderId,
    pub action: Action,
    pub expires_at: DateTime<Utc>,
}

/// Why a token opens nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a token this service signed (or one tampered with).
    Unknown,
    /// Signed, but past its expiry.
    Expired,
}

/// Signs and opens action links.
#[derive(Clone)]
pub struct ActionLinks {
    key: Arc<[u8]>,
    public_url: Url,
}

impl std::fmt::Debug for ActionLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionLinks")
            .field("key", &"[redacted]")
            .field("public_url", &self.public_url.as_str())
            .finish()
    }
}

impl ActionLinks {
    pub fn new(key: &Secret, public_url: Url) -> Self {
        Self {
            key: key.expose().as_bytes().into(),
            public_url,
        }
    }

    /// Where people reach the platform.
    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// The links a mail of `reminder_id` (of `event_id`) sent at `now` carries.
    pub fn for_mail(
        &self,
        reminder_id: ReminderId,
        event_id: EventId,
        now: DateTime<Utc>,
    ) -> ReminderLinks {
        let expires_at = now + LINK_LIFETIME;
        let url = |action| {
            self.url(&ActionLink {
                reminder_id,
                action,
                expires_at,
            })
        };
        let base = self.public_url.as_str().trim_end_matches('/');
        ReminderLinks {
            snooze_hour: url(Action::SnoozeHour),
            snooze_tomorrow: url(Action::SnoozeTomorrow),
            open_event: Some(format!("{base}/events/{event_id}")),
        }
    }

    /// The address of `link`'s page.
    pub fn url(&self, link: &ActionLink) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}/api/v1/notifications/actions/{}", self.token(link))
    }

    /// `link` as a token.
    pub fn token(&self, link: &ActionLink) -> String {
        let claims = format!(
            "{}.{}.{}",
            link.reminder_id,
            link.action.code(),
            link.expires_at.timestamp()
        );
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&claims).finalize().into_bytes());
        format!("{claims}.{signature}")
    }

    /// What `token` says, if this service signed it and it has not expired at `now`.
    pub fn open(&self, token: &str, now: DateTime<Utc>) -> Result<ActionLink, Refused> {
        let (claims, signature) = token.rsplit_once('.').ok_or(Refused::Unknown)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Refused::Unknown)?;
        self.mac(claims)
            .verify_slice(&signature)
            .map_err(|_| Refused::Unknown)?;
        let mut parts = claims.split('.');
        let (Some(id), Some(action), Some(expiry), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refused::Unknown);
        };
        let link = ActionLink {
            reminder_id: ReminderId::parse(id).map_err(|_| Refused::Unknown)?,
            action: Action::from_code(action).ok_or(Refused::Unknown)?,
            expires_at: expiry
                .parse()
                .ok()
                .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
                .ok_or(Refused::Unknown)?,
        };
        if link.expires_at <= now {
            return Err(Refused::Expired);
        }
        Ok(link)
    }

    fn mac(&self, claims: &str) -> Hmac<Sha256> {
        // The purpose is signed too, so no other signature made with the key can pass as one.
        #[expect(clippy::expect_used, reason = "HMAC takes a key of any length")]
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"eventpost reminder action\n");
        mac.update(claims.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(key: &str) -> ActionLinks {
        ActionLinks::new(
            &Secret::new(key),
            Url::parse("https://eventpost.example/").unwrap(),
        )
    }

    fn now() -> DateTime<Utc> {
        "2027-06-10T12:00:00Z".parse().unwrap()
    }

    fn snooze(reminder_id: ReminderId) -> ActionLink {
        ActionLink {
            reminder_id,
            action: Action::SnoozeHour,
            expires_at: now() + LINK_LIFETIME,
        }
    }

    #[test]
    fn a_signed_link_opens_until_it_expires() {
        let links = links("key");
        let link = snooze(ReminderId::new());
        let token = links.token(&link);
        assert_eq!(links.open(&token, now()), Ok(link));
        assert_eq!(links.open(&token, link.expires_at), Err(Refused::Expired));
    }

    #[test]
    fn a_link_changed_in_any_part_or_signed_with_another_key_opens_nothing() {
        let links = links("key");
        let link = snooze(ReminderId::new());
        let token = links.token(&link);
        let other_reminder = token.replacen(
            &link.reminder_id.to_string(),
            &ReminderId::new().to_string(),
            1,
        );
        let other_action = token.replacen("snooze-hour", "cancel", 1);
        let later = token.replacen(
            &link.expires_at.timestamp().to_string(),
            &(link.expires_at.timestamp() + 86_400).to_string(),
            1,
        );
        for forged in [
            other_reminder,
            other_action,
            later,
            format!("{token}x"),
            String::new(),
        ] {
            assert_eq!(
                links.open(&forged, now()),
                Err(Refused::Unknown),
                "{forged}"
            );
        }
        assert_eq!(
            self::links("another key").open(&token, now()),
            Err(Refused::Unknown)
        );
    }

    #[test]
    fn a_mail_carries_a_link_per_snooze_under_the_public_address() {
        let links = links("key");
        let reminder_id = ReminderId::new();
        let event_id = EventId::new();
        let mail = links.for_mail(reminder_id, event_id, now());
        assert_eq!(
            mail.open_event,
            Some(format!("https://eventpost.example/events/{event_id}"))
        );
        for (url, action) in [
            (&mail.snooze_hour, Action::SnoozeHour),
            (&mail.snooze_tomorrow, Action::SnoozeTomorrow),
        ] {
            let token = url
                .strip_prefix("https://eventpost.example/api/v1/notifications/actions/")
                .unwrap();
            let opened = links.open(token, now()).unwrap();
            assert_eq!((opened.reminder_id, opened.action), (reminder_id, action));
        }
    }
}
