//! The calendar feed of the events a user saved or has reminders for: its owner makes, shows, rotates and closes its address under
//! `/api/v1/notifications/feed`; calendars read it at `/feeds/<token>.ics`, without a login.

use common::{
    ApiError, ApiResult, auth::BearerAuth, etag::matches_any, ics::CalendarFile, time::Timestamp,
};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path},
    payload::Json,
};
use url::Url;

use super::{Ctx, Tag};
use crate::{
    feed,
    store::{FeedDoc, could_be_token},
};

/// The file name ending every feed address.
const SUFFIX: &str = ".ics";

pub struct FeedApi {
    pub ctx: Ctx,
    /// Where the gateway is reached from outside, for the addresses handed out.
    pub public_url: Url,
}

/// Where my calendar feed is.
#[derive(Debug, Object)]
pub struct FeedOut {
    /// The feed over HTTPS (or HTTP locally).
    pub url: String,
    /// The same address for calendar apps that subscribe on `webcal://`.
    pub webcal_url: String,
    /// When this address was made; an older one no longer works.
    pub created_at: Timestamp,
}

#[derive(ApiResponse)]
enum Closed {
    /// The feed's address no longer works.
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
enum FeedFile {
    /// The calendar.
    #[oai(status = 200)]
    Ok(
        CalendarFile,
        /// Send it back in `If-None-Match`.
        #[oai(header = "ETag")]
        String,
    ),
    /// Nothing changed since the `ETag` in `If-None-Match`.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
}

#[OpenApi(prefix_path = "/api/v1/notifications/feed", tag = "Tag::Feed")]
impl FeedApi {
    /// My calendar feed's address (404 until I make one).
    #[oai(path = "/", method = "get", operation_id = "notifications.feed")]
    async fn show(&self, auth: BearerAuth) -> ApiResult<Json<FeedOut>> {
        let feed = self
            .ctx
            .store
            .feed_of(auth.user_id())
            .await?
            .ok_or(ApiError::NotFound("calendar feed"))?;
        Ok(Json(self.out(&feed)?))
    }

    /// Make my calendar feed, or give it a new address: the old one stops working at once.
    #[oai(path = "/", method = "put", operation_id = "notifications.rotate_feed")]
    async fn rotate(&self, auth: BearerAuth) -> ApiResult<Json<FeedOut>> {
        let feed = FeedDoc::new(auth.user_id())?;
        self.ctx.store.replace_feed(&feed).await?;
        tracing::info!(user_id = %feed.user_id, "calendar feed address made");
        Ok(Json(self.out(&feed)?))
    }

    /// Close my calendar feed: its address stops working.
    #[oai(
        path = "/",
        method = "delete",
        operation_id = "notifications.close_feed"
    )]
    async fn close(&self, auth: BearerAuth) -> ApiResult<Closed> {
        self.ctx.store.delete_feed(auth.user_id()).await?;
        Ok(Closed::Done)
    }
}

impl FeedApi {
    fn out(&self, feed: &FeedDoc) -> ApiResult<FeedOut> {
        let url = self
            .public_url
            .join(&format!("/feeds/{}{SUFFIX}", feed.token))
            .map_err(anyhow::Error::from)?;
        let webcal = url.as_str().replacen(url.scheme(), "webcal", 1);
        Ok(FeedOut {
            url: url.to_string(),
            webcal_url: webcal,
            created_at: Timestamp(feed.created_at.to_chrono()),
        })
    }
}

/// The feed file itself.
pub struct FeedFileApi {
    pub ctx: Ctx,
}

#[OpenApi(prefix_path = "/feeds", tag = "Tag::Feed")]
impl FeedFileApi {
    /// A calendar (iCalendar) of the events I saved or have a reminder for, each reminder
    /// still to go out as an alarm. The address is the only key: keep it private. With
    /// `If-None-Match` holding the current `ETag`: 304.
    #[oai(
        path = "/:feed",
        method = "get",
        operation_id = "notifications.feed_file"
    )]
    async fn file(
        &self,
        /// `<token>.ics`, as `url` of my feed gives it.
        feed: Path<String>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> ApiResult<FeedFile> {
        let unknown = || ApiError::NotFound("calendar feed");
        let token = feed
            .0
            .strip_suffix(SUFFIX)
            .filter(|token| could_be_token(token))
            .ok_or_else(unknown)?;
        let feed = self
            .ctx
            .store
            .feed_by_token(token)
            .await?
            .ok_or_else(unknown)?;
        let reminders = self.ctx.store.live_reminders_of(feed.user_id).await?;
        let saves = self.ctx.store.saved_by(feed.user_id).await?;
        let (body, etag) = feed::render(&reminders, &saves);
        if if_none_match
            .0
            .as_deref()
            .is_some_and(|tags| matches_any(tags, &etag))
        {
            return Ok(FeedFile::NotModified(etag));
        }
        Ok(FeedFile::Ok(CalendarFile(body), etag))
    }
}
