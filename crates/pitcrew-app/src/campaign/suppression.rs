//! Suppression lists: addresses that must not be mailed, globally or for one topic.
