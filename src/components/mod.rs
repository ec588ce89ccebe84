//! Reusable UI pieces.
pub mod nav;
pub mod session_live;
pub mod time;
