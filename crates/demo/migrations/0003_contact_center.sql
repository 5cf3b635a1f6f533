-- The platform's contact-center agent of an SPA user ('' when none was asked for).
ALTER TABLE users ADD COLUMN agent_id TEXT NOT NULL DEFAULT '';

-- "The queue's number": what the demo made on the platform so that dialling `number` joins
-- the queue (a routing schema with joinQueue, and an outbound route to it), to undo it again.
CREATE TABLE queue_numbers (
    queue_id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    schema_id TEXT NOT NULL,
    route_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
