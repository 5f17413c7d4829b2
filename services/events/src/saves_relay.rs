//! Saves as a source of the common relay (`common::relay`): each change of a save is announced
//! as `event.save_changed.v1` with the save's state when it is published, so a consumer that
//! applies the newest (`changed_at`) holds what the user saved. See `store/saved.rs`.

use chrono::Utc;
use common::{
    messages::{self, EventSaveChangedV1},
    relay::{self, Outgoing, Pending, Source, Step},
    store::{StoreError, StoreResult},
    topology::Exchange,
};

use crate::store::{SavedDoc, Store};

/// The relay of this service's saves.
pub type SavesRelay = relay::Relay<SaveLog>;

/// The `saved` collection, seen by the relay.
#[derive(Clone)]
pub struct SaveLog {
    pub store: Store,
}

impl Source for SaveLog {
    type Entry = SavedDoc;

    async fn pending(&self, which: Pending, limit: usize) -> StoreResult<Vec<SavedDoc>> {
        self.store.unannounced_saves(which, limit).await
    }

    fn recorded_at(save: &SavedDoc) -> chrono::DateTime<Utc> {
        save.changed_at.unwrap_or(save.saved_at).to_chrono()
    }

    fn id(save: &SavedDoc) -> String {
        save.id.clone()
    }

    async fn prepare(&self, save: &SavedDoc) -> StoreResult<Step> {
        // The event as it is now: a change since the save was recorded is then in the message
        // too (and its own `event.updated` follows).
        let event = match save.removed {
            true => None,
            false => self.store.event(save.event_id).await?,
        };
        let changed = EventSaveChangedV1 {
            user_id: save.user_id,
            event_id: save.event_id,
            saved: !save.removed && event.is_some(),
            event: event.map(|event| event.summary()),
            changed_at: Self::recorded_at(save),
        };
        let body = serde_json::to_value(&changed).map_err(|err| StoreError::Other(err.into()))?;
        Ok(Step::Publish(vec![Outgoing {
            exchange: Exchange::Domain,
            routing_key: messages::EVENT_SAVE_CHANGED_V1.to_owned(),
            message_id: format!("save-{}-{}", save.id, changed.changed_at.timestamp_millis()),
            body,
            request_id: None,
        }]))
    }

    async fn done(&self, save: &SavedDoc) -> StoreResult<()> {
        self.store.mark_save_announced(save).await
    }

    async fn park(&self, save: &SavedDoc, reason: String) -> StoreResult<()> {
        self.store.park_save(save, reason).await
    }
}
