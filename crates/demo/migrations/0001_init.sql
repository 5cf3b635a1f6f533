-- The demo's own data, kept apart from the platform's store.
CREATE TABLE admin (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL
);

-- One row: the four settings of the integration guide (plus whether browsers use STUN).
CREATE TABLE settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    rest_endpoint TEXT NOT NULL,
    ws_endpoint TEXT NOT NULL,
    integration_token TEXT NOT NULL,
    domain TEXT NOT NULL,
    use_stun INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

-- SPA users: the demo's own login, and the three things the guide says to keep.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    extension TEXT NOT NULL UNIQUE,
    license TEXT NOT NULL DEFAULT '',
    -- Asked for at creation; the agent itself is created once the contact-center API exists.
    create_agent INTEGER NOT NULL DEFAULT 0,
    platform_user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    user_token TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    -- NULL: the demo's administrator; otherwise the SPA user.
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
