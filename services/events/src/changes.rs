//! The catalogue's change messages, version 2: the whole event on creation and replacement, the
//! version on deletion, so every instance can keep its catalogue without asking the database.
//! Built from a recorded version (for the writer and for the relay alike) and read back into a
//! catalogue change.

use std::sync::Arc;

use common::{
    domain::DomainError,
    messages::{self, EventChangedV2, EventRemovedV2, EventV2, PlaceV2},
    relay::Outgoing,
    topology::Exchange,
};

use crate::{
    catalogue::Change,
    domain::{Description, Organizer, Title, Topics},
    store::{self, EventDoc, PlaceDoc, VersionDoc},
};

/// The routing keys an instance follows.
pub const FOLLOWED: [&str; 3] = [
    messages::EVENT_CREATED_V2,
    messages::EVENT_UPDATED_V2,
    messages::EVENT_DELETED_V2,
];

/// The v2 message announcing `version`, with its message id.
pub fn announcement(version: &VersionDoc) -> serde_json::Result<Outgoing> {
    let (routing_key, body) = match (&version.event, version.change) {
        (Some(event), store::Change::Created) => (
            messages::EVENT_CREATED_V2,
            serde_json::to_value(EventChangedV2 {
                event: to_wire(event),
            })?,
        ),
        (Some(event), _) => (
            messages::EVENT_UPDATED_V2,
            serde_json::to_value(EventChangedV2 {
                event: to_wire(event),
            })?,
        ),
        (None, _) => (
            messages::EVENT_DELETED_V2,
            serde_json::to_value(EventRemovedV2 {
                event_id: version.event_id,
                version: version.version,
                deleted_at: version.at.to_chrono(),
            })?,
        ),
    };
    Ok(Outgoing {
        exchange: Exchange::Domain,
        routing_key: routing_key.to_owned(),
        message_id: format!("event-{}-v{}.v2", version.event_id, version.version),
        body,
        request_id: version.request_id(),
    })
}

/// What `version` does to a catalogue.
pub fn catalogue_change(version: &VersionDoc) -> Change {
    match &version.event {
        Some(event) => Change::Put(Arc::new(event.clone())),
        None => Change::Remove {
            id: version.event_id,
            version: version.version,
        },
    }
}

/// The catalogue change a v2 message with `routing_key` and `body` says, if it is one.
pub fn change(routing_key: &str, body: &[u8]) -> anyhow::Result<Option<Change>> {
    Ok(match routing_key {
        messages::EVENT_CREATED_V2 | messages::EVENT_UPDATED_V2 => {
            let changed: EventChangedV2 = serde_json::from_slice(body)?;
            Some(Change::Put(Arc::new(from_wire(changed.event)?)))
        }
        messages::EVENT_DELETED_V2 => {
            let removed: EventRemovedV2 = serde_json::from_slice(body)?;
            Some(Change::Remove {
                id: removed.event_id,
                version: removed.version,
            })
        }
        _ => None,
    })
}

fn to_wire(event: &EventDoc) -> EventV2 {
    EventV2 {
        id: event.id,
        title: event.title.as_str().to_owned(),
        description: event.description.as_str().to_owned(),
        starts_at: event.starts_at.to_chrono(),
        ends_at: event.ends_at.map(|t| t.to_chrono()),
        timezone: event.timezone,
        place: PlaceV2 {
            name: event.place.name.clone(),
            address: event.place.address.clone(),
            lat: event.place.lat,
            lon: event.place.lon,
        },
        organizer: event.organizer.as_ref().map(|o| o.as_str().to_owned()),
        topics: event.topics.as_slice().to_vec(),
        created_at: event.created_at.to_chrono(),
        updated_at: event.updated_at.to_chrono(),
        version: event.version,
    }
}

fn from_wire(event: EventV2) -> Result<EventDoc, DomainError> {
    let title = Title::parse(&event.title)?;
    let description = Description::parse(&event.description)?;
    Ok(EventDoc {
        id: event.id,
        title,
        description,
        starts_at: mongodb::bson::DateTime::from_chrono(event.starts_at),
        ends_at: event.ends_at.map(mongodb::bson::DateTime::from_chrono),
        timezone: event.timezone,
        place: PlaceDoc {
            name: event.place.name,
            address: event.place.address,
            lat: event.place.lat,
            lon: event.place.lon,
        },
        organizer: event
            .organizer
            .as_deref()
            .map(Organizer::parse)
            .transpose()?,
        topics: Topics::parse(event.topics)?,
        created_at: mongodb::bson::DateTime::from_chrono(event.created_at),
        updated_at: mongodb::bson::DateTime::from_chrono(event.updated_at),
        version: event.version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::tests::event;

    #[test]
    fn a_change_travels_whole_and_comes_back_the_same() {
        let doc = event(common::domain::EventId::new(), 4, 3);
        let version = VersionDoc::new(store::Change::Updated, doc.id, 4, Some(doc.clone()), None);
        let message = announcement(&version).unwrap();
        assert_eq!(message.routing_key, "event.updated.v2");
        let body = serde_json::to_vec(&message.body).unwrap();
        assert_eq!(
            change(&message.routing_key, &body).unwrap(),
            Some(Change::Put(Arc::new(doc)))
        );
    }

    #[test]
    fn a_deletion_carries_its_version() {
        let id = common::domain::EventId::new();
        let version = VersionDoc::new(store::Change::Deleted, id, 5, None, None);
        let message = announcement(&version).unwrap();
        let body = serde_json::to_vec(&message.body).unwrap();
        assert_eq!(
            change("event.deleted.v2", &body).unwrap(),
            Some(Change::Remove { id, version: 5 })
        );
    }
}
