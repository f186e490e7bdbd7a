//! Signed tokens for tracking, unsubscribe and preference links: unguessable, and useless once altered.
