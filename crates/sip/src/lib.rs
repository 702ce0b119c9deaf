//! SIP signalling for selfprov: transports, RFC 3261 transactions, route-point registration, UAS call handling and SDP offer/answer.
