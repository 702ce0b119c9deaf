//! DTMF for selfprov: RFC 4733 telephone-events, in-band (Goertzel) detection, SIP INFO bodies, and one de-duplicated digit stream per call.
