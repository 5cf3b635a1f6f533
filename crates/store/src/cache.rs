//! Read cache of user rows for the single-node (SQLite) deployment, where this process makes
//! every write and can therefore invalidate exactly. With PostgreSQL other nodes write too, so
//! reads always go to the database.

use crate::users::UserRow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A cached row with the generation it was read at.
type Entry = (u64, Arc<UserRow>);

/// Entries are tagged with the directory generation seen *before* their read; any committed
/// write to users, devices or roles bumps the generation and so retires every older entry.
#[derive(Default)]
pub(crate) struct UserCache {
    generation: AtomicU64,
    rows: RwLock<HashMap<(i64, i64), Entry>>,
}

const MAX_ENTRIES: usize = 50_000;

impl UserCache {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, domain_id: i64, id: i64) -> Option<Arc<UserRow>> {
        let gen = self.generation();
        let rows = self.rows.read().unwrap_or_else(|e| e.into_inner());
        rows.get(&(domain_id, id))
            .filter(|(g, _)| *g == gen)
            .map(|(_, r)| r.clone())
    }

    pub fn put(&self, generation: u64, row: Arc<UserRow>) {
        let mut rows = self.rows.write().unwrap_or_else(|e| e.into_inner());
        if rows.len() >= MAX_ENTRIES {
            rows.clear();
        }
        rows.insert((row.domain_id, row.id), (generation, row));
    }

    /// Called after a write has committed.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.rows.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
