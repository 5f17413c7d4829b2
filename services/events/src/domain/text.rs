//! Free text an event carries, each with its limits, and its topic list.

use common::domain::{DomainError, Topic};
use serde::{Deserialize, Serialize};

common::bounded_text!(
    /// What the event is called: 1 to 120 characters on one line (it goes into mail subjects).
    Title, min = 1, max = 120, one_line
);
common::bounded_text!(
    /// What happens there: up to 4,000 characters, may be empty.
    Description, min = 0, max = 4000
);
common::bounded_text!(
    /// Who runs it: 1 to 120 characters on one line.
    Organizer, min = 1, max = 120, one_line
);

/// The topics an event is listed under: at most [`Topics::MAX`], each once, in the given order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<Topic>", into = "Vec<Topic>")]
pub struct Topics(Vec<Topic>);

impl Topics {
    /// Most topics an event may have.
    pub const MAX: usize = 10;

    /// Drops repeats; refuses more than [`Topics::MAX`].
    pub fn parse(topics: Vec<Topic>) -> Result<Self, DomainError> {
        let mut unique: Vec<Topic> = Vec::with_capacity(topics.len());
        for topic in topics {
            if !unique.contains(&topic) {
                unique.push(topic);
            }
        }
        if unique.len() > Self::MAX {
            return Err(DomainError::TooMany { max: Self::MAX });
        }
        Ok(Self(unique))
    }

    /// The topics.
    pub fn as_slice(&self) -> &[Topic] {
        &self.0
    }
}

impl TryFrom<Vec<Topic>> for Topics {
    type Error = DomainError;

    fn try_from(topics: Vec<Topic>) -> Result<Self, Self::Error> {
        Self::parse(topics)
    }
}

impl From<Topics> for Vec<Topic> {
    fn from(topics: Topics) -> Self {
        topics.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(
            Title::parse("  Jazz night ").unwrap().as_str(),
            "Jazz night"
        );
        assert_eq!(Title::parse("   "), Err(DomainError::Empty));
        assert_eq!(
            Title::parse(&"é".repeat(120))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            120
        );
        assert_eq!(
            Title::parse(&"é".repeat(121)),
            Err(DomainError::TooLong { max: 120 })
        );
    }

    #[test]
    fn a_description_may_be_empty_but_not_endless() {
        assert_eq!(Description::parse("").unwrap().as_str(), "");
        assert!(Description::parse(&"a".repeat(4001)).is_err());
    }

    #[test]
    fn topics_drop_repeats_and_refuse_more_than_ten() {
        let topic = |s: &str| Topic::parse(s).unwrap();
        let parsed = Topics::parse(vec![topic("jazz"), topic("food"), topic("jazz")]).unwrap();
        assert_eq!(parsed.as_slice(), &[topic("jazz"), topic("food")]);
        let eleven = (0..11).map(|i| topic(&format!("t{i}"))).collect();
        assert_eq!(Topics::parse(eleven), Err(DomainError::TooMany { max: 10 }));
    }
}
