//! Media engine: RTP streams and pacing, codecs, DTMF detection and the prompt catalog.
