//! libopus, the system library (Debian's `libopus-dev`, found through pkg-config by
//! `audiopus_sys`), behind a small safe wrapper: an encoder and a decoder of mono 16-bit PCM.
//!
//! The transcoder runs them at 8 kHz: libopus decodes any Opus packet straight to 8 kHz and
//! encodes from 8 kHz input, so Opus↔G.711 needs no resampler (RFC 7587 timestamps stay at
//! 48 kHz whatever the PCM rate). The defaults ([`OpusEncoder::voip`]) follow the cost figures
//! in SIP-NOTES §3: complexity 5 costs ~64 µs per 20 ms frame against ~125 µs at libopus's
//! default 10.

use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_int;
use std::ptr::NonNull;

use audiopus_sys as ffi;

/// Encoder complexity (0–10). 5 is the ceiling the server affords per transcoded call.
pub const COMPLEXITY: i32 = 5;
/// Bit rate of the Opus we encode (narrowband speech with in-band FEC fits well within it).
pub const BITRATE: i32 = 24_000;
/// Loss the encoder plans its in-band FEC for: a few percent makes SILK add LBRR frames.
pub const EXPECTED_LOSS_PERCENT: i32 = 5;
/// The largest Opus packet (RFC 6716 §3.2.1: 1275 bytes a frame; with code-3 framing more).
pub const MAX_PACKET: usize = 1500;

/// A libopus error code, with its message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodecError(pub i32);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: opus_strerror returns a pointer to a static NUL-terminated string for any code.
        let msg = unsafe { CStr::from_ptr(ffi::opus_strerror(self.0)) };
        write!(f, "libopus: {} ({})", msg.to_string_lossy(), self.0)
    }
}

impl fmt::Debug for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for CodecError {}

fn check(code: c_int) -> Result<usize, CodecError> {
    usize::try_from(code).map_err(|_| CodecError(code))
}

/// The sample rates libopus takes for PCM.
fn valid_rate(rate: u32) -> Result<i32, CodecError> {
    match rate {
        8000 | 12_000 | 16_000 | 24_000 | 48_000 => Ok(rate as i32),
        _ => Err(CodecError(ffi::OPUS_BAD_ARG)),
    }
}

/// An Opus encoder of mono PCM.
pub struct OpusEncoder {
    ptr: NonNull<ffi::OpusEncoder>,
    rate: u32,
}

// SAFETY: the encoder state is plain memory owned by this value; libopus keeps no thread-local
// or shared state for it, so moving it to another thread is sound (it is not `Sync`).
unsafe impl Send for OpusEncoder {}

impl OpusEncoder {
    /// A VOIP encoder at `rate` Hz with libopus's defaults.
    pub fn new(rate: u32) -> Result<Self, CodecError> {
        let fs = valid_rate(rate)?;
        let mut err: c_int = 0;
        // SAFETY: valid arguments; `err` outlives the call.
        let p = unsafe { ffi::opus_encoder_create(fs, 1, ffi::OPUS_APPLICATION_VOIP, &mut err) };
        check(err)?;
        let ptr = NonNull::new(p).ok_or(CodecError(ffi::OPUS_ALLOC_FAIL))?;
        Ok(OpusEncoder { ptr, rate })
    }

    /// The server's speech encoder: VOIP, voice signal, [`COMPLEXITY`], [`BITRATE`] VBR,
    /// in-band FEC planned for [`EXPECTED_LOSS_PERCENT`] loss, no DTX.
    pub fn voip(rate: u32) -> Result<Self, CodecError> {
        let mut e = Self::new(rate)?;
        e.ctl(ffi::OPUS_SET_COMPLEXITY_REQUEST, COMPLEXITY)?;
        e.ctl(ffi::OPUS_SET_BITRATE_REQUEST, BITRATE)?;
        e.ctl(ffi::OPUS_SET_SIGNAL_REQUEST, ffi::OPUS_SIGNAL_VOICE)?;
        e.ctl(ffi::OPUS_SET_INBAND_FEC_REQUEST, 1)?;
        e.ctl(
            ffi::OPUS_SET_PACKET_LOSS_PERC_REQUEST,
            EXPECTED_LOSS_PERCENT,
        )?;
        Ok(e)
    }

    fn ctl(&mut self, request: i32, value: i32) -> Result<(), CodecError> {
        // SAFETY: every request passed here is a SET request taking one opus_int32.
        let r = unsafe { ffi::opus_encoder_ctl(self.ptr.as_ptr(), request, value as c_int) };
        check(r).map(drop)
    }

    pub fn set_bitrate(&mut self, bits_per_second: i32) -> Result<(), CodecError> {
        self.ctl(ffi::OPUS_SET_BITRATE_REQUEST, bits_per_second)
    }

    pub fn set_complexity(&mut self, complexity: i32) -> Result<(), CodecError> {
        self.ctl(ffi::OPUS_SET_COMPLEXITY_REQUEST, complexity)
    }

    pub fn set_inband_fec(&mut self, on: bool) -> Result<(), CodecError> {
        self.ctl(ffi::OPUS_SET_INBAND_FEC_REQUEST, on as i32)
    }

    pub fn set_packet_loss_percent(&mut self, percent: i32) -> Result<(), CodecError> {
        self.ctl(ffi::OPUS_SET_PACKET_LOSS_PERC_REQUEST, percent)
    }

    /// The PCM rate this encoder takes.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Encodes one frame (2.5–60 ms of samples at the encoder's rate) into `out`; returns the
    /// packet's length.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        let frame = c_int::try_from(pcm.len()).map_err(|_| CodecError(ffi::OPUS_BAD_ARG))?;
        let cap = i32::try_from(out.len()).unwrap_or(i32::MAX);
        // SAFETY: `pcm` holds `frame` samples (mono) and `out` holds `cap` bytes.
        let n = unsafe {
            ffi::opus_encode(
                self.ptr.as_ptr(),
                pcm.as_ptr(),
                frame,
                out.as_mut_ptr(),
                cap,
            )
        };
        check(n)
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create, destroyed once.
        unsafe { ffi::opus_encoder_destroy(self.ptr.as_ptr()) }
    }
}

/// An Opus decoder to mono PCM.
pub struct OpusDecoder {
    ptr: NonNull<ffi::OpusDecoder>,
    rate: u32,
}

// SAFETY: as for the encoder: owned plain memory, no shared state.
unsafe impl Send for OpusDecoder {}

impl OpusDecoder {
    /// A decoder producing mono PCM at `rate` Hz (8 kHz for G.711: no resampler needed).
    pub fn new(rate: u32) -> Result<Self, CodecError> {
        let fs = valid_rate(rate)?;
        let mut err: c_int = 0;
        // SAFETY: valid arguments; `err` outlives the call.
        let p = unsafe { ffi::opus_decoder_create(fs, 1, &mut err) };
        check(err)?;
        let ptr = NonNull::new(p).ok_or(CodecError(ffi::OPUS_ALLOC_FAIL))?;
        Ok(OpusDecoder { ptr, rate })
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    fn raw(
        &mut self,
        data: Option<&[u8]>,
        out: &mut [i16],
        fec: bool,
    ) -> Result<usize, CodecError> {
        let frame = c_int::try_from(out.len()).map_err(|_| CodecError(ffi::OPUS_BAD_ARG))?;
        let (ptr, len) = match data {
            Some(d) => (d.as_ptr(), i32::try_from(d.len()).unwrap_or(i32::MAX)),
            None => (std::ptr::null(), 0),
        };
        // SAFETY: `data` (or null, meaning a lost packet) holds `len` bytes and `out` holds
        // `frame` mono samples.
        let n = unsafe {
            ffi::opus_decode(
                self.ptr.as_ptr(),
                ptr,
                len,
                out.as_mut_ptr(),
                frame,
                fec as c_int,
            )
        };
        check(n)
    }

    /// Decodes a packet into `out` (room for up to 120 ms); returns the samples written.
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        self.raw(Some(packet), out, false)
    }

    /// Packet-loss concealment: fills all of `out` (a multiple of 2.5 ms) for a lost packet.
    pub fn conceal(&mut self, out: &mut [i16]) -> Result<usize, CodecError> {
        self.raw(None, out, false)
    }

    /// The lost packet before `next`, from `next`'s in-band FEC (plain concealment when it
    /// has none): fills all of `out`, the lost packet's duration.
    pub fn decode_fec(&mut self, next: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        self.raw(Some(next), out, true)
    }

    /// Forgets the stream decoded so far (a new source starts).
    pub fn reset(&mut self) {
        // SAFETY: OPUS_RESET_STATE takes no argument.
        unsafe { ffi::opus_decoder_ctl(self.ptr.as_ptr(), ffi::OPUS_RESET_STATE) };
    }
}

impl Drop for OpusDecoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create, destroyed once.
        unsafe { ffi::opus_decoder_destroy(self.ptr.as_ptr()) }
    }
}

/// Samples in an Opus packet at `rate` Hz, from its TOC (and frame count); `None` if malformed.
pub fn packet_samples(packet: &[u8], rate: u32) -> Option<usize> {
    let len = i32::try_from(packet.len()).ok()?;
    if len == 0 {
        return None;
    }
    // SAFETY: `packet` holds `len` bytes.
    let n = unsafe { ffi::opus_packet_get_nb_samples(packet.as_ptr(), len, rate as i32) };
    usize::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_8khz_speech_and_decodes_it_back_at_8khz() {
        let mut enc = OpusEncoder::voip(8000).unwrap();
        let mut dec = OpusDecoder::new(8000).unwrap();
        let mut out = [0u8; MAX_PACKET];
        let mut pcm = [0i16; 960];
        let mut energy = 0f64;
        let mut last = 0;
        for f in 0..50 {
            let frame: Vec<i16> = (0..160)
                .map(|i| {
                    let t = (f * 160 + i) as f64 / 8000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
                })
                .collect();
            let n = enc.encode(&frame, &mut out).unwrap();
            assert!(n > 2 && n < 200, "{n} bytes");
            last = n;
            assert_eq!(packet_samples(&out[..n], 48_000), Some(960));
            let got = dec.decode(&out[..n], &mut pcm).unwrap();
            assert_eq!(got, 160);
            if f > 10 {
                energy += pcm[..got]
                    .iter()
                    .map(|&s| f64::from(s).powi(2))
                    .sum::<f64>();
            }
        }
        let rms = (energy / (39.0 * 160.0)).sqrt();
        assert!((4500.0..7000.0).contains(&rms), "rms {rms}");
        // A lost frame is concealed, and FEC recovers from the next packet.
        assert_eq!(dec.conceal(&mut pcm[..160]).unwrap(), 160);
        assert_eq!(dec.decode_fec(&out[..last], &mut pcm[..160]).unwrap(), 160);
        dec.reset();
        assert!(OpusDecoder::new(44_100).is_err());
        assert!(CodecError(ffi::OPUS_BAD_ARG)
            .to_string()
            .contains("libopus"));
    }
}
