//! What the API shows of live SIP registrations (`reged`, `/devices/{id}/registered`). The
//! telephony runtime keeps them in memory and answers without a database round trip.

use switchboard_model::Registration;

pub trait Presence: Send + Sync + 'static {
    /// The live registrations of a device.
    fn device_registrations(&self, domain_id: i64, device_id: i64) -> Vec<Registration>;
    /// Whether the device has at least one live registration.
    fn device_registered(&self, domain_id: i64, device_id: i64) -> bool;
}

/// No SIP registrar in this process: nothing is registered.
#[derive(Debug, Default)]
pub struct NoPresence;

impl Presence for NoPresence {
    fn device_registrations(&self, _: i64, _: i64) -> Vec<Registration> {
        Vec::new()
    }

    fn device_registered(&self, _: i64, _: i64) -> bool {
        false
    }
}
