//! The words a text search matches, as the catalogue's text index (`catalogue/text.rs`) takes
//! them from an event's title and description, and from a query.

/// Shortest word kept; shorter ones ("a", "y", "de") match too much to narrow a search.
const MIN_WORD_CHARS: usize = 2;
/// Most distinct words kept per event, so a long description cannot bloat the index.
const MAX_WORDS: usize = 300;

/// The distinct lower-cased alphanumeric words of `texts`, in order of first appearance.
pub fn words<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for text in texts {
        for word in text.split(|c: char| !c.is_alphanumeric()) {
            if word.chars().count() < MIN_WORD_CHARS {
                continue;
            }
            let word = word.to_lowercase();
            if !words.contains(&word) {
                words.push(word);
                if words.len() == MAX_WORDS {
                    return words;
                }
            }
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_split_on_punctuation_and_deduplicated() {
        assert_eq!(
            words(["Jazz & Tapas: jazz night", "Música en vivo, ¡gratis!"]),
            ["jazz", "tapas", "night", "música", "en", "vivo", "gratis"]
        );
    }

    #[test]
    fn a_query_of_only_short_words_has_none() {
        assert!(words(["a y o"]).is_empty());
    }
}
