//! The data health report of a workspace.
