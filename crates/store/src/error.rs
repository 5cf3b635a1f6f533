use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was broken; names the field (e.g. `account`, `extension`).
    #[error("{field} {value:?} is already in use")]
    Conflict { field: &'static str, value: String },
    /// The request names something that cannot be used (unknown role, licence without seats…).
    #[error("{0}")]
    Invalid(String),
    /// The object is referenced by another and cannot go (`what` names it, e.g. `schema`).
    #[error("{detail}")]
    InUse { what: &'static str, detail: String },
    /// A sealed secret cannot be sealed or opened (no key, or not this key).
    #[error("secret: {0}")]
    Secret(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Maps a unique violation to a `Conflict` naming `field`; other errors pass through.
    pub(crate) fn unique(err: sqlx::Error, field: &'static str, value: &str) -> Self {
        if let Some(db) = err.as_database_error() {
            if db.is_unique_violation() {
                return StoreError::Conflict {
                    field,
                    value: value.to_string(),
                };
            }
        }
        StoreError::Db(err)
    }
}
