//! The web app's pages that the users service's mails link to: each carries its single-use
//! token, and acts only on that page's one button (a `POST`), so a mail scanner that follows
//! links changes nothing.

use url::Url;

/// Makes the links of verification and password-reset mails.
#[derive(Clone, Debug)]
pub struct MailLinks {
    public_url: Url,
}

impl MailLinks {
    /// Links under `public_url`, where people reach the web app.
    pub fn new(public_url: Url) -> Self {
        Self { public_url }
    }

    /// The page that verifies an address with `token`.
    pub fn verify(&self, token: &str) -> String {
        self.page("verify", token)
    }

    /// The page where a new password is chosen with `token`.
    pub fn reset_password(&self, token: &str) -> String {
        self.page("reset-password", token)
    }

    fn page(&self, path: &str, token: &str) -> String {
        let mut url = self.public_url.clone();
        url.set_path(path);
        url.query_pairs_mut().clear().append_pair("token", token);
        url.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_names_its_page_and_token_under_the_public_address() -> anyhow::Result<()> {
        let links = MailLinks::new(Url::parse("https://eventpost.example/app/?x=1")?);
        assert_eq!(
            links.verify("a+b/c"),
            "https://eventpost.example/verify?token=a%2Bb%2Fc"
        );
        assert_eq!(
            links.reset_password("t"),
            "https://eventpost.example/reset-password?token=t"
        );
        Ok(())
    }
}
