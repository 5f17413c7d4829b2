//! The visitor's own lists of events: those they saved, and those recommended to them.

use minijinja::context;
use poem::{Response, handler, http::StatusCode, web::Query};
use serde::Deserialize;

use super::{Visitor, discover::EventItem};

/// Events per page.
const PAGE_SIZE: u32 = 20;

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

/// Which list.
#[derive(Clone, Copy)]
enum List {
    Saved,
    Recommended,
}

impl List {
    fn path(self) -> &'static str {
        match self {
            Self::Saved => "/saved",
            Self::Recommended => "/recommended",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Saved => "Saved events",
            Self::Recommended => "Recommended for you",
        }
    }
}

#[handler]
pub async fn saved(visitor: Visitor, Query(query): Query<ListQuery>) -> Response {
    list(&visitor, List::Saved, query).await
}

#[handler]
pub async fn recommended(visitor: Visitor, Query(query): Query<ListQuery>) -> Response {
    list(&visitor, List::Recommended, query).await
}

async fn list(visitor: &Visitor, list: List, query: ListQuery) -> Response {
    let Some(login) = &visitor.login else {
        return visitor.sign_in_first(list.path());
    };
    let caller = login.caller(visitor.address);
    let cursor = query.cursor.as_deref();
    let page = match list {
        List::Saved => visitor.api().saved(caller, cursor, PAGE_SIZE).await,
        List::Recommended => visitor.api().recommended(caller, cursor, PAGE_SIZE).await,
    };
    let page = match page {
        Ok(page) => page,
        Err(failure) => return visitor.failed(&failure),
    };
    let events: Vec<EventItem> = page.items.iter().map(EventItem::from).collect();
    let more = page.next_cursor.map(|cursor| {
        let cursor: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        format!("{}?cursor={cursor}", list.path())
    });
    let template = match list {
        List::Saved => "saved.html",
        List::Recommended => "recommended.html",
    };
    visitor.render(
        StatusCode::OK,
        template,
        context! { title => list.title(), events, item_level => 2, more },
    )
}
