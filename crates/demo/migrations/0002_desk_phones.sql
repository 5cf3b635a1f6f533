-- An SPA user's phone: 'web' (the browser's, registered by webitel-sdk) or 'sip' (a hardware
-- desk phone the administrator configures with the SIP settings shown once at creation).
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT 'web';
-- The device's SIP digest user name, to show the phone's settings again (never the password).
ALTER TABLE users ADD COLUMN device_account TEXT NOT NULL DEFAULT '';
