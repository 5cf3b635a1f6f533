-- Stored files (call recordings): one row per file, kept with deleted_at when deleted.
CREATE TABLE files (
    id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    call_id TEXT NOT NULL,
    name TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size BIGINT NOT NULL DEFAULT 0,
    start_at BIGINT NOT NULL DEFAULT 0,
    stop_at BIGINT NOT NULL DEFAULT 0,
    path TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT NOT NULL DEFAULT 0,
    deleted_by BIGINT
);
CREATE INDEX files_call ON files (domain_id, call_id);
