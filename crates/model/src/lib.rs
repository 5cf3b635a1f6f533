//! Webitel-shaped wire types. Field names, nesting and encodings (int64 as strings, epoch-ms
//! timestamps) follow Webitel's published API so that an SPA written for Webitel works unchanged.
//! No I/O lives here.

pub mod auth;
pub mod calls;
pub mod directory;
pub mod error;
pub mod list;
pub mod wire;

pub use auth::*;
pub use calls::{CallFile, Endpoint, HistoryCall};
pub use directory::*;
pub use error::AppError;
pub use list::ListResponse;
pub use wire::{Lookup, ObjectId};
