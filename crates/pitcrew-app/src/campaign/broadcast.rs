//! Broadcasts: a message to segments, its pre-launch checks, approval, and start, pause, resume and cancel.
