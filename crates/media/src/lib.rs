//! Media engine of selfprov: codecs ([`codec`], with hand-written G.711 in [`g711`] and G.722 in
//! [`g722`]) and RTP packet handling ([`rtp`]: outbound streams with correct sequence numbers,
//! timestamps and SSRC, defensive parsing of inbound packets), which packets are the caller's ([`latch`]), and the hot
//! path: one [`pacer`] driving every stream from one clock, sending with batched `sendmmsg`
//! ([`net`]).

pub mod codec;
pub mod engine;
pub mod g711;
pub mod g722;
pub mod latch;
pub mod net;
pub mod pacer;
pub mod rtp;

pub use codec::{Codec, CodecError, Decoder, Encoder};
pub use latch::Latching;
