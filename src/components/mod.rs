//! Reusable UI pieces.
pub mod nav;
pub mod time;
