//! Prompt catalog: WAV masters resampled and pre-encoded into every codec at load, looked up by language preference.
