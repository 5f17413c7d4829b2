//! The visitor's saved events.

use minijinja::context;
use poem::{Response, handler, http::StatusCode, web::Query};
use serde::Deserialize;

use super::{Visitor, discover::EventItem};

/// Saved events per page.
const PAGE_SIZE: u32 = 20;

#[derive(Deserialize)]
pub struct SavedQuery {
    cursor: Option<String>,
}

#[handler]
pub async fn saved(visitor: Visitor, Query(query): Query<SavedQuery>) -> Response {
    let Some(login) = &visitor.login else {
        return visitor.sign_in_first("/saved");
    };
    let caller = login.caller(visitor.address);
    let page = match visitor
        .api()
        .saved(caller, query.cursor.as_deref(), PAGE_SIZE)
        .await
    {
        Ok(page) => page,
        Err(failure) => return visitor.failed(&failure),
    };
    let events: Vec<EventItem> = page.items.iter().map(EventItem::from).collect();
    let more = page.next_cursor.map(|cursor| {
        let cursor: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        format!("/saved?cursor={cursor}")
    });
    visitor.render(
        StatusCode::OK,
        "saved.html",
        context! { title => "Saved events", events, item_level => 2, more },
    )
}
