//! The catalogue's values. Each parses, so an event that breaks a rule cannot be built, whether it
//! came from a request or from the database.

mod geo;
mod place;
mod schedule;
mod text;
mod words;

pub use geo::{Coordinates, CoordinatesError, Radius, great_circle_km};
pub use place::{Place, PlaceError};
pub use schedule::{Schedule, ScheduleError};
pub use text::{Description, Organizer, Title, Topics};
pub use words::words;
