//! Segments: saving, versions, static lists, counts, previews, exports, membership and dependencies.
