//! The configured codecs as the SDP layer and the media engine name them, and the packet of
//! encoded silence each codec sends between prompts.

use selfprov_config::{CodecName, Config};
use selfprov_media::Codec;
use selfprov_sip::sdp::SdpCodec;
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) fn media_codec(c: SdpCodec) -> Codec {
    match c {
        SdpCodec::Pcmu => Codec::Pcmu,
        SdpCodec::Pcma => Codec::Pcma,
        SdpCodec::G722 => Codec::G722,
        SdpCodec::G729 => Codec::G729,
        SdpCodec::L16 => Codec::L16,
        SdpCodec::L16Narrowband => Codec::L16Narrowband,
        SdpCodec::Opus => Codec::Opus,
    }
}

/// The codec preference of the configuration, without codecs this build cannot encode.
pub(crate) fn sdp_codecs(cfg: &Config) -> Vec<SdpCodec> {
    cfg.raw
        .media
        .codecs
        .iter()
        .map(|c| match c {
            CodecName::PCMU => SdpCodec::Pcmu,
            CodecName::PCMA => SdpCodec::Pcma,
            CodecName::G722 => SdpCodec::G722,
            CodecName::G729 => SdpCodec::G729,
            CodecName::L16 => SdpCodec::L16,
            CodecName::L16Narrowband => SdpCodec::L16Narrowband,
            CodecName::OPUS => SdpCodec::Opus,
        })
        .filter(|c| media_codec(*c).is_enabled())
        .collect()
}

/// One packet of encoded silence for `codec` (what the pacer sends between prompts), made once
/// per codec and packet time and shared by every call.
pub(crate) fn silence_frame(codec: Codec, ptime_ms: u32) -> Option<Arc<[u8]>> {
    use std::sync::{Mutex, OnceLock};
    type Frames = HashMap<(Codec, u32), Arc<[u8]>>;
    static FRAMES: OnceLock<Mutex<Frames>> = OnceLock::new();
    let frames = FRAMES.get_or_init(Default::default);
    let mut f = frames.lock().ok()?;
    if let Some(x) = f.get(&(codec, ptime_ms)) {
        return Some(x.clone());
    }
    let mut out = Vec::new();
    selfprov_media::Encoder::new(codec)
        .ok()?
        .encode(&vec![0i16; codec.samples_per_frame(ptime_ms)], &mut out)
        .ok()?;
    let frame: Arc<[u8]> = out.into();
    f.insert((codec, ptime_ms), frame.clone());
    Some(frame)
}
