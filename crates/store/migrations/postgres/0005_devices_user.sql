-- A user's devices are listed with every read of the user (and so with every SIP
-- authentication): without this index that was a scan of all devices.
CREATE INDEX devices_user ON devices (user_id);
