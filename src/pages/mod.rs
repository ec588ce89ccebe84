//! The pages. Each is a component rendered by the router in [`crate::app`].
pub mod about;
pub mod admin;
pub mod auth_error;
pub mod home;
pub mod not_found;
pub mod profile;
pub mod reports;
pub mod sensitive;
pub mod sign_in;
